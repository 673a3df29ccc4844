/* SPDX-License-Identifier: GPL-2.0-or-later */
/* copy_verify(): compares two trees entry by entry and reports every
 * difference.  Single-threaded and fd-based like the engine; the path
 * strings built here are for messages only. */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "copy/copy-internal.h"

#define VERIFY_BUF (1024 * 1024)
#define LINK_BUCKETS 4096

/* A source inode with several links, while some of its names are still
 * to be met: dropped when all were, so that memory stays bounded by the
 * inodes whose names are spread over the tree, as in the copy. */
struct link_map {
        struct link_map *next;
        dev_t sdev;
        ino_t sino;
        ino_t dino;
        nlink_t nlink;
        nlink_t seen;
};

struct verifier {
        const struct copy_options *o;
        struct copy_stats *stats;
        char *a, *b;            /* content buffers */
        struct link_map *links[LINK_BUCKETS];
        size_t n_links, max_links;
        int error;
};

static void differ(struct verifier *v, const char *path, const char *format, ...) _printf_(3, 4);
static void differ(struct verifier *v, const char *path, const char *format, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);
        v->stats->differences++;
        copy_message(v->o, COPY_MESSAGE_DIFFERENCE, path, "%s", buf);
}

static int flags_of(int dir, const char *name, const struct stat *st, unsigned *ret) {
        if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
                *ret = 0;
                return 0;
        }
        _cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        int f = 0;
        if (fd < 0)
                return -errno;
        if (ioctl(fd, FS_IOC_GETFLAGS, &f) < 0)
                f = 0; /* no flags on this filesystem */
        *ret = (unsigned) f & COPY_FLAGS_MASK;
        return 0;
}

static int xattrs_of(int dir, const char *name, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        return copy_xattrs_get(fd, true, ret, ret_size);
}

static void compare_contents(struct verifier *v, int sdir, int ddir, const char *name, const char *path) {
        _cleanup_close_ int a = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int b = openat(ddir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (a < 0 || b < 0) {
                differ(v, path, "cannot open to compare contents: %m");
                return;
        }
        for (off_t off = 0;;) {
                ssize_t n = pread(a, v->a, VERIFY_BUF, off), m = pread(b, v->b, VERIFY_BUF, off);
                if (n < 0 || m < 0) {
                        differ(v, path, "cannot read to compare contents: %m");
                        return;
                }
                if (n != m || memcmp(v->a, v->b, (size_t) n) != 0) {
                        differ(v, path, "contents differ");
                        return;
                }
                if (n == 0)
                        return;
                off += n;
        }
}

static void check_link(struct verifier *v, const struct stat *s, const struct stat *d, const char *path) {
        size_t h = ((size_t) s->st_ino * 2654435761u) % LINK_BUCKETS;
        for (struct link_map **p = &v->links[h]; *p; p = &(*p)->next) {
                struct link_map *l = *p;
                if (l->sdev == s->st_dev && l->sino == s->st_ino) {
                        if (l->dino != d->st_ino)
                                differ(v, path, "hard link: not linked to its other names in the target");
                        if (++l->seen >= l->nlink) {
                                *p = l->next;
                                free(l);
                                v->n_links--;
                        }
                        return;
                }
        }
        struct link_map *l = malloc(sizeof *l);
        if (!l) {
                v->error = -ENOMEM;
                return;
        }
        *l = (struct link_map) { .next = v->links[h], .sdev = s->st_dev, .sino = s->st_ino, .dino = d->st_ino,
                                 .nlink = s->st_nlink, .seen = 1 };
        v->links[h] = l;
        v->n_links++;
        v->max_links = MAX(v->max_links, v->n_links);
}

static char *join(const char *path, const char *name) {
        char *s = NULL;
        if (asprintf(&s, "%s/%s", path, name) < 0)
                return NULL;
        return streq(path, ".") ? memmove(s, s + 2, strlen(s + 2) + 1) : s;
}

static void compare_dir(struct verifier *v, int sfd, int dfd, const char *path);

static void compare_entry(struct verifier *v, int sdir, int ddir, const char *name, const char *path) {
        struct stat s, d;

        if (fstatat(sdir, name, &s, AT_SYMLINK_NOFOLLOW) < 0) {
                differ(v, path, "cannot stat in the source: %m");
                return;
        }
        if (fstatat(ddir, name, &d, AT_SYMLINK_NOFOLLOW) < 0) {
                differ(v, path, errno == ENOENT ? "missing in the target" : "cannot stat in the target: %m");
                return;
        }
        if ((s.st_mode & S_IFMT) != (d.st_mode & S_IFMT)) {
                differ(v, path, "type differs (%o, %o)", s.st_mode & S_IFMT, d.st_mode & S_IFMT);
                return;
        }
        if (!S_ISLNK(s.st_mode) && (s.st_mode & 07777) != (d.st_mode & 07777))
                differ(v, path, "mode differs (%04o, %04o)", s.st_mode & 07777, d.st_mode & 07777);
        if (s.st_uid != d.st_uid || s.st_gid != d.st_gid)
                differ(v, path, "owner differs (%u:%u, %u:%u)", s.st_uid, s.st_gid, d.st_uid, d.st_gid);
        if (s.st_mtim.tv_sec != d.st_mtim.tv_sec || s.st_mtim.tv_nsec != d.st_mtim.tv_nsec)
                differ(v, path, "mtime differs (%lld.%09ld, %lld.%09ld)", (long long) s.st_mtim.tv_sec,
                       s.st_mtim.tv_nsec, (long long) d.st_mtim.tv_sec, d.st_mtim.tv_nsec);
        if (!S_ISDIR(s.st_mode) && s.st_nlink != d.st_nlink)
                differ(v, path, "link count differs (%ju, %ju)", (uintmax_t) s.st_nlink, (uintmax_t) d.st_nlink);
        if ((S_ISCHR(s.st_mode) || S_ISBLK(s.st_mode)) && s.st_rdev != d.st_rdev)
                differ(v, path, "device number differs");
        if ((S_ISREG(s.st_mode) || S_ISLNK(s.st_mode)) && s.st_size != d.st_size)
                differ(v, path, "size differs (%jd, %jd)", (intmax_t) s.st_size, (intmax_t) d.st_size);
        if (S_ISLNK(s.st_mode)) {
                char a[4096], b[4096];
                ssize_t n = readlinkat(sdir, name, a, sizeof a), m = readlinkat(ddir, name, b, sizeof b);
                if (n != m || n < 0 || memcmp(a, b, (size_t) n) != 0)
                        differ(v, path, "symlink target differs");
        }
        if (S_ISREG(s.st_mode) && s.st_nlink > 1)
                check_link(v, &s, &d, path);

        _cleanup_free_ char *xa = NULL, *xb = NULL;
        size_t la = 0, lb = 0;
        int r1 = xattrs_of(sdir, name, &xa, &la), r2 = xattrs_of(ddir, name, &xb, &lb);
        if (r1 < 0 || r2 < 0)
                differ(v, path, "cannot read xattrs: %s", strerror(-(r1 < 0 ? r1 : r2)));
        else if (la != lb || memcmp(strempty(xa), strempty(xb), la) != 0)
                differ(v, path, "xattrs differ");

        unsigned fa = 0, fb = 0;
        if (flags_of(sdir, name, &s, &fa) >= 0 && flags_of(ddir, name, &d, &fb) >= 0 && fa != fb)
                differ(v, path, "inode flags differ (%#x, %#x)", fa, fb);

        if (S_ISREG(s.st_mode) && v->o->checksum && s.st_size == d.st_size)
                compare_contents(v, sdir, ddir, name, path);

        if (S_ISDIR(s.st_mode)) {
                _cleanup_close_ int sfd = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                _cleanup_close_ int dfd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sfd < 0 || dfd < 0)
                        differ(v, path, "cannot open directory: %m");
                else
                        compare_dir(v, sfd, dfd, path);
        }
}

/* Calls fn for each name in dir except . and .. */
static int for_each_name(int dirfd, void (*fn)(struct verifier *, int, int, const char *, const char *),
                         struct verifier *v, int other, const char *path) {
        _cleanup_close_ int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *buf = malloc(32 * 1024);
        if (fd < 0 || !buf)
                return fd < 0 ? -errno : -ENOMEM;
        struct dir_reader rd = { .fd = fd, .buf = buf, .size = 32 * 1024 };
        for (const char *name; (name = dir_reader_next(&rd));)
                fn(v, dirfd, other, name, path);
        return -errno;
}

static void visit_src(struct verifier *v, int sfd, int dfd, const char *name, const char *path) {
        _cleanup_free_ char *p = join(path, name);
        if (!p) {
                v->error = -ENOMEM;
                return;
        }
        compare_entry(v, sfd, dfd, name, p);
}

static void visit_dst(struct verifier *v, int dfd, int sfd, const char *name, const char *path) {
        struct stat st;
        if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 || errno != ENOENT)
                return;
        _cleanup_free_ char *p = join(path, name);
        differ(v, strna(p), "only in the target");
}

static void compare_dir(struct verifier *v, int sfd, int dfd, const char *path) {
        int r = for_each_name(sfd, visit_src, v, dfd, path);
        if (r >= 0)
                r = for_each_name(dfd, visit_dst, v, sfd, path);
        if (r < 0)
                differ(v, path, "cannot list directory: %s", strerror(-r));
}

int copy_verify(const struct copy_options *o, struct copy_stats *ret_stats, char **ret_error) {
        struct copy_stats stats = {};
        struct verifier v = { .o = o, .stats = &stats };
        _cleanup_close_ int src = -EBADF, dst = -EBADF;
        double start = copy_now();
        int r;

        r = copy_open_pair(o, &src, &dst, ret_error);
        if (r < 0)
                return r;
        v.a = malloc(VERIFY_BUF);
        v.b = malloc(VERIFY_BUF);
        if (!v.a || !v.b)
                r = -ENOMEM;
        else
                compare_entry(&v, src, dst, ".", ".");
        if (r >= 0 && v.error < 0)
                r = v.error;
        if (r >= 0)
                copy_message(o, COPY_MESSAGE_INFO, ".",
                             "hard links: at most %zu source inodes waited for their other names at once",
                             v.max_links);
        free(v.a);
        free(v.b);
        for (size_t i = 0; i < LINK_BUCKETS; i++)
                while (v.links[i]) {
                        struct link_map *l = v.links[i];
                        v.links[i] = l->next;
                        free(l);
                }
        stats.elapsed = copy_now() - start;
        if (ret_stats)
                *ret_stats = stats;
        return r;
}
