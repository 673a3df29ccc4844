/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What is mounted (mountinfo) and what should be (fstab, crypttab), with
 * libmount; swap areas from /proc/swaps; space used per filesystem. */
#include <ctype.h>
#include <libmount/libmount.h>
#include <stdio.h>
#include <sys/statvfs.h>

#include "inspect/inspect-internal.h"
#include "util/strutil.h"

static void mnt_unref_tablep(struct libmnt_table **t) {
        if (*t)
                mnt_unref_table(*t);
}
static void mnt_free_iterp(struct libmnt_iter **i) {
        if (*i)
                mnt_free_iter(*i);
}

/* A line that does not parse is skipped, as mount(8) does; the rest of
 * the file still describes the system. */
static int skip_bad_line(struct libmnt_table *tb, const char *filename, int line) {
        return 1;
}

static int parse_table(struct inspect_ctx *c, const char *path, bool fstab, struct libmnt_table **ret) {
        _cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
        _cleanup_free_ char *p = ictx_path(c, path);
        int r;

        if (!p || !(tb = mnt_new_table()))
                return -ENOMEM;
        (void) mnt_table_set_parser_errcb(tb, skip_bad_line); /* only fails for a NULL table */
        r = fstab ? mnt_table_parse_fstab(tb, p) : mnt_table_parse_file(tb, p);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(tb);
        return 0;
}

static int read_mountinfo(struct inspect_ctx *c) {
        _cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
        _cleanup_(mnt_free_iterp) struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
        struct libmnt_fs *fs;
        int r;

        if (!it)
                return -ENOMEM;
        r = parse_table(c, "/proc/self/mountinfo", false, &tb);
        if (r < 0)
                return ictx_fail(c, r, "Cannot parse %s/proc/self/mountinfo: %m", c->root);

        while (mnt_table_next_fs(tb, it, &fs) == 0) {
                struct mount_point *m;
                struct blockdev *d;

                /* proc, sysfs, tmpfs, cgroup...: nothing to migrate. */
                if (mnt_fs_is_pseudofs(fs))
                        continue;
                m = array_append((void **) &c->f->mounts, &c->f->n_mounts, sizeof(struct mount_point));
                if (!m)
                        return -ENOMEM;
                if ((r = strdup_to(&m->target, mnt_fs_get_target(fs))) < 0 ||
                    (r = strdup_to(&m->source, mnt_fs_get_source(fs))) < 0 ||
                    (r = strdup_to(&m->fstype, mnt_fs_get_fstype(fs))) < 0 ||
                    (r = strdup_to(&m->options, mnt_fs_get_options(fs))) < 0 ||
                    (r = strdup_to(&m->fs_root, mnt_fs_get_root(fs))) < 0)
                        return r;
                m->devnum = mnt_fs_get_devno(fs);

                /* btrfs reports an anonymous device number (0:xx), and
                 * "/dev/root" is not a real node: fall back to the source. */
                d = facts_find_devnum(c->f, m->devnum);
                if (!d)
                        d = inspect_resolve(c->f, m->source);
                if (d && (r = strdup_to(&m->kname, d->kname)) < 0)
                        return r;
        }
        return 0;
}

static int read_fstab(struct inspect_ctx *c) {
        _cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
        _cleanup_(mnt_free_iterp) struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
        _cleanup_free_ char *path = ictx_path(c, "/etc/fstab");
        struct libmnt_fs *fs;
        int r;

        if (!it || !path)
                return -ENOMEM;
        if (access(path, F_OK) < 0)
                return 0;       /* a system booted without fstab (all in the cmdline) */
        r = parse_table(c, "/etc/fstab", true, &tb);
        if (r < 0)
                return ictx_fail(c, r, "Cannot parse %s: %m", path);

        while (mnt_table_next_fs(tb, it, &fs) == 0) {
                struct fstab_entry *e = array_append((void **) &c->f->fstab, &c->f->n_fstab, sizeof(struct fstab_entry));
                if (!e)
                        return -ENOMEM;
                if ((r = strdup_to(&e->source, mnt_fs_get_source(fs))) < 0 ||
                    (r = strdup_to(&e->target, mnt_fs_get_target(fs))) < 0 ||
                    (r = strdup_to(&e->fstype, mnt_fs_get_fstype(fs))) < 0 ||
                    (r = strdup_to(&e->options, mnt_fs_get_options(fs))) < 0)
                        return r;
                e->freq = mnt_fs_get_freq(fs);
                e->passno = mnt_fs_get_passno(fs);
                struct blockdev *d = inspect_resolve(c->f, e->source);
                if (d && (r = strdup_to(&e->kname, d->kname)) < 0)
                        return r;
        }
        return 0;
}

/* crypttab(5): name, device, key file, options; the last two optional.
 * libmount has no parser for it. */
static int read_crypttab(struct inspect_ctx *c) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        int r;

        r = ictx_read_file(c, "/etc/crypttab", &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return ictx_fail(c, r, "Cannot read %s/etc/crypttab: %m", c->root);

        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *w[4] = {};
                char *sp = NULL;
                size_t n = 0;

                line += strspn(line, " \t");
                if (*line == '#' || *line == 0)
                        continue;
                for (char *t = strtok_r(line, " \t", &sp); t && n < 4; t = strtok_r(NULL, " \t", &sp))
                        w[n++] = t;
                if (n < 2)
                        continue;       /* a name alone is not an entry */

                struct crypttab_entry *e = array_append((void **) &c->f->crypttab, &c->f->n_crypttab,
                                                        sizeof(struct crypttab_entry));
                if (!e)
                        return -ENOMEM;
                if ((r = strdup_to(&e->name, w[0])) < 0 || (r = strdup_to(&e->source, w[1])) < 0 ||
                    (r = strdup_to(&e->keyfile, w[2] ? w[2] : "none")) < 0 ||
                    (r = strdup_to(&e->options, w[3])) < 0)
                        return r;
                struct blockdev *d = inspect_resolve(c->f, e->source);
                if (d && (r = strdup_to(&e->kname, d->kname)) < 0)
                        return r;
        }
        return 0;
}

int inspect_mounts(struct inspect_ctx *c) {
        int r = read_mountinfo(c);
        if (r >= 0)
                r = read_fstab(c);
        if (r >= 0)
                r = read_crypttab(c);
        return r;
}

/* /proc/swaps escapes blanks in file names as \040, like mountinfo. */
static void unescape_octal(char *s) {
        char *o = s;
        for (; *s; s++) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && isdigit((unsigned char) s[2]) &&
                    isdigit((unsigned char) s[3])) {
                        *o++ = (char) ((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
                        s += 3;
                } else
                        *o++ = *s;
        }
        *o = 0;
}

int inspect_swaps(struct inspect_ctx *c) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        int r;

        r = ictx_read_file(c, "/proc/swaps", &text);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return ictx_fail(c, r, "Cannot read %s/proc/swaps: %m", c->root);

        /* The first line is the header. */
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char name[4096], type[32];
                unsigned long long kib;

                if (startswith(line, "Filename"))
                        continue;
                if (sscanf(line, "%4095s %31s %llu", name, type, &kib) != 3)
                        continue;
                unescape_octal(name);

                struct swap_area *s = array_append((void **) &c->f->swaps, &c->f->n_swaps, sizeof(struct swap_area));
                if (!s)
                        return -ENOMEM;
                if ((r = strdup_to(&s->source, name)) < 0)
                        return r;
                s->size = kib * 1024;
                s->is_file = streq(type, "file");
                struct blockdev *d = s->is_file ? NULL : inspect_resolve(c->f, name);
                if (d && (r = strdup_to(&s->kname, d->kname)) < 0)
                        return r;
        }
        return 0;
}

/* Bytes in use on a mounted filesystem: statvfs() live; in a sysroot the
 * fixture says it in run/rootraid-fixture/usage ("<mountpoint> <bytes>"). */
static int fixture_usage(struct inspect_ctx *c, const char *target, uint64_t *ret) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        int r = ictx_read_file(c, "/run/rootraid-fixture/usage", &text);

        if (r < 0)
                return r;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char mp[4096];
                unsigned long long v;
                if (sscanf(line, "%4095s %llu", mp, &v) == 2 && streq(mp, target)) {
                        *ret = v;
                        return 0;
                }
        }
        return -ENOENT;
}

int inspect_usage(struct inspect_ctx *c) {
        for (size_t i = 0; i < c->f->n_mounts; i++) {
                const struct mount_point *m = &c->f->mounts[i];
                struct blockdev *d = facts_find_kname(c->f, m->kname);
                uint64_t used = 0;

                /* A filesystem mounted twice (btrfs subvolumes, binds)
                 * counts once: the first mount, usually the fullest view. */
                if (!d || d->fs_used > 0)
                        continue;
                if (c->live) {
                        struct statvfs sv;
                        if (statvfs(m->target, &sv) < 0)
                                continue;       /* a mount we may not enter: usage unknown */
                        used = (uint64_t) (sv.f_blocks - sv.f_bfree) * sv.f_frsize;
                } else {
                        int r = fixture_usage(c, m->target, &used);
                        if (r == -ENOMEM)
                                return r;
                        if (r < 0)
                                continue;
                }
                d->fs_used = used;
        }
        return 0;
}
