/* SPDX-License-Identifier: GPL-2.0-or-later */
/* inspect_system(): reads the facts from each source in turn, and the
 * helpers those sources share. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>

#include "inspect/inspect-internal.h"
#include "util/fileio.h"
#include "util/strutil.h"

char *ictx_path(const struct inspect_ctx *c, const char *path) {
        return path_join(c->root, path);
}

int ictx_read_file(const struct inspect_ctx *c, const char *path, char **ret) {
        _cleanup_free_ char *p = ictx_path(c, path);
        if (!p)
                return -ENOMEM;
        return read_full_file(p, 16 << 20, ret, NULL);
}

int ictx_read_line(const struct inspect_ctx *c, const char *path, char **ret) {
        _cleanup_free_ char *p = ictx_path(c, path);
        if (!p)
                return -ENOMEM;
        return read_one_line_file(p, ret);
}

int ictx_fail(struct inspect_ctx *c, int r, const char *format, ...) {
        va_list ap;
        char *m = NULL;

        if (r >= 0)
                r = -EIO;
        if (c->error)
                return r;

        /* %m in the format means strerror(-r), as in the logging functions. */
        errno = -r;
        va_start(ap, format);
        if (vasprintf(&m, format, ap) < 0)
                m = NULL;
        va_end(ap);
        c->error = m;
        return r;
}

void *array_append(void **array, size_t *n, size_t elem_size) {
        char *a = realloc(*array, (*n + 1) * elem_size);
        if (!a)
                return NULL;
        memset(a + *n * elem_size, 0, elem_size);
        *array = a;
        return a + (*n)++ * elem_size;
}

int read_attr(const char *dir, const char *file, char **ret) {
        _cleanup_free_ char *p = NULL;
        if (asprintf(&p, "%s/%s", dir, file) < 0)
                return -ENOMEM;
        int r = read_one_line_file(p, ret);
        if (r >= 0)
                strstrip_trailing(*ret);
        return r;
}

int read_attr_u64(const char *dir, const char *file, uint64_t *ret) {
        _cleanup_free_ char *s = NULL;
        char *end;
        int r = read_attr(dir, file, &s);
        if (r < 0)
                return r;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || end == s)
                return -EINVAL;
        *ret = v;
        return 0;
}

int strdup_to(char **dst, const char *s) {
        char *n = NULL;
        if (s && !(n = strdup(s)))
                return -ENOMEM;
        free(*dst);
        *dst = n;
        return 0;
}

char *uuid_to_mdadm(const char *uuid) {
        char hex[33], *r;
        size_t n = 0;

        for (const char *p = uuid; p && *p; p++) {
                if (*p == '-' || *p == ':')
                        continue;
                if (!isxdigit((unsigned char) *p) || n >= 32)
                        return NULL;
                hex[n++] = (char) tolower((unsigned char) *p);
        }
        if (n != 32)
                return NULL;
        hex[32] = 0;
        if (asprintf(&r, "%.8s:%.8s:%.8s:%.8s", hex, hex + 8, hex + 16, hex + 24) < 0)
                return NULL;
        return r;
}

struct blockdev *inspect_resolve(const struct facts *f, const char *spec) {
        static const struct {
                const char *tag;
                size_t offset;
        } tags[] = {
                { "UUID=", offsetof(struct blockdev, fs_uuid) },
                { "LABEL=", offsetof(struct blockdev, fs_label) },
                { "PARTUUID=", offsetof(struct blockdev, part_uuid) },
                { "PARTLABEL=", offsetof(struct blockdev, part_label) },
        };
        struct blockdev *d;

        if (isempty(spec))
                return NULL;

        for (size_t t = 0; t < ELEMENTSOF(tags); t++) {
                const char *v = startswith(spec, tags[t].tag);
                if (!v)
                        continue;
                /* Quotes are allowed around the value in fstab. */
                size_t l = strlen(v);
                if (l >= 2 && (v[0] == '"' || v[0] == '\'') && v[l - 1] == v[0]) {
                        v++;
                        l -= 2;
                }
                /* The first match wins: an md member carries its array's
                 * UUID too, and the array is listed after its members, so
                 * prefer a device whose content is not a RAID/LVM member. */
                struct blockdev *found = NULL;
                for (size_t i = 0; i < f->n_devices; i++) {
                        const char *val = *(char *const *) ((const char *) &f->devices[i] + tags[t].offset);
                        if (!val || strlen(val) != l || strncasecmp(val, v, l) != 0)
                                continue;
                        if (!found || streq_ptr(found->fstype, "linux_raid_member"))
                                found = &f->devices[i];
                }
                return found;
        }

        d = facts_find_device(f, spec);
        if (d)
                return d;

        /* /dev/VG/LV */
        for (size_t i = 0; i < f->n_lvs; i++)
                if (streq_ptr(f->lvs[i].path, spec) && f->lvs[i].kname)
                        return facts_find_kname(f, f->lvs[i].kname);
        return NULL;
}

int inspect_system(const struct inspect_options *opts, struct facts **ret_facts, char **ret_error) {
        static int (*const sources[])(struct inspect_ctx *c) = {
                inspect_sysfs,  /* first: defines the devices */
                inspect_probe,
                inspect_fdisk,
                inspect_md,
                inspect_luks,
                inspect_links,
                inspect_lvm,
                inspect_mounts,
                inspect_swaps,
                inspect_usage,
                inspect_boot,
        };
        struct inspect_ctx c = {};
        const char *root = opts ? opts->sysroot : NULL;
        int r;

        if (!ret_facts)
                return -EINVAL;

        c.live = isempty(root) || streq(root, "/");
        c.root = c.live ? "" : root;
        c.no_exec = (opts && opts->no_exec) || !c.live;
        c.f = calloc(1, sizeof(struct facts));
        if (!c.f)
                return -ENOMEM;
        if (!c.live && !(c.f->sysroot = strdup(root))) {
                facts_free(c.f);
                return -ENOMEM;
        }

        for (size_t i = 0; i < ELEMENTSOF(sources); i++) {
                r = sources[i](&c);
                if (r < 0) {
                        if (r == -ENOMEM && !c.error)
                                (void) ictx_fail(&c, r, "Out of memory while inspecting the system.");
                        if (ret_error)
                                *ret_error = TAKE_PTR(c.error);
                        free(c.error);
                        facts_free(c.f);
                        return r;
                }
        }

        free(c.error);
        *ret_facts = c.f;
        return 0;
}
