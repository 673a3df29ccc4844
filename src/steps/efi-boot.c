/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "steps/efi-boot.h"
#include "util/macro.h"
#include "util/strutil.h"

/* "BootXXXX* LABEL\tPATH" (or "BootXXXX  LABEL" when inactive, and no
 * path from efibootmgr 17 without -v): the number of the entry LABEL. */
static int find_entry(const char *listing, const char *label, char num[static 5]) {
        size_t n = strlen(label);
        bool any = false;
        for (const char *l = listing; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                if (strncmp(l, "Boot", 4) != 0 || strspn(l + 4, "0123456789abcdefABCDEF") != 4 || !l[8] || l[9] != ' ')
                        continue;
                any = true;
                const char *t = l + 10;
                if (strncmp(t, label, n) == 0 && strchr("\t\r\n", t[n])) {
                        memcpy(num, l + 4, 4);
                        num[4] = 0;
                        return 0;
                }
        }
        return any ? -ENOENT : -EBADMSG;
}

int efi_boot_order_place(const char *listing, const char *label, char **ret_num, char **ret_order) {
        _cleanup_free_ char *order = NULL, *current = NULL, *want = NULL;
        char num[5];
        int r;

        *ret_order = NULL;
        r = find_entry(listing, label, num);
        if (r < 0)
                return r;
        if (ret_num && !(*ret_num = strdup(num)))
                return -ENOMEM;
        order = line_field(listing, "BootOrder", ':');
        current = line_field(listing, "BootCurrent", ':');
        if (current && strcasecmp(current, num) == 0)
                return 0; /* it booted this machine: wherever it is, it is in place */

        /* BootOrder without NUM, NUM inserted after CURRENT (or last). */
        size_t len = (order ? strlen(order) : 0) + 6;
        bool placed = false;
        if (!(want = calloc(len, 1)))
                return -ENOMEM;
        for (const char *p = order ? order : ""; *p;) {
                size_t k = strcspn(p, ",");
                if (!(k == 4 && strncasecmp(p, num, 4) == 0)) {
                        if (*want)
                                strcat(want, ",");
                        strncat(want, p, k);
                        if (current && k == 4 && strncasecmp(p, current, 4) == 0) {
                                strcat(want, ",");
                                strcat(want, num);
                                placed = true;
                        }
                }
                p += k + (p[k] == ',');
        }
        if (!placed) {
                if (*want)
                        strcat(want, ",");
                strcat(want, num);
        }
        if (order && strcasecmp(order, want) == 0)
                return 0;
        *ret_order = TAKE_PTR(want);
        return 1;
}
