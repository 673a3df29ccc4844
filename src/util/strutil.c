/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/macro.h"
#include "util/strutil.h"

char **strv_free(char **l) {
        if (!l)
                return NULL;
        for (char **p = l; *p; p++)
                free(*p);
        free(l);
        return NULL;
}

size_t strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

int strv_extend(char ***l, const char *s) {
        size_t n = strv_length(*l);
        char *c = strdup(s);
        char **nl;
        if (!c)
                return -ENOMEM;
        nl = realloc(*l, sizeof(char *) * (n + 2));
        if (!nl) {
                free(c);
                return -ENOMEM;
        }
        nl[n] = c;
        nl[n + 1] = NULL;
        *l = nl;
        return 0;
}

int strv_contains(char *const *l, const char *s) {
        if (l)
                for (; *l; l++)
                        if (streq(*l, s))
                                return 1;
        return 0;
}

const char *format_bytes(char *buf, size_t l, uint64_t bytes) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double v = (double) bytes;
        size_t u = 0;
        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        if (u == 0)
                snprintf(buf, l, "%llu B", (unsigned long long) bytes);
        else
                snprintf(buf, l, "%.1f %s", v, units[u]);
        return buf;
}

int parse_size(const char *s, uint64_t *ret) {
        char *end;
        double v;
        uint64_t mult = 1;

        if (!s || !*s || *s == '-')
                return -EINVAL;
        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || v < 0 || !isfinite(v))
                return -EINVAL;
        switch (toupper((unsigned char) *end)) {
        case 0:
        case 'B':
                break;
        case 'K': mult = 1ULL << 10; break;
        case 'M': mult = 1ULL << 20; break;
        case 'G': mult = 1ULL << 30; break;
        case 'T': mult = 1ULL << 40; break;
        case 'P': mult = 1ULL << 50; break;
        default:
                return -EINVAL;
        }
        if (*end && toupper((unsigned char) *end) != 'B') {
                end++;
                if (*end == 'i')
                        end++;
                if (*end == 'B')
                        end++;
        } else if (*end)
                end++;
        if (*end)
                return -EINVAL;
        if (v * (double) mult >= 18446744073709551615.0)
                return -ERANGE;
        *ret = (uint64_t) (v * (double) mult);
        return 0;
}

char *line_field(const char *text, const char *key, char sep) {
        size_t k = strlen(key);
        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
                if (strncmp(l, key, k) == 0 && l[k] == sep) {
                        const char *v = l + k + 1;
                        v += strspn(v, " \t");
                        return strndup(v, strcspn(v, "\r\n"));
                }
        return NULL;
}

char *strstrip_trailing(char *s) {
        size_t l = strlen(s);
        while (l > 0 && isspace((unsigned char) s[l - 1]))
                s[--l] = 0;
        return s;
}
