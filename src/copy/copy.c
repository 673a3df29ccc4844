/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The copy engine.
 *
 * The final copy of a migration, with services stopped, is its downtime; the
 * first copy is most of its wall time.  This engine copies one filesystem
 * exactly (what `rsync -aHAXS --numeric-ids` keeps, plus chattr flags),
 * faster than rsync, and with the tracker (track.c) makes the final sync
 * touch only what changed.
 *
 * Source.  SRC must be the root of a mount.  We never walk it directly: we
 * take a clone of that one mount with open_tree(OPEN_TREE_CLONE), which is a
 * detached, private, non-recursive bind mount that lives as long as its fd,
 * and make the clone read-only and noatime with mount_setattr().  Files
 * hidden under other mounts (static nodes under /dev) are therefore seen,
 * nothing below other filesystems is, the caller's mount namespace is never
 * touched, and nothing can be written to SRC, not even atimes.
 *
 * Walking.  Every access is relative to directory fds (openat, fstatat with
 * AT_SYMLINK_NOFOLLOW, getdents64), never full paths, so paths longer than
 * PATH_MAX work and a concurrent rename in SRC cannot make us copy outside
 * the tree.  A directory is a `struct dnode` holding its source and target
 * fds and a count of unfinished work below it.  Worker threads pop dnodes
 * from a bounded LIFO stack (depth first, so few directories are open at
 * once), read their entries and settle each entry; a subdirectory becomes a
 * new dnode, pushed when the stack has room and walked inline otherwise.
 * When a directory's own entries are read and all its subdirectories are
 * finished, its metadata is set (owner, mode, xattrs, then times, then
 * flags): directory times after their contents, flags such as immutable
 * last.  Memory is bounded whatever the tree's size: the stack, one
 * getdents buffer per open directory level, and the hard link map.
 *
 * Files.  Data ranges come from SEEK_DATA/SEEK_HOLE (skipped when st_blocks
 * shows there cannot be a hole) and go through copy_file_range(), falling
 * back to pread/pwrite when the kernel refuses (cross-filesystem, old
 * kernel); ftruncate() sets the size, so holes stay holes.  Then chown,
 * chmod (chown clears set-id bits), every xattr (user, trusted, security
 * including capabilities, which chown would have cleared, and the
 * system.posix_acl_* ACLs), times with nanoseconds, and the flags.  In a
 * directory we created, a file is opened without a stat by name first, and
 * its chown and the listing of its xattrs (to remove inherited ones) are
 * skipped when that directory, as created, shows they would change nothing
 * (dir_born()): a first copy costs about 10 system calls per small file.
 *
 * Hard links.  Only inodes with st_nlink > 1 enter a map keyed by the
 * source (dev, ino).  The first worker to meet one marks the entry busy and
 * copies the file; others wait for it, then link() to an O_PATH fd of that
 * first copy.  The entry is dropped when all its links were seen; flags
 * such as immutable, which forbid link(), are applied then (or at the end).
 *
 * Errors.  A file that vanishes while we read it is counted and skipped
 * (the final sync settles it).  A read error is reported with the file's
 * path and fails the copy after everything else is done.  ENOSPC or EDQUOT
 * on the target stops all workers at once, with the sizes involved.
 *
 * Comparing (the second and later passes).  When DST already holds an
 * entry, it is kept if type, size, mtime, owner, mode (and link target or
 * device number) match and its ctime in SRC is older than the tracker's
 * start (t0): a change since the first pass started always moves ctime, so
 * this catches changes that kept size and mtime.  Otherwise it is
 * recreated.  Entries of DST missing in SRC are deleted (renames are a
 * delete and a create).  With a tracker only the entries it names are
 * compared (new subdirectories are copied whole); see track.c for how it
 * records them across processes.
 *
 * Hard links in the final sync.  A changed file with several names may
 * have names the record does not hold (nothing happened to them), and
 * nothing maps an inode to its names but a walk.  So the first pass writes
 * a link map (copy_options.link_map): for each source inode with several
 * links, the file handle of its copy in DST, which holds exactly those
 * unrecorded names (they pointed to the inode throughout, and the pass
 * linked every name of an inode to one copy).  The sync sets aside every
 * changed multiply-linked name it meets, and settles them per inode at the
 * end: when all the inode's names were met, a new copy linked under each;
 * otherwise the copy the map names is rewritten in place and the met
 * names linked to it.  Then each copy must have as many names in DST as
 * the inode in SRC; only when that fails, or the map is missing, does the
 * sync compare the whole tree, and it says why.
 */
#include <dirent.h>
#include <inttypes.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>

#include "copy/copy-internal.h"
#include "util/strutil.h"

static const char *const copy_message_kind_table[_COPY_MESSAGE_KIND_MAX] = {
        [COPY_MESSAGE_INFO] = "info",
        [COPY_MESSAGE_WARNING] = "warning",
        [COPY_MESSAGE_ERROR] = "error",
        [COPY_MESSAGE_DIFFERENCE] = "difference",
};
DEFINE_STRING_TABLE(copy_message_kind, enum copy_message_kind, _COPY_MESSAGE_KIND_MAX);

#define STACK_MAX 512           /* queued directories (2 fds each) */
#define DENTS_BUF (32 * 1024)
#define COPY_BUF (1024 * 1024)
#define XATTR_LIST_MAX_ (64 * 1024)
#define XATTR_VALUE_MAX (64 * 1024)

static pthread_mutex_t message_lock = PTHREAD_MUTEX_INITIALIZER;

double copy_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

void copy_phase(const struct copy_options *o, const char *phase, double *t) {
        double now = copy_now();
        if (o->timing)
                copy_message(o, COPY_MESSAGE_INFO, ".", "time: %s %.3f s", phase, now - *t);
        *t = now;
}

void copy_message(const struct copy_options *o, enum copy_message_kind kind, const char *path,
                  const char *format, ...) {
        char buf[1024];
        va_list ap;

        if (!o->message)
                return;
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);
        pthread_mutex_lock(&message_lock);
        o->message(kind, path, buf, o->userdata);
        pthread_mutex_unlock(&message_lock);
}

static int set_error(char **ret_error, const char *format, ...) _printf_(2, 3);
static int set_error(char **ret_error, const char *format, ...) {
        va_list ap;
        char *s = NULL;

        if (!ret_error)
                return 0;
        va_start(ap, format);
        if (vasprintf(&s, format, ap) < 0)
                s = NULL;
        va_end(ap);
        free(*ret_error);
        *ret_error = s;
        return 0;
}

/* The private clone without open_tree() and mount_setattr() (Linux before
 * 5.2 and 5.12; valgrind, which does not know them): a non-recursive bind
 * mount on a fresh directory, made read-only and noatime, opened, then
 * detached.  The fd keeps it alive, reachable by no path, as open_tree()'s.
 * It exists in the caller's namespace (and its peers) for a moment only. */
static int open_source_bind(const char *src, int *ret_fd, char **ret_error) {
        char dir[] = "/run/rootraid-copy-XXXXXX", alt[] = "/tmp/rootraid-copy-XXXXXX";
        char *tmp = mkdtemp(dir) ?: mkdtemp(alt);
        int r = 0, fd = -EBADF;

        if (!tmp) {
                r = -errno;
                set_error(ret_error, "Cannot make a directory for a bind mount of %s: %s", src, strerror(-r));
                return r;
        }
        if (mount(src, tmp, "none", MS_BIND, NULL) < 0) { /* the type is ignored; not NULL for valgrind */
                r = -errno;
                set_error(ret_error, "Cannot make a private bind mount of %s: %s", src, strerror(-r));
                (void) rmdir(tmp);
                return r;
        }
        if (mount("none", tmp, "none", MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOATIME, NULL) < 0) {
                r = -errno;
                set_error(ret_error, "Cannot make the private mount of %s read-only: %s", src, strerror(-r));
        } else if ((fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                r = -errno;
                set_error(ret_error, "Cannot open the private mount of %s: %s", src, strerror(-r));
        }
        if (umount2(tmp, MNT_DETACH) < 0 && r >= 0) {
                r = -errno;
                set_error(ret_error, "Cannot detach the private mount of %s: %s", src, strerror(-r));
                fd = safe_close(fd);
        }
        (void) rmdir(tmp);
        if (r < 0)
                return r;
        *ret_fd = fd;
        return 0;
}

int copy_open_source(const char *src, int *ret_fd, char **ret_error) {
        struct statx stx;

        if (statx(AT_FDCWD, src, 0, STATX_TYPE, &stx) < 0) {
                int r = -errno;
                set_error(ret_error, "Cannot access %s: %s", src, strerror(-r));
                return r;
        }
        if (!S_ISDIR(stx.stx_mode)) {
                set_error(ret_error, "%s is not a directory.", src);
                return -ENOTDIR;
        }
        if ((stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT)) {
                set_error(ret_error,
                          "%s is not the root of a mount: rootraid copies whole filesystems. "
                          "Give the mount point of the filesystem instead.", src);
                return -EINVAL;
        }

        /* A detached clone of this one mount, without its submounts. */
        _cleanup_close_ int fd = -EBADF;
        if (isempty(getenv("ROOTRAID_COPY_TEST_BIND_MOUNT"))) /* tests: the fallback below */
                fd = open_tree(AT_FDCWD, src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        else
                errno = ENOSYS;
        if (fd < 0 && errno == ENOSYS)
                return open_source_bind(src, ret_fd, ret_error);
        if (fd < 0) {
                int r = -errno;
                set_error(ret_error, "Cannot make a private bind mount of %s: %s", src, strerror(-r));
                return r;
        }
        struct mount_attr attr = {
                .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOATIME,
                .attr_clr = MOUNT_ATTR__ATIME,
        };
        if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
                int r = -errno;
                if (r == -ENOSYS) {
                        fd = safe_close(fd);
                        return open_source_bind(src, ret_fd, ret_error);
                }
                set_error(ret_error, "Cannot make the private mount of %s read-only: %s", src, strerror(-r));
                return r;
        }
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                int r = -errno;
                set_error(ret_error, "Cannot open the private mount of %s: %s", src, strerror(-r));
                return r;
        }
        *ret_fd = dfd;
        return 0;
}

/* ---- the engine ---- */

/* What an inode we have just created holds, as far as we know. */
struct born {
        bool owned;             /* uid and gid are known */
        uid_t uid;
        gid_t gid;
        bool bare;              /* no xattrs at all */
};

struct dnode {
        struct dnode *parent;
        char *name;             /* NULL for a root; root_path names it */
        char *root_path;
        int src_fd, dst_fd;
        bool fresh;             /* we created dst: nothing to compare */
        struct born born;       /* we created dst: see settle_dir() */
        bool changed;           /* something in dst changed: reset times */
        bool set_meta;          /* metadata must be (re)applied at the end */
        char **only;            /* compare these names only (a partial sync) */
        atomic_int pending;     /* 1 for itself + unfinished subdirectories */
};

struct hlink {
        struct hlink *next;
        dev_t dev;
        ino_t ino;
        nlink_t seen;
        nlink_t nlink;
        /* The first copy: a file handle (no fd held, however many links
         * wait for their other names), or an O_PATH fd where the target
         * filesystem has no handles. */
        struct file_handle *fh;
        int dst_fd;
        bool ready;
        bool busy;
        bool failed;
        unsigned flags;         /* inode flags to set when all links exist */
        bool has_flags;
};

#define HL_BUCKETS 4096

struct engine {
        const struct copy_run *run;
        const struct copy_options *o;

        pthread_mutex_t lock;
        pthread_cond_t cond;            /* workers: work or the end */
        pthread_cond_t done_cond;       /* the reporting thread: the end */
        struct dnode *stack[STACK_MAX];
        size_t n_stack;
        unsigned busy;
        bool abort;
        int fatal;              /* first fatal error, e.g. -ENOSPC */
        char *fatal_msg;
        int file_error;         /* first per-file error */
        char *file_error_msg;

        pthread_mutex_t hl_lock;
        pthread_cond_t hl_cond;
        struct hlink *hl[HL_BUCKETS];
        size_t hl_count;

        atomic_bool cfr_broken;
        atomic_bool sendfile_broken;
        atomic_uint_fast64_t files, bytes, hardlinks, deleted, vanished, errors, done_entries;
};

struct worker {
        struct engine *e;
        char *buf;              /* COPY_BUF for the pread/pwrite fallback */
        char *xlist, *xval, *xlist2;
};

static const char *dnode_component(const struct dnode *d) {
        /* The tree's root is "." alone, not a prefix: "etc/passwd". */
        if (d->name)
                return d->name;
        return streq(d->root_path, ".") ? "" : d->root_path;
}

static char *dnode_path(const struct dnode *d, const char *name) {
        /* For messages only: we never open paths built here. */
        size_t l = name ? strlen(name) + 1 : 0;
        for (const struct dnode *p = d; p; p = p->parent)
                l += strlen(dnode_component(p)) + 1;
        char *s = malloc(l + 1), *q;
        if (!s)
                return NULL;
        q = s + l;
        *q = 0;
        if (name) {
                size_t n = strlen(name);
                q -= n;
                memcpy(q, name, n);
                *--q = '/';
        }
        for (const struct dnode *p = d; p; p = p->parent) {
                const char *c = dnode_component(p);
                size_t n = strlen(c);
                q -= n;
                memcpy(q, c, n);
                if (p->parent)
                        *--q = '/';
        }
        while (*q == '/')
                q++;
        if (!*q)
                q = (char *) ".";
        memmove(s, q, strlen(q) + 1);
        return s;
}

static void report(struct engine *e, enum copy_message_kind kind, const struct dnode *d, const char *name,
                   int err, const char *what) {
        _cleanup_free_ char *p = dnode_path(d, name);
        copy_message(e->o, kind, strna(p), "%s: %s", what, strerror(err < 0 ? -err : err));
}

/* A per-file failure: reported now, fails the copy at the end. */
static void file_failed(struct engine *e, const struct dnode *d, const char *name, int err, const char *what) {
        report(e, COPY_MESSAGE_ERROR, d, name, err, what);
        atomic_fetch_add(&e->errors, 1);
        pthread_mutex_lock(&e->lock);
        if (!e->file_error) {
                _cleanup_free_ char *p = dnode_path(d, name);
                e->file_error = err < 0 ? err : -err;
                (void) !asprintf(&e->file_error_msg, "%s %s: %s", what, strna(p), strerror(err < 0 ? -err : err));
        }
        pthread_mutex_unlock(&e->lock);
}

static bool target_full(int err) {
        return err == -ENOSPC || err == -EDQUOT;
}

/* Stops every worker: the target is full, or memory ran out. */
static void fatal(struct engine *e, const struct dnode *d, const char *name, int err) {
        pthread_mutex_lock(&e->lock);
        if (!e->fatal) {
                _cleanup_free_ char *p = dnode_path(d, name);
                e->fatal = err;
                if (target_full(err)) {
                        struct statvfs sv, ss;
                        char used[FORMAT_BYTES_MAX], avail[FORMAT_BYTES_MAX], size[FORMAT_BYTES_MAX];
                        uint64_t src_used = 0;
                        if (e->run->src_mount_fd >= 0 && fstatvfs(e->run->src_mount_fd, &ss) >= 0)
                                src_used = (uint64_t) (ss.f_blocks - ss.f_bfree) * ss.f_frsize;
                        if (!d || fstatvfs(d->dst_fd, &sv) < 0)
                                memset(&sv, 0, sizeof sv);
                        (void) !asprintf(&e->fatal_msg,
                                         "The target is full (%s) while writing %s: the source uses %s, "
                                         "the target has %s free of %s.",
                                         strerror(-err), strna(p),
                                         format_bytes(used, sizeof used, src_used),
                                         format_bytes(avail, sizeof avail, (uint64_t) sv.f_bavail * sv.f_frsize),
                                         format_bytes(size, sizeof size, (uint64_t) sv.f_blocks * sv.f_frsize));
                } else
                        (void) !asprintf(&e->fatal_msg, "Copy stopped at %s: %s", strna(p), strerror(-err));
        }
        e->abort = true;
        pthread_cond_broadcast(&e->cond);
        pthread_cond_broadcast(&e->done_cond);
        pthread_mutex_unlock(&e->lock);
}

static bool aborted(struct engine *e) {
        pthread_mutex_lock(&e->lock);
        bool b = e->abort;
        pthread_mutex_unlock(&e->lock);
        return b;
}

/* ---- metadata ---- */

static const char *proc_fd(char buf[static 32], int fd) {
        snprintf(buf, 32, "/proc/self/fd/%d", fd);
        return buf;
}

static ssize_t x_list(int fd, bool opath, char *buf, size_t size) {
        char p[32];
        return opath ? listxattr(proc_fd(p, fd), buf, size) : flistxattr(fd, buf, size);
}
static ssize_t x_get(int fd, bool opath, const char *name, void *buf, size_t size) {
        char p[32];
        return opath ? getxattr(proc_fd(p, fd), name, buf, size) : fgetxattr(fd, name, buf, size);
}
static int x_set(int fd, bool opath, const char *name, const void *v, size_t size) {
        char p[32];
        return opath ? setxattr(proc_fd(p, fd), name, v, size, 0) : fsetxattr(fd, name, v, size, 0);
}
static int x_remove(int fd, bool opath, const char *name) {
        char p[32];
        return opath ? removexattr(proc_fd(p, fd), name) : fremovexattr(fd, name);
}

static bool xattr_unsupported(int err) {
        return err == ENOTSUP || err == EOPNOTSUPP;
}

/* Copies every xattr from sfd to dfd; removes those of dfd that sfd lacks
 * (inherited default ACLs, labels given at creation), unless dst_bare says
 * that dfd has none. */
static int copy_xattrs(struct worker *w, int sfd, int dfd, bool opath, bool dst_bare) {
        ssize_t n = x_list(sfd, opath, w->xlist, XATTR_LIST_MAX_);
        if (n < 0) {
                if (xattr_unsupported(errno))
                        n = 0;
                else
                        return -errno;
        }
        ssize_t m = dst_bare ? 0 : x_list(dfd, opath, w->xlist2, XATTR_LIST_MAX_);
        if (m < 0)
                m = 0; /* nothing to remove if the target cannot list them */
        for (ssize_t i = 0; i < m; i += strlen(w->xlist2 + i) + 1) {
                const char *name = w->xlist2 + i;
                bool found = false;
                for (ssize_t j = 0; j < n && !found; j += strlen(w->xlist + j) + 1)
                        found = streq(name, w->xlist + j);
                if (!found && x_remove(dfd, opath, name) < 0 && errno != ENODATA)
                        return -errno;
        }
        for (ssize_t i = 0; i < n; i += strlen(w->xlist + i) + 1) {
                const char *name = w->xlist + i;
                ssize_t v = x_get(sfd, opath, name, w->xval, XATTR_VALUE_MAX);
                if (v < 0) {
                        if (errno == ENODATA)
                                continue; /* removed meanwhile */
                        return -errno;
                }
                if (x_set(dfd, opath, name, w->xval, (size_t) v) < 0)
                        return -errno;
        }
        return 0;
}

int copy_xattrs_get(int fd, bool opath, char **ret_buf, size_t *ret_size) {
        _cleanup_free_ char *list = malloc(XATTR_LIST_MAX_), *val = malloc(XATTR_VALUE_MAX);
        _cleanup_free_ char *out = NULL;
        size_t size = 0;
        if (!list || !val)
                return -ENOMEM;
        ssize_t n = x_list(fd, opath, list, XATTR_LIST_MAX_);
        if (n < 0) {
                if (!xattr_unsupported(errno))
                        return -errno;
                n = 0;
        }
        /* Sort names with a simple insertion into an index (lists are short). */
        const char *names[1024];
        size_t k = 0;
        for (ssize_t i = 0; i < n && k < ELEMENTSOF(names); i += strlen(list + i) + 1) {
                size_t j = k++;
                while (j > 0 && strcmp(names[j - 1], list + i) > 0) {
                        names[j] = names[j - 1];
                        j--;
                }
                names[j] = list + i;
        }
        for (size_t i = 0; i < k; i++) {
                ssize_t v = x_get(fd, opath, names[i], val, XATTR_VALUE_MAX);
                if (v < 0)
                        return -errno;
                size_t l = strlen(names[i]) + 1, add = l + sizeof(uint32_t) + (size_t) v;
                char *nb = realloc(out, size + add);
                if (!nb)
                        return -ENOMEM;
                out = nb;
                memcpy(out + size, names[i], l);
                uint32_t vl = (uint32_t) v;
                memcpy(out + size + l, &vl, sizeof vl);
                memcpy(out + size + l + sizeof vl, val, (size_t) v);
                size += add;
        }
        *ret_buf = TAKE_PTR(out);
        *ret_size = size;
        return 0;
}

static int get_flags(int fd, unsigned *ret) {
        int f = 0;
        if (ioctl(fd, FS_IOC_GETFLAGS, &f) < 0)
                return -errno;
        *ret = (unsigned) f;
        return 0;
}

/* Sets the copied flags of dfd to those of src_flags. */
static int apply_flags(int dfd, unsigned src_flags) {
        unsigned cur = 0;
        if (get_flags(dfd, &cur) < 0)
                cur = 0;
        unsigned want = (cur & ~COPY_FLAGS_MASK) | (src_flags & COPY_FLAGS_MASK);
        if (want == cur)
                return 0;
        int f = (int) want;
        if (ioctl(dfd, FS_IOC_SETFLAGS, &f) < 0)
                return -errno;
        return 0;
}

static bool ts_ge(const struct timespec *a, const struct timespec *b) {
        return a->tv_sec > b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec >= b->tv_nsec);
}

static bool ts_eq(const struct timespec *a, const struct timespec *b) {
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

/* Does the existing dst entry match src closely enough to be kept? */
static bool unchanged(const struct engine *e, const struct stat *s, const struct stat *d) {
        const struct timespec *t0 = &e->run->t0;
        if ((s->st_mode & S_IFMT) != (d->st_mode & S_IFMT))
                return false;
        if (e->o->rewrite && !S_ISDIR(s->st_mode))
                return false;
        if ((t0->tv_sec || t0->tv_nsec) && ts_ge(&s->st_ctim, t0))
                return false;
        if (s->st_uid != d->st_uid || s->st_gid != d->st_gid)
                return false;
        if (!S_ISLNK(s->st_mode) && (s->st_mode & 07777) != (d->st_mode & 07777))
                return false;
        if (S_ISDIR(s->st_mode))
                return ts_eq(&s->st_mtim, &d->st_mtim);
        if (s->st_size != d->st_size || !ts_eq(&s->st_mtim, &d->st_mtim))
                return false;
        if ((S_ISCHR(s->st_mode) || S_ISBLK(s->st_mode)) && s->st_rdev != d->st_rdev)
                return false;
        return true;
}

/* Owner, mode, xattrs, times of a non-directory that cannot be opened for
 * I/O (symlink, device node, FIFO, socket), through an O_PATH fd. */
static int set_meta_at(struct worker *w, int sdir, int ddir, const char *name, const struct stat *st) {
        if (fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (!S_ISLNK(st->st_mode) && fchmodat(ddir, name, st->st_mode & 07777, 0) < 0)
                return -errno;
        _cleanup_close_ int sfd = openat(sdir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0)
                return -errno;
        _cleanup_close_ int dfd = openat(ddir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        int r = copy_xattrs(w, sfd, dfd, true, false);
        if (r < 0)
                return r;
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        return 0;
}

/* Copies sfd's inode flags to dfd; a filesystem without flags is fine. */
static int copy_flags(int sfd, int dfd) {
        unsigned f = 0;
        if (get_flags(sfd, &f) < 0 || !(f & COPY_FLAGS_MASK))
                return 0;
        int r = apply_flags(dfd, f);
        return r == -ENOTTY || r == -EOPNOTSUPP ? 0 : r;
}

/* Metadata of an open regular file or directory; flags come last.  born
 * (NULL: nothing) is what dfd is known to hold: no need to chown to the
 * owner it has (chown would clear set-ID bits, but chmod follows, and
 * capabilities, but the xattrs follow), nor to list xattrs it has none of. */
static int set_meta_fd(struct worker *w, int sfd, int dfd, const struct stat *st, bool with_flags,
                       const struct born *born) {
        bool owned = born && born->owned && born->uid == st->st_uid && born->gid == st->st_gid;
        if (!owned && fchown(dfd, st->st_uid, st->st_gid) < 0)
                return -errno;
        if (fchmod(dfd, st->st_mode & 07777) < 0)
                return -errno;
        int r = copy_xattrs(w, sfd, dfd, false, born && born->bare);
        if (r < 0)
                return r;
        struct timespec ts[2] = { st->st_atim, st->st_mtim };
        if (futimens(dfd, ts) < 0)
                return -errno;
        return with_flags ? copy_flags(sfd, dfd) : 0;
}

/* Clears immutable/append-only on a dst regular file or directory so that
 * it can be replaced; returns 0 if nothing was to be done. */
static int unlock_entry(int ddir, const char *name) {
        _cleanup_close_ int fd = openat(ddir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
                return -EPERM;
        unsigned f = 0;
        int r = get_flags(fd, &f);
        if (r < 0)
                return r;
        return apply_flags(fd, f & ~(unsigned) (FS_IMMUTABLE_FL | FS_APPEND_FL));
}

const char *dir_reader_next(struct dir_reader *r) {
        for (;;) {
                if (r->off >= r->n) {
                        r->n = syscall(SYS_getdents64, r->fd, r->buf, r->size);
                        r->off = 0;
                        if (r->n <= 0) {
                                if (r->n == 0)
                                        errno = 0;
                                return NULL;
                        }
                }
                struct dirent64 *de = (struct dirent64 *) (r->buf + r->off);
                r->off += de->d_reclen;
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..")) {
                        r->type = de->d_type;
                        return de->d_name;
                }
        }
}

static int remove_tree(int ddir, const char *name, uint64_t *count);

static int remove_dir_contents(int fd, uint64_t *count) {
        _cleanup_free_ char *buf = malloc(DENTS_BUF);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                struct dir_reader rd = { .fd = fd, .buf = buf, .size = DENTS_BUF };
                const char *name = dir_reader_next(&rd);
                if (!name)
                        return -errno;
                /* One name at a time, from the start: entries are being
                 * removed under the reader. */
                int r = remove_tree(fd, name, count);
                if (r < 0)
                        return r;
                if (lseek(fd, 0, SEEK_SET) < 0)
                        return -errno;
        }
}

/* rm -rf of one dst entry, relative to ddir. */
static int remove_tree(int ddir, const char *name, uint64_t *count) {
        for (int attempt = 0; attempt < 2; attempt++) {
                if (unlinkat(ddir, name, 0) >= 0) {
                        (*count)++;
                        return 0;
                }
                if (errno == ENOENT)
                        return 0;
                if (errno == EISDIR) {
                        _cleanup_close_ int fd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (fd < 0)
                                return -errno;
                        unsigned f = 0;
                        if (get_flags(fd, &f) >= 0 && (f & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
                                (void) apply_flags(fd, f & ~(unsigned) (FS_IMMUTABLE_FL | FS_APPEND_FL)); /* unlinkat tells */
                        int r = remove_dir_contents(fd, count);
                        if (r < 0)
                                return r;
                        if (unlinkat(ddir, name, AT_REMOVEDIR) < 0)
                                return -errno;
                        (*count)++;
                        return 0;
                }
                if (errno != EPERM || attempt > 0 || unlock_entry(ddir, name) < 0)
                        return -errno;
        }
        return -EPERM;
}

/* ---- file data ---- */

/* copy_file_range() refuses this pair of files, not this range. */
static bool cfr_unsupported(int err) {
        return err == EXDEV || err == EINVAL || err == EOPNOTSUPP || err == ENOSYS || err == EBADF;
}

/* Copies [off, off+len) from sfd to dfd; *ret_end gets the offset where
 * it stopped (end, or less when the file shrank).  Returns 0, or a
 * negative errno with *ret_src_side telling whether reading the source
 * failed. */
static int copy_range(struct worker *w, int sfd, int dfd, off_t off, off_t len, off_t *ret_end, bool *ret_src_side) {
        struct engine *e = w->e;
        off_t end = off + len;

        *ret_end = off;

        /* In the kernel first: copy_file_range() (which may share or
         * offload the data) within a filesystem; across filesystems it
         * refuses (EXDEV), but sendfile() still copies there: the data
         * once, not twice through our buffer, in one call, not two.
         * sendfile() writes at dfd's position (0 in the fds we open). */
        for (int m = 0; m < 2; m++) {
                atomic_bool *broken = m == 0 ? &e->cfr_broken : &e->sendfile_broken;
                if (off >= end || atomic_load(broken) || (m == 1 && off != 0 && lseek(dfd, off, SEEK_SET) != off))
                        continue;
                while (off < end && !atomic_load(broken)) {
                        loff_t in = off, out = off;
                        size_t chunk = (size_t) MIN(end - off, (off_t) 1 << 30);
                        ssize_t n = m == 0 ? copy_file_range(sfd, &in, dfd, &out, chunk, 0) : sendfile(dfd, sfd, &in, chunk);
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                if (m == 0 ? cfr_unsupported(errno)
                                           : errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) {
                                        atomic_store(broken, true);
                                        break;
                                }
                                if (target_full(-errno)) {
                                        *ret_src_side = false;
                                        return -errno;
                                }
                                goto fallback; /* find out which side fails with read/write */
                        }
                        if (n == 0)
                                return 0; /* the file shrank: the final sync settles it */
                        off += n;
                        *ret_end = off;
                        atomic_fetch_add(&e->bytes, (uint64_t) n);
                }
        }
fallback:
        while (off < end) {
                ssize_t n = pread(sfd, w->buf, (size_t) MIN(end - off, (off_t) COPY_BUF), off);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        *ret_src_side = true;
                        return -errno;
                }
                if (n == 0)
                        return 0;
                for (ssize_t done = 0; done < n;) {
                        ssize_t k = pwrite(dfd, w->buf + done, (size_t) (n - done), off + done);
                        if (k < 0) {
                                if (errno == EINTR)
                                        continue;
                                *ret_src_side = false;
                                return -errno;
                        }
                        done += k;
                }
                off += n;
                *ret_end = off;
                atomic_fetch_add(&e->bytes, (uint64_t) n);
        }
        return 0;
}

static int copy_data(struct worker *w, int sfd, int dfd, const struct stat *st, bool *ret_src_side) {
        off_t size = st->st_size, pos = 0, reached = 0;
        int r;

        if (size == 0)
                return 0;
        /* Fully allocated: no hole to look for, spare two lseek()s. */
        if ((off_t) st->st_blocks * 512 >= size) {
                r = copy_range(w, sfd, dfd, 0, size, &reached, ret_src_side);
                if (r < 0)
                        return r;
        } else
                while (pos < size) {
                        off_t data = lseek(sfd, pos, SEEK_DATA);
                        if (data < 0) {
                                if (errno == ENXIO)
                                        break; /* only a hole is left */
                                if (errno != EINVAL && errno != EOPNOTSUPP) {
                                        *ret_src_side = true;
                                        return -errno;
                                }
                                data = pos; /* no SEEK_DATA: copy everything */
                        }
                        off_t hole = lseek(sfd, data, SEEK_HOLE);
                        if (hole < 0)
                                hole = size;
                        if (hole > size)
                                hole = size;
                        if (hole <= data)
                                break;
                        r = copy_range(w, sfd, dfd, data, hole - data, &reached, ret_src_side);
                        if (r < 0)
                                return r;
                        pos = hole;
                }
        /* The size, when the data did not end there (a hole at the end,
         * or the file shrank): a needless ftruncate() costs a journal
         * transaction per file. */
        if (reached != size && ftruncate(dfd, size) < 0) {
                *ret_src_side = false;
                return -errno;
        }
        return 0;
}

/* ---- hard links ---- */

static struct hlink **hl_slot(struct engine *e, dev_t dev, ino_t ino) {
        size_t h = ((size_t) ino * 2654435761u + (size_t) dev) % HL_BUCKETS;
        struct hlink **p = &e->hl[h];
        while (*p && !((*p)->dev == dev && (*p)->ino == ino))
                p = &(*p)->next;
        return p;
}

/* Opens the first copy of h. */
static int hl_open(struct engine *e, const struct hlink *h, int flags) {
        if (h->fh) {
                int fd = open_by_handle_at(e->run->dst_root_fd, h->fh, flags | O_CLOEXEC);
                return fd < 0 ? -errno : fd;
        }
        char path[32];
        int fd = open(proc_fd(path, h->dst_fd), flags | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
}

/* Remembers the entry `name` in ddir as the first copy of h. */
static int hl_remember(struct hlink *h, int ddir, const char *name) {
        struct file_handle *fh = malloc(sizeof *fh + MAX_HANDLE_SZ);
        int mnt;
        if (!fh)
                return -ENOMEM;
        fh->handle_bytes = MAX_HANDLE_SZ;
        if (name_to_handle_at(ddir, name, fh, &mnt, 0) >= 0) {
                h->fh = fh;
                return 0;
        }
        free(fh);
        h->dst_fd = openat(ddir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        return h->dst_fd < 0 ? -errno : 0;
}

static void hl_drop_locked(struct engine *e, struct hlink **p) {
        struct hlink *h = *p;
        if (h->has_flags && h->ready) {
                /* Flags such as immutable forbid link(): set them once all
                 * links exist.  Best effort: verify reports a mismatch. */
                _cleanup_close_ int fd = hl_open(e, h, O_RDONLY | O_NONBLOCK);
                if (fd >= 0)
                        (void) apply_flags(fd, h->flags);
        }
        *p = h->next;
        safe_close(h->dst_fd);
        free(h->fh);
        free(h);
        e->hl_count--;
}

/* Writes "INO TYPE HANDLE" for h's first copy to the link map, or
 * "incomplete" when the target has no file handles.  Called with
 * e->hl_lock held, which also orders the writes. */
static void link_map_add(struct engine *e, const struct hlink *h) {
        FILE *f = e->run->link_map;
        if (!f)
                return;
        if (!h->fh) {
                fputs("incomplete\n", f);
                return;
        }
        fprintf(f, "%ju %d ", (uintmax_t) h->ino, h->fh->handle_type);
        for (unsigned i = 0; i < h->fh->handle_bytes; i++)
                fprintf(f, "%02x", h->fh->f_handle[i]);
        fputc('\n', f);
}

/* ---- entries ---- */

static int defer_add(struct hl_defer *q, const struct dnode *d, const char *name) {
        char *p = dnode_path(d, name);
        if (!p)
                return -ENOMEM;
        pthread_mutex_lock(&q->lock);
        if (q->n == q->allocated) {
                size_t na = MAX(q->allocated * 2, (size_t) 64);
                char **np = realloc(q->paths, na * sizeof *np);
                if (!np) {
                        pthread_mutex_unlock(&q->lock);
                        free(p);
                        return -ENOMEM;
                }
                q->paths = np;
                q->allocated = na;
        }
        q->paths[q->n++] = p;
        pthread_mutex_unlock(&q->lock);
        return 0;
}

static void dnode_release(struct worker *w, struct dnode *d);
static void process_dir(struct worker *w, struct dnode *d);

static struct dnode *dnode_free(struct dnode *d) {
        if (!d)
                return NULL;
        safe_close(d->src_fd);
        safe_close(d->dst_fd);
        free(d->name);
        free(d->root_path);
        strv_free(d->only);
        free(d);
        return NULL;
}

/* Opens the regular file `name` in dir and stats the fd: copy_regular()'s
 * way in, and process_entry()'s for an entry that getdents called a
 * regular file (one stat by name fewer).  O_NONBLOCK because the name may
 * have become a FIFO since (it changes nothing for a regular file).
 * Returns the fd, or a negative errno (-EBADF: not a regular file). */
static int open_regular(int dir, const char *name, struct stat *ret_st) {
        _cleanup_close_ int fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADF;
        *ret_st = st;
        return TAKE_FD(fd);
}

/* Creates the regular file `name` in d's target from the source, data and
 * metadata.  The caller removed any previous dst entry.  sfd, taken over,
 * is the source opened by open_regular() with *st its fstat(), or -EBADF
 * to open it here.  With defer_flags, immutable/append-only go to
 * *ret_flags, to be set once all links exist.  Returns 0, 1 when the
 * source vanished, or a negative errno (already reported). */
static int copy_regular(struct worker *w, struct dnode *d, const char *name, int sfd_in, struct stat *st,
                        unsigned *ret_flags, bool defer_flags) {
        struct engine *e = w->e;
        bool src_side = true;
        int r;

        _cleanup_close_ int sfd = sfd_in >= 0 ? sfd_in : open_regular(d->src_fd, name, st);
        if (sfd == -ENOENT || sfd == -EBADF)
                return 1; /* gone, or replaced by something else meanwhile */
        if (sfd < 0) {
                file_failed(e, d, name, sfd, "Cannot open");
                return sfd;
        }

        _cleanup_close_ int dfd = openat(d->dst_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (dfd < 0) {
                r = -errno;
                goto fail_dst;
        }
        r = copy_data(w, sfd, dfd, st, &src_side);
        if (r < 0) {
                if (!src_side)
                        goto fail_dst;
                file_failed(e, d, name, r, "Cannot read");
                (void) unlinkat(d->dst_fd, name, 0); /* no half copy that looks complete */
                return r;
        }
        src_side = false;
        r = set_meta_fd(w, sfd, dfd, st, false, &d->born); /* created with O_EXCL in d */
        if (r < 0)
                goto fail_dst;
        unsigned f = 0;
        if (get_flags(sfd, &f) >= 0 && (f & COPY_FLAGS_MASK)) {
                if (defer_flags && (f & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
                        *ret_flags = f;
                else {
                        r = apply_flags(dfd, f);
                        if (r < 0 && r != -ENOTTY && r != -EOPNOTSUPP)
                                goto fail_dst;
                }
        }
        atomic_fetch_add(&e->files, 1);
        return 0;

fail_dst:
        if (target_full(r))
                fatal(e, d, name, r);
        else
                file_failed(e, d, name, r, "Cannot write");
        return r;
}

static int link_to(int src_fd, int ddir, const char *name) {
        if (linkat(src_fd, "", ddir, name, AT_EMPTY_PATH) >= 0)
                return 0;
        if (errno != ENOENT && errno != EPERM && errno != EINVAL)
                return -errno;
        char p[32];
        if (linkat(AT_FDCWD, proc_fd(p, src_fd), ddir, name, AT_SYMLINK_FOLLOW) < 0)
                return -errno;
        return 0;
}

/* A regular file with more than one link.  sfd as for copy_regular(). */
static void settle_hardlinked(struct worker *w, struct dnode *d, const char *name, int sfd_in, struct stat *st,
                              bool have_dst, const struct stat *dst_st) {
        struct engine *e = w->e;
        _cleanup_close_ int sfd = sfd_in;
        struct hlink **p, *h;
        int r;

        if (e->run->defer && !(have_dst && unchanged(e, st, dst_st))) {
                /* A sync compares only some entries, and the other names of
                 * this file may be anywhere: copy_sync() settles all of
                 * them together at the end. */
                r = defer_add(e->run->defer, d, name);
                if (r < 0)
                        fatal(e, d, name, r);
                return;
        }

        pthread_mutex_lock(&e->hl_lock);
        for (;;) {
                p = hl_slot(e, st->st_dev, st->st_ino);
                h = *p;
                if (!h || !h->busy)
                        break;
                pthread_cond_wait(&e->hl_cond, &e->hl_lock);
        }
        /* Links made while we copy: wait for all of them, so that no name
         * of this inode gets a copy of its own. */
        if (h && st->st_nlink > h->nlink)
                h->nlink = st->st_nlink;
        if (h && !h->failed && h->ready) {
                /* Another name of a file already copied: link to it. */
                _cleanup_close_ int rep = hl_open(e, h, O_PATH);
                h->seen++;
                struct stat rst;
                bool same = have_dst && rep >= 0 && fstat(rep, &rst) >= 0 && rst.st_ino == dst_st->st_ino &&
                            rst.st_dev == dst_st->st_dev;
                if (!same) {
                        uint64_t n = 0;
                        if (have_dst)
                                (void) remove_tree(d->dst_fd, name, &n); /* linkat reports EEXIST */
                        r = rep < 0 ? rep : link_to(rep, d->dst_fd, name);
                        if (r < 0) {
                                pthread_mutex_unlock(&e->hl_lock);
                                if (target_full(r))
                                        fatal(e, d, name, r);
                                else
                                        file_failed(e, d, name, r, "Cannot link");
                                return;
                        }
                        atomic_fetch_add(&e->hardlinks, 1);
                        d->changed = true;
                }
                if (h->seen >= h->nlink)
                        hl_drop_locked(e, p);
                pthread_mutex_unlock(&e->hl_lock);
                return;
        }
        if (!h) {
                h = calloc(1, sizeof *h);
                if (!h) {
                        pthread_mutex_unlock(&e->hl_lock);
                        fatal(e, d, name, -ENOMEM);
                        return;
                }
                h->dev = st->st_dev;
                h->ino = st->st_ino;
                h->nlink = st->st_nlink;
                h->dst_fd = -EBADF;
                h->next = *p;
                *p = h;
                e->hl_count++;
        }
        h->busy = true;
        h->failed = false;
        pthread_mutex_unlock(&e->hl_lock);

        /* We copy this one; others wait for us. */
        bool keep = have_dst && unchanged(e, st, dst_st);
        unsigned flags = 0;
        r = 0;
        if (!keep) {
                uint64_t n = 0;
                if (have_dst)
                        r = remove_tree(d->dst_fd, name, &n);
                if (r >= 0) {
                        r = copy_regular(w, d, name, TAKE_FD(sfd), st, &flags, true);
                        d->changed = true;
                }
        }
        pthread_mutex_lock(&e->hl_lock);
        p = hl_slot(e, st->st_dev, st->st_ino);
        h = *p;
        h->busy = false;
        if (r != 0 || hl_remember(h, d->dst_fd, name) < 0)
                h->failed = true; /* a later name tries again */
        else {
                h->ready = true;
                h->seen++;
                h->has_flags = flags != 0;
                h->flags = flags;
                link_map_add(e, h);
                if (h->seen >= h->nlink)
                        hl_drop_locked(e, p);
        }
        pthread_cond_broadcast(&e->hl_cond);
        pthread_mutex_unlock(&e->hl_lock);
}

static void dnode_push_or_run(struct worker *w, struct dnode *c) {
        struct engine *e = w->e;
        pthread_mutex_lock(&e->lock);
        if (e->n_stack < STACK_MAX) {
                e->stack[e->n_stack++] = c;
                pthread_cond_signal(&e->cond);
                pthread_mutex_unlock(&e->lock);
                return;
        }
        pthread_mutex_unlock(&e->lock);
        process_dir(w, c);
}

/* What the directory dfd, which we have just created, holds; and so what a
 * file created in it gets, until the directory's own metadata is set after
 * its contents.  Owner: the file gets our fsuid, as the directory did, and
 * the directory's group: its own when set-group-ID (or mounted grpid),
 * else our fsgid, which the directory got as well, since it inherits
 * set-group-ID from its parent.  xattrs: a new inode gets them only from
 * its parent's default ACL or from an LSM label, and the directory would
 * show either (a default ACL is inherited as one): without xattrs it passes
 * none on. */
static struct born dir_born(int dfd) {
        struct born b = {};
        struct stat st;
        if (fstat(dfd, &st) >= 0)
                b = (struct born) { .owned = true, .uid = st.st_uid, .gid = st.st_gid };
        ssize_t n = flistxattr(dfd, NULL, 0);
        b.bare = n == 0 || (n < 0 && xattr_unsupported(errno));
        return b;
}

static void settle_dir(struct worker *w, struct dnode *d, const char *name, const struct stat *st, bool have_dst,
                       const struct stat *dst_st) {
        struct engine *e = w->e;
        int r;

        if (!have_dst) {
                if (mkdirat(d->dst_fd, name, 0700) < 0) {
                        r = -errno;
                        if (target_full(r))
                                fatal(e, d, name, r);
                        else
                                file_failed(e, d, name, r, "Cannot create directory");
                        return;
                }
                d->changed = true;
                atomic_fetch_add(&e->files, 1);
        }
        _cleanup_close_ int sfd = openat(d->src_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sfd < 0) {
                if (errno == ENOENT || errno == ENOTDIR) {
                        atomic_fetch_add(&e->vanished, 1);
                        return;
                }
                file_failed(e, d, name, -errno, "Cannot open directory");
                return;
        }
        _cleanup_close_ int dfd = openat(d->dst_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (dfd < 0) {
                file_failed(e, d, name, -errno, "Cannot open target directory");
                return;
        }
        if (have_dst && !e->run->recurse) {
                /* One level only: the directory itself, not what is in it. */
                if (!unchanged(e, st, dst_st)) {
                        struct stat s2;
                        unsigned f = 0;
                        bool locked = get_flags(dfd, &f) >= 0 && (f & (FS_IMMUTABLE_FL | FS_APPEND_FL));
                        if (locked)
                                (void) apply_flags(dfd, f & ~(unsigned) (FS_IMMUTABLE_FL | FS_APPEND_FL)); /* set_meta_fd sets them back */
                        if (fstat(sfd, &s2) < 0 || (r = set_meta_fd(w, sfd, dfd, &s2, true, NULL)) < 0)
                                file_failed(e, d, name, -errno, "Cannot set metadata of directory");
                        atomic_fetch_add(&e->files, 1);
                }
                return;
        }
        struct dnode *c = calloc(1, sizeof *c);
        if (!c || !(c->name = strdup(name))) {
                free(c);
                fatal(e, d, name, -ENOMEM);
                return;
        }
        c->parent = d;
        c->src_fd = TAKE_FD(sfd);
        c->dst_fd = TAKE_FD(dfd);
        c->fresh = !have_dst;
        if (c->fresh)
                c->born = dir_born(c->dst_fd);
        c->set_meta = !have_dst || !unchanged(e, st, dst_st);
        atomic_init(&c->pending, 1);
        atomic_fetch_add(&d->pending, 1);
        dnode_push_or_run(w, c);
}

static void settle_special(struct worker *w, struct dnode *d, const char *name, const struct stat *st,
                           bool have_dst, const struct stat *dst_st) {
        struct engine *e = w->e;
        int r;

        if (have_dst && unchanged(e, st, dst_st)) {
                if (!S_ISLNK(st->st_mode))
                        return;
                char a[4096], b[4096];
                ssize_t n = readlinkat(d->src_fd, name, a, sizeof a - 1);
                ssize_t m = readlinkat(d->dst_fd, name, b, sizeof b - 1);
                if (n >= 0 && n == m && memcmp(a, b, (size_t) n) == 0)
                        return;
        }
        if (have_dst) {
                uint64_t n = 0;
                r = remove_tree(d->dst_fd, name, &n);
                if (r < 0) {
                        file_failed(e, d, name, r, "Cannot remove old copy of");
                        return;
                }
        }
        d->changed = true;
        if (S_ISLNK(st->st_mode)) {
                /* A target can be up to PATH_MAX; st_size says how long. */
                size_t l = (size_t) MAX(st->st_size, 0) + 2;
                _cleanup_free_ char *t = malloc(l);
                if (!t) {
                        fatal(e, d, name, -ENOMEM);
                        return;
                }
                ssize_t n = readlinkat(d->src_fd, name, t, l);
                if (n < 0 || (size_t) n >= l) {
                        if (n < 0 && errno == ENOENT) {
                                atomic_fetch_add(&e->vanished, 1);
                                return;
                        }
                        file_failed(e, d, name, n < 0 ? -errno : -EAGAIN, "Cannot read symlink");
                        return;
                }
                t[n] = 0;
                if (symlinkat(t, d->dst_fd, name) < 0)
                        goto fail;
        } else if (mknodat(d->dst_fd, name, (st->st_mode & S_IFMT) | 0600, st->st_rdev) < 0)
                goto fail;
        r = set_meta_at(w, d->src_fd, d->dst_fd, name, st);
        if (r == -ENOENT) {
                atomic_fetch_add(&e->vanished, 1);
                return;
        }
        if (r < 0) {
                errno = -r;
                goto fail;
        }
        atomic_fetch_add(&e->files, 1);
        return;
fail:
        r = -errno;
        if (target_full(r))
                fatal(e, d, name, r);
        else
                file_failed(e, d, name, r, "Cannot create");
}

/* type: the entry's d_type, DT_UNKNOWN when not known. */
static void process_entry(struct worker *w, struct dnode *d, const char *name, unsigned char type) {
        struct engine *e = w->e;
        struct stat st, dst_st;
        bool have_dst = false;
        _cleanup_close_ int sfd = -EBADF;

        /* A file new to the target is opened anyway: stat it through the fd. */
        if (d->fresh && type == DT_REG)
                sfd = open_regular(d->src_fd, name, &st);
        if (sfd < 0 && fstatat(d->src_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                        atomic_fetch_add(&e->vanished, 1);
                else
                        file_failed(e, d, name, -errno, "Cannot stat");
                return;
        }
        if (!d->fresh) {
                if (fstatat(d->dst_fd, name, &dst_st, AT_SYMLINK_NOFOLLOW) >= 0)
                        have_dst = true;
                else if (errno != ENOENT) {
                        file_failed(e, d, name, -errno, "Cannot stat target of");
                        return;
                }
                if (have_dst && (st.st_mode & S_IFMT) != (dst_st.st_mode & S_IFMT)) {
                        uint64_t n = 0;
                        int r = remove_tree(d->dst_fd, name, &n);
                        atomic_fetch_add(&e->deleted, n);
                        if (r < 0) {
                                file_failed(e, d, name, r, "Cannot remove old copy of");
                                return;
                        }
                        have_dst = false;
                        d->changed = true;
                }
        }
        atomic_fetch_add(&e->done_entries, 1);

        switch (st.st_mode & S_IFMT) {
        case S_IFDIR:
                settle_dir(w, d, name, &st, have_dst, &dst_st);
                break;
        case S_IFREG:
                if (st.st_nlink > 1) {
                        settle_hardlinked(w, d, name, TAKE_FD(sfd), &st, have_dst, &dst_st);
                        break;
                }
                if (have_dst) {
                        if (unchanged(e, &st, &dst_st) && dst_st.st_nlink == 1)
                                break;
                        uint64_t n = 0;
                        int r = remove_tree(d->dst_fd, name, &n);
                        if (r < 0) {
                                file_failed(e, d, name, r, "Cannot remove old copy of");
                                break;
                        }
                }
                d->changed = true;
                unsigned f = 0;
                if (copy_regular(w, d, name, TAKE_FD(sfd), &st, &f, false) == 1)
                        atomic_fetch_add(&e->vanished, 1);
                break;
        default:
                settle_special(w, d, name, &st, have_dst, &dst_st);
        }
}

/* Removes entries of d's target that are not in its source. */
static void delete_extras(struct worker *w, struct dnode *d) {
        struct engine *e = w->e;
        _cleanup_free_ char *buf = malloc(DENTS_BUF);
        _cleanup_close_ int fd = openat(d->dst_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char **doomed = NULL;
        size_t n_doomed = 0;

        if (!buf || fd < 0)
                return file_failed(e, d, NULL, fd < 0 ? -errno : -ENOMEM, "Cannot list target directory");
        struct dir_reader rd = { .fd = fd, .buf = buf, .size = DENTS_BUF };
        for (const char *name; (name = dir_reader_next(&rd));) {
                struct stat st;
                if (fstatat(d->src_fd, name, &st, AT_SYMLINK_NOFOLLOW) >= 0 || errno != ENOENT)
                        continue;
                char **nd = realloc(doomed, (n_doomed + 1) * sizeof *doomed);
                if (!nd)
                        break;
                doomed = nd;
                if ((doomed[n_doomed] = strdup(name)))
                        n_doomed++;
        }
        for (size_t i = 0; i < n_doomed; i++) {
                uint64_t count = 0;
                int r = remove_tree(d->dst_fd, doomed[i], &count);
                if (r < 0)
                        file_failed(e, d, doomed[i], r, "Cannot delete");
                atomic_fetch_add(&e->deleted, count);
                d->changed = true;
                free(doomed[i]);
        }
        free(doomed);
}

int copy_open_rel(int root, const char *rel, int *ret) {
        /* One component at a time with O_NOFOLLOW: a path in the state file
         * must not lead outside the tree through a symlink. */
        _cleanup_close_ int fd = fcntl(root, F_DUPFD_CLOEXEC, 3);
        _cleanup_free_ char *copy = strdup(rel);
        char *save = NULL;
        if (fd < 0 || !copy)
                return fd < 0 ? -errno : -ENOMEM;
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (streq(c, "."))
                        continue;
                int n = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (n < 0)
                        return -errno;
                safe_close(fd);
                fd = n;
        }
        *ret = TAKE_FD(fd);
        return 0;
}

static void process_dir(struct worker *w, struct dnode *d) {
        struct engine *e = w->e;
        _cleanup_free_ char *buf = malloc(DENTS_BUF);

        if (!buf) {
                fatal(e, d, NULL, -ENOMEM);
                goto done;
        }
        if (d->src_fd < 0) {
                /* A root of a partial sync, opened here, in parallel: on a
                 * cold cache each path costs a few reads.  Gone on either
                 * side: its parent's record settles it. */
                if (copy_open_rel(e->run->src_mount_fd, d->root_path, &d->src_fd) < 0 ||
                    copy_open_rel(e->run->dst_root_fd, d->root_path, &d->dst_fd) < 0) {
                        d->set_meta = false;
                        goto done;
                }
        }
        if (!d->fresh) {
                /* Immutable or append-only directories refuse changes:
                 * lift that now, finalize sets the flags back. */
                unsigned f = 0;
                if (get_flags(d->dst_fd, &f) >= 0 && (f & (FS_IMMUTABLE_FL | FS_APPEND_FL))) {
                        (void) apply_flags(d->dst_fd, f & ~(unsigned) (FS_IMMUTABLE_FL | FS_APPEND_FL)); /* errors show on the entries */
                        d->set_meta = true;
                }
        }
        if (d->only) {
                /* The names the tracker saw change: each is settled, or
                 * deleted from DST when it is gone from SRC. */
                for (char **n = d->only; *n && !aborted(e); n++) {
                        struct stat st;
                        if (streq(*n, "."))
                                continue; /* the directory itself: set_meta */
                        if (fstatat(d->src_fd, *n, &st, AT_SYMLINK_NOFOLLOW) >= 0 || errno != ENOENT) {
                                process_entry(w, d, *n, DT_UNKNOWN);
                                continue;
                        }
                        uint64_t count = 0;
                        int r = remove_tree(d->dst_fd, *n, &count);
                        if (r < 0)
                                file_failed(e, d, *n, r, "Cannot delete");
                        atomic_fetch_add(&e->deleted, count);
                        d->changed = d->changed || count > 0;
                }
                goto done;
        }
        struct dir_reader rd = { .fd = d->src_fd, .buf = buf, .size = DENTS_BUF };
        for (const char *name; (name = dir_reader_next(&rd));) {
                if (aborted(e))
                        goto done;
                process_entry(w, d, name, rd.type);
        }
        if (errno != 0)
                file_failed(e, d, NULL, -errno, "Cannot read directory");
        if (!d->fresh && !aborted(e))
                delete_extras(w, d);
done:
        dnode_release(w, d);
}

/* Drops one reference; the last sets the directory's metadata, after all
 * its contents, and releases the parent in turn. */
static void dnode_release(struct worker *w, struct dnode *d) {
        struct engine *e = w->e;

        while (d && atomic_fetch_sub(&d->pending, 1) == 1) {
                struct dnode *parent = d->parent;
                if (!aborted(e) && (d->set_meta || d->changed)) {
                        struct stat st;
                        int r = fstat(d->src_fd, &st) < 0 ? -errno :
                                set_meta_fd(w, d->src_fd, d->dst_fd, &st, true, &d->born);
                        if (r < 0) {
                                if (target_full(r))
                                        fatal(e, d, NULL, r);
                                else
                                        file_failed(e, d, NULL, r, "Cannot set metadata of directory");
                        }
                }
                dnode_free(d);
                d = parent;
        }
}

static void *worker_main(void *p) {
        struct worker *w = p;
        struct engine *e = w->e;

        for (;;) {
                pthread_mutex_lock(&e->lock);
                while (e->n_stack == 0 && e->busy > 0 && !e->abort)
                        pthread_cond_wait(&e->cond, &e->lock);
                if (e->n_stack == 0 || e->abort) {
                        pthread_cond_broadcast(&e->cond);
                        pthread_mutex_unlock(&e->lock);
                        return NULL;
                }
                struct dnode *d = e->stack[--e->n_stack];
                e->busy++;
                pthread_mutex_unlock(&e->lock);

                process_dir(w, d);

                pthread_mutex_lock(&e->lock);
                e->busy--;
                if (e->n_stack == 0 && e->busy == 0) {
                        pthread_cond_broadcast(&e->cond);
                        pthread_cond_broadcast(&e->done_cond);
                }
                pthread_mutex_unlock(&e->lock);
        }
}

unsigned copy_default_jobs(bool compare) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        /* Cold-cache copies wait on the disk far more than on the CPU:
         * more workers than CPUs keep more requests in flight.  Comparing
         * (the sync) is almost only waiting for inodes to be read. */
        if (compare)
                return (unsigned) MIN(MAX(n * 16, 32L), 64L);
        return (unsigned) MIN(MAX(n * 4, 8L), 64L);
}

static void raise_fd_limit(void) {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) >= 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void) setrlimit(RLIMIT_NOFILE, &rl); /* the default limit works for most trees */
        }
}

static void progress_now(const struct copy_run *run, struct engine *e, double start, uint64_t bytes_total,
                         uint64_t files_total) {
        if (!run->opts->progress)
                return;
        struct copy_progress p = {
                .bytes_done = atomic_load(&e->bytes),
                .files_done = atomic_load(&e->done_entries),
                .bytes_total = bytes_total,
                .files_total = files_total,
                .elapsed = copy_now() - start,
        };
        run->opts->progress(&p, run->opts->userdata);
}

int copy_run(const struct copy_run *run, struct copy_stats *stats, char **ret_error) {
        const struct copy_options *o = run->opts;
        unsigned jobs = o->jobs ? o->jobs : copy_default_jobs(run->sync);
        double start = copy_now();
        uint64_t bytes_total = 0, files_total = 0;
        struct engine *e;
        int r = 0;

        raise_fd_limit();
        e = calloc(1, sizeof *e);
        if (!e)
                return -ENOMEM;
        e->run = run;
        e->o = o;
        pthread_mutex_init(&e->lock, NULL);
        pthread_cond_init(&e->cond, NULL);
        pthread_cond_init(&e->done_cond, NULL);
        pthread_mutex_init(&e->hl_lock, NULL);
        pthread_cond_init(&e->hl_cond, NULL);

        if (run->src_mount_fd >= 0 && run->recurse) {
                struct statvfs sv;
                if (fstatvfs(run->src_mount_fd, &sv) >= 0) {
                        bytes_total = (uint64_t) (sv.f_blocks - sv.f_bfree) * sv.f_frsize;
                        files_total = sv.f_files - sv.f_ffree;
                }
        }

        /* The roots go first; workers take them from the stack. */
        for (size_t i = 0; i < run->n_roots; i++) {
                struct dnode *d = calloc(1, sizeof *d);
                if (!d || !(d->root_path = strdup(run->roots[i].path))) {
                        free(d);
                        r = -ENOMEM;
                        break;
                }
                d->src_fd = TAKE_FD(run->roots[i].src_fd);
                d->dst_fd = TAKE_FD(run->roots[i].dst_fd);
                d->only = TAKE_PTR(run->roots[i].only);
                d->fresh = !run->compare;
                d->set_meta = true;
                atomic_init(&d->pending, 1);
                if (e->n_stack >= STACK_MAX) { /* copy_sync() passes batches of at most STACK_MAX */
                        dnode_free(d);
                        r = -E2BIG;
                        break;
                }
                e->stack[e->n_stack++] = d;
        }

        struct worker *ws = calloc(jobs, sizeof *ws);
        pthread_t *th = calloc(jobs, sizeof *th);
        unsigned started = 0;
        if (!ws || !th)
                r = -ENOMEM;
        for (unsigned i = 0; r >= 0 && i < jobs; i++) {
                ws[i].e = e;
                ws[i].buf = malloc(COPY_BUF);
                ws[i].xlist = malloc(XATTR_LIST_MAX_);
                ws[i].xlist2 = malloc(XATTR_LIST_MAX_);
                ws[i].xval = malloc(XATTR_VALUE_MAX);
                if (!ws[i].buf || !ws[i].xlist || !ws[i].xlist2 || !ws[i].xval) {
                        r = -ENOMEM;
                        break;
                }
                pthread_attr_t attr;
                pthread_attr_init(&attr);
                pthread_attr_setstacksize(&attr, 8 << 20); /* inline recursion on deep trees */
                int k = pthread_create(&th[i], &attr, worker_main, &ws[i]);
                pthread_attr_destroy(&attr);
                if (k != 0) {
                        r = -k;
                        break;
                }
                started++;
        }
        if (r < 0) {
                pthread_mutex_lock(&e->lock);
                e->abort = true;
                pthread_cond_broadcast(&e->cond);
                pthread_mutex_unlock(&e->lock);
        }

        /* This thread reports progress until the workers are done. */
        unsigned interval = o->progress_interval_ms ? o->progress_interval_ms : 500;
        pthread_mutex_lock(&e->lock);
        while (started > 0 && !((e->n_stack == 0 && e->busy == 0) || e->abort)) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_nsec += (long) (interval % 1000) * 1000000L;
                ts.tv_sec += interval / 1000 + ts.tv_nsec / 1000000000L;
                ts.tv_nsec %= 1000000000L;
                int k = pthread_cond_timedwait(&e->done_cond, &e->lock, &ts);
                if (k == ETIMEDOUT) {
                        pthread_mutex_unlock(&e->lock);
                        progress_now(run, e, start, bytes_total, files_total);
                        pthread_mutex_lock(&e->lock);
                }
        }
        pthread_mutex_unlock(&e->lock);
        for (unsigned i = 0; i < started; i++)
                pthread_join(th[i], NULL);
        progress_now(run, e, start, bytes_total, files_total);

        /* Left behind by an abort. */
        for (size_t i = 0; i < e->n_stack; i++) {
                struct dnode *d = e->stack[i];
                while (d) {
                        struct dnode *p = d->parent;
                        if (atomic_fetch_sub(&d->pending, 1) != 1)
                                break;
                        dnode_free(d);
                        d = p;
                }
        }
        /* Links whose other names were outside the tree or vanished. */
        for (size_t i = 0; i < HL_BUCKETS; i++)
                while (e->hl[i])
                        hl_drop_locked(e, &e->hl[i]);

        if (ws)
                for (unsigned i = 0; i < jobs; i++) {
                        free(ws[i].buf);
                        free(ws[i].xlist);
                        free(ws[i].xlist2);
                        free(ws[i].xval);
                }
        free(ws);
        free(th);

        stats->files += atomic_load(&e->files);
        stats->bytes += atomic_load(&e->bytes);
        stats->hardlinks += atomic_load(&e->hardlinks);
        stats->deleted += atomic_load(&e->deleted);
        stats->vanished += atomic_load(&e->vanished);
        stats->errors += atomic_load(&e->errors);
        stats->elapsed += copy_now() - start;

        if (r >= 0 && e->fatal) {
                r = e->fatal;
                set_error(ret_error, "%s", strna(e->fatal_msg));
        } else if (r >= 0 && e->file_error) {
                r = e->file_error == -ENOENT ? -EIO : e->file_error;
                set_error(ret_error, "%" PRIu64 " file(s) could not be copied; the first: %s",
                          atomic_load(&e->errors), strna(e->file_error_msg));
        } else if (r < 0)
                set_error(ret_error, "Cannot start the copy: %s", strerror(-r));

        free(e->fatal_msg);
        free(e->file_error_msg);
        pthread_mutex_destroy(&e->lock);
        pthread_cond_destroy(&e->cond);
        pthread_cond_destroy(&e->done_cond);
        pthread_mutex_destroy(&e->hl_lock);
        pthread_cond_destroy(&e->hl_cond);
        free(e);
        return r;
}

static bool dir_is_empty(int fd) {
        char buf[1024];
        _cleanup_close_ int d = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0)
                return false;
        struct dir_reader rd = { .fd = d, .buf = buf, .size = sizeof buf };
        return !dir_reader_next(&rd);
}

int copy_open_pair(const struct copy_options *o, int *ret_src, int *ret_dst, char **ret_error) {
        _cleanup_close_ int src = -EBADF;
        int r = copy_open_source(o->src, &src, ret_error);
        if (r < 0)
                return r;
        int fd = open(o->dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                r = -errno;
                set_error(ret_error, "Cannot open the target directory %s: %s", o->dst, strerror(-r));
                return r;
        }
        *ret_src = TAKE_FD(src);
        *ret_dst = fd;
        return 0;
}

int copy_tree(const struct copy_options *o, struct copy_stats *ret_stats, char **ret_error) {
        struct copy_stats stats = {};
        _cleanup_close_ int src = -EBADF, dst = -EBADF;
        int r;

        r = copy_open_pair(o, &src, &dst, ret_error);
        if (r < 0)
                return r;
        bool compare = !dir_is_empty(dst);
        struct copy_root root = {
                .src_fd = fcntl(src, F_DUPFD_CLOEXEC, 3),
                .dst_fd = fcntl(dst, F_DUPFD_CLOEXEC, 3),
                .path = (char *) ".",
        };
        if (root.src_fd < 0 || root.dst_fd < 0) {
                safe_close(root.src_fd);
                return -errno;
        }
        _cleanup_fclose_ FILE *map = NULL;
        if (o->link_map) {
                /* File handles of DST: for root's eyes only. */
                int fd = open(o->link_map, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
                map = fd >= 0 ? fdopen(fd, "we") : NULL;
                if (!map) {
                        r = -errno;
                        safe_close(fd);
                        safe_close(root.src_fd);
                        safe_close(root.dst_fd);
                        set_error(ret_error, "Cannot create the link map %s: %s", o->link_map, strerror(-r));
                        return r;
                }
                fputs("rootraid-copy-links 1\n", map);
        }
        struct copy_run run = {
                .opts = o,
                .roots = &root,
                .n_roots = 1,
                .compare = compare,
                .recurse = true,
                .src_mount_fd = src,
                .dst_root_fd = dst,
                .link_map = map,
        };
        r = copy_run(&run, &stats, ret_error);
        if (map) {
                /* A map that may lack entries must not be trusted. */
                int k = fflush(map) == 0 && !ferror(map) ? 0 : -(errno ?: EIO);
                if (fclose(TAKE_PTR(map)) != 0 && k == 0)
                        k = -errno;
                if (k < 0) {
                        (void) unlink(o->link_map); /* the sync falls back to a full comparison */
                        copy_message(o, COPY_MESSAGE_WARNING, ".", "cannot write the link map %s: %s",
                                     o->link_map, strerror(-k));
                }
        }
        if (ret_stats)
                *ret_stats = stats;
        return r;
}


static size_t path_depth(const char *dir) {
        size_t n = 1;
        if (streq(dir, "."))
                return 0;
        for (const char *p = dir; *p; p++)
                n += *p == '/';
        return n;
}

/* Runs the engine over the entries in list (sorted parents first): with
 * names, "DIR/NAME" entries grouped by DIR, each directory comparing only
 * those names; else whole subtrees.  In batches, one after the other, each
 * of at most STACK_MAX directories of the same depth: a directory is never
 * worked on while its parent's run may be creating it. */
static int sync_batches(const struct copy_options *o, int src, int dst, char **list, bool names,
                        struct timespec t0, struct copy_stats *stats, struct hl_defer *defer, char **ret_error) {
        size_t n = strv_length(list), k = 0, depth = 0;
        struct copy_root roots[STACK_MAX] = {};
        _cleanup_free_ char *cur = NULL;
        int r = 0;

        for (size_t i = 0; i < n && r >= 0; i++) {
                _cleanup_free_ char *dir = strdup(list[i]);
                if (!dir)
                        return -ENOMEM;
                char *name = NULL;
                if (names) {
                        char *slash = strrchr(dir, '/');
                        if (!slash)
                                return -EBADMSG;
                        *slash = 0;
                        name = slash + 1;
                }
                bool same = names && cur && streq(cur, dir);
                if (!same) {
                        free(cur);
                        cur = TAKE_PTR(dir);
                        if (k > 0 && (k == STACK_MAX || path_depth(cur) != depth)) {
                                /* Run this batch before the next one. */
                                struct copy_run run = {
                                        .opts = o, .roots = roots, .n_roots = k, .compare = true,
                                        .recurse = !names, .partial = true, .sync = true, .t0 = t0, .src_mount_fd = src,
                                        .dst_root_fd = dst, .defer = defer,
                                };
                                r = copy_run(&run, stats, ret_error);
                                for (size_t j = 0; j < k; j++) {
                                        free(roots[j].path);
                                        strv_free(roots[j].only);
                                }
                                memset(roots, 0, sizeof roots);
                                k = 0;
                                if (r < 0)
                                        break;
                        }
                        /* Opened by the workers (see process_dir()). */
                        depth = path_depth(cur);
                        roots[k++] = (struct copy_root) { .src_fd = -EBADF, .dst_fd = -EBADF, .path = strdup(cur) };
                        if (!roots[k - 1].path)
                                r = -ENOMEM;
                }
                if (names && cur && strv_extend(&roots[k - 1].only, name) < 0)
                        r = -ENOMEM;
        }
        if (r >= 0 && k > 0) {
                struct copy_run run = {
                        .opts = o, .roots = roots, .n_roots = k, .compare = true,
                        .recurse = !names, .partial = true, .sync = true, .t0 = t0, .src_mount_fd = src,
                        .dst_root_fd = dst, .defer = defer,
                };
                r = copy_run(&run, stats, ret_error);
        }
        for (size_t j = 0; j < k; j++) {
                safe_close(roots[j].src_fd);
                safe_close(roots[j].dst_fd);
                free(roots[j].path);
                strv_free(roots[j].only);
        }
        return r;
}

/* ---- hard-linked files changed since the first pass ---- */

/* One name of a changed hard-linked file, met by a sync. */
struct hl_name {
        char *dir;              /* relative to the root, "." for it */
        const char *name;       /* inside dir's allocation */
        ino_t ino;
        nlink_t nlink;
};

/* A copy that copy_tree() made of a source inode (the link map). */
struct hl_copy {
        ino_t ino;
        struct file_handle *fh;
};

static int hl_name_cmp(const void *a, const void *b) {
        const struct hl_name *x = a, *y = b;
        if (x->ino != y->ino)
                return x->ino < y->ino ? -1 : 1;
        int c = strcmp(x->dir, y->dir);
        return c ? c : strcmp(x->name, y->name);
}

static bool hl_names_have(const struct hl_name *names, size_t n, ino_t ino) {
        size_t lo = 0, hi = n;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                if (names[mid].ino == ino)
                        return true;
                if (names[mid].ino < ino)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return false;
}

/* Reads the copies of the inodes in names (sorted by ino) from the link
 * map: memory for the changed inodes only, however large the map.
 * *ret_usable is false when there is no map or it may lack entries. */
static int link_map_read(const char *path, const struct hl_name *names, size_t n, struct hl_copy **ret,
                         size_t *ret_n, bool *ret_usable) {
        _cleanup_fclose_ FILE *f = NULL;
        _cleanup_free_ char *line = NULL;
        struct hl_copy *copies = NULL;
        size_t size = 0, k = 0;
        bool header = false, usable = true;

        *ret = NULL;
        *ret_n = 0;
        *ret_usable = false;
        if (!path)
                return 0;
        f = fopen(path, "re");
        if (!f)
                return errno == ENOENT ? 0 : -errno;
        while (getline(&line, &size, f) > 0) {
                uintmax_t ino;
                int type, len = 0;
                char hex[2 * MAX_HANDLE_SZ + 1];
                if (streq(line, "rootraid-copy-links 1\n")) {
                        header = true;
                        continue;
                }
                if (sscanf(line, "%ju %d %256[0-9a-f]%n", &ino, &type, hex, &len) != 3 || strlen(hex) % 2) {
                        usable = false; /* "incomplete", or damaged */
                        continue;
                }
                if (!hl_names_have(names, n, (ino_t) ino))
                        continue;
                size_t bytes = strlen(hex) / 2;
                struct file_handle *fh = malloc(sizeof *fh + bytes);
                struct hl_copy *nc = realloc(copies, (k + 1) * sizeof *copies);
                if (!fh || !nc) {
                        free(fh);
                        if (nc)
                                copies = nc;
                        for (size_t i = 0; i < k; i++)
                                free(copies[i].fh);
                        free(copies);
                        return -ENOMEM;
                }
                copies = nc;
                fh->handle_type = type;
                fh->handle_bytes = (unsigned) bytes;
                for (size_t i = 0; i < bytes; i++)
                        sscanf(hex + 2 * i, "%2hhx", &fh->f_handle[i]);
                copies[k++] = (struct hl_copy) { .ino = (ino_t) ino, .fh = fh };
        }
        *ret = copies;
        *ret_n = k;
        *ret_usable = header && usable && !ferror(f);
        return 0;
}

/* Opens the directory dir of SRC and of DST. */
static int open_dir_pair(int src, int dst, const char *dir, int *ret_src, int *ret_dst) {
        _cleanup_close_ int s = -EBADF, d = -EBADF;
        int r = copy_open_rel(src, dir, &s);
        if (r < 0)
                return r;
        r = copy_open_rel(dst, dir, &d);
        if (r < 0)
                return r;
        *ret_src = TAKE_FD(s);
        *ret_dst = TAKE_FD(d);
        return 0;
}

/* Makes the DST name dir/name a link to target (an O_PATH fd); keeps the
 * DST directory's metadata (times, flags) equal to SRC's. */
static int hl_link_name(struct worker *w, int src, int dst, const struct hl_name *n, int target,
                        const struct stat *tst) {
        _cleanup_close_ int sdir = -EBADF, ddir = -EBADF;
        struct stat st, sdst;
        int r = open_dir_pair(src, dst, n->dir, &sdir, &ddir);
        if (r < 0)
                return r;
        if (fstatat(ddir, n->name, &st, AT_SYMLINK_NOFOLLOW) >= 0 && st.st_ino == tst->st_ino &&
            st.st_dev == tst->st_dev)
                return 0;
        unsigned f = 0;
        if (get_flags(ddir, &f) >= 0 && (f & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
                (void) apply_flags(ddir, f & ~(unsigned) (FS_IMMUTABLE_FL | FS_APPEND_FL)); /* linkat tells */
        uint64_t count = 0;
        r = remove_tree(ddir, n->name, &count);
        if (r >= 0)
                r = link_to(target, ddir, n->name);
        if (r >= 0)
                atomic_fetch_add(&w->e->hardlinks, 1);
        /* The directory changed in DST: its times (and flags) again. */
        int k = fstat(sdir, &sdst) < 0 ? -errno : set_meta_fd(w, sdir, ddir, &sdst, true, NULL);
        return r < 0 ? r : k;
}

/* Settles one changed inode: names[0..n) are all the names the sync met,
 * copies[0..m) the copies the link map knows of.  Returns 0, 1 with *ret_why
 * when its names cannot all be known, or a negative errno. */
static int hl_settle(struct worker *w, int src, int dst, const struct hl_name *names, size_t n,
                     const struct hl_copy *copies, size_t m, bool map_usable, char **ret_why) {
        _cleanup_close_ int sdir = -EBADF, ddir = -EBADF, sfd = -EBADF, dfd = -EBADF, target = -EBADF;
        struct stat st, tst;
        int r;

        r = open_dir_pair(src, dst, names[0].dir, &sdir, &ddir);
        if (r < 0)
                return r;
        sfd = openat(sdir, names[0].name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        if (sfd < 0 || fstat(sfd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode) || st.st_ino != names[0].ino || st.st_nlink != names[0].nlink) {
                (void) asprintf(ret_why, "%s/%s changed while syncing", names[0].dir, names[0].name);
                return 1;
        }
        if (n < st.st_nlink) {
                /* Names outside the record: they are in DST, linked to
                 * the copy made by the first pass.  Rewrite that inode. */
                struct stat best = {};
                for (size_t i = 0; i < m; i++) {
                        _cleanup_close_ int fd = open_by_handle_at(dst, copies[i].fh, O_PATH | O_CLOEXEC);
                        struct stat cst;
                        if (fd < 0 || fstat(fd, &cst) < 0 || !S_ISREG(cst.st_mode) || cst.st_nlink <= best.st_nlink)
                                continue;
                        best = cst;
                        safe_close(target);
                        target = TAKE_FD(fd);
                }
                if (target < 0) {
                        (void) asprintf(ret_why,
                                        "a changed file with %ju names (%s/%s) has names outside the change record, "
                                        "and %s", (uintmax_t) st.st_nlink, names[0].dir, names[0].name,
                                        !map_usable ? "there is no complete link map to find their copy"
                                                    : "the link map knows no copy of it in the target");
                        return 1;
                }
                char p[32];
                unsigned f = 0;
                _cleanup_close_ int ro = open(proc_fd(p, target), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
                if (ro >= 0 && get_flags(ro, &f) >= 0 && (f & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
                        (void) apply_flags(ro, f & ~(unsigned) (FS_IMMUTABLE_FL | FS_APPEND_FL)); /* open() tells */
                dfd = open(proc_fd(p, target), O_WRONLY | O_TRUNC | O_CLOEXEC);
                if (dfd < 0)
                        return -errno;
        } else {
                /* Every name is known: a new copy, without a name until
                 * it is complete, then linked under each. */
                dfd = openat(ddir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
                if (dfd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
                        return -errno;
                if (dfd < 0) {
                        /* No O_TMPFILE here: made under its first name. */
                        uint64_t count = 0;
                        unsigned f = 0;
                        struct stat sdst;
                        if (get_flags(ddir, &f) >= 0 && (f & (FS_IMMUTABLE_FL | FS_APPEND_FL)))
                                (void) apply_flags(ddir, f & ~(unsigned) (FS_IMMUTABLE_FL | FS_APPEND_FL)); /* openat tells */
                        r = remove_tree(ddir, names[0].name, &count);
                        if (r < 0)
                                return r;
                        dfd = openat(ddir, names[0].name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                        if (dfd < 0)
                                return -errno;
                        r = fstat(sdir, &sdst) < 0 ? -errno : set_meta_fd(w, sdir, ddir, &sdst, true, NULL);
                        if (r < 0)
                                return r;
                }
                target = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
                if (target < 0)
                        return -errno;
        }
        bool src_side = false;
        r = copy_data(w, sfd, dfd, &st, &src_side);
        if (r >= 0)
                r = set_meta_fd(w, sfd, dfd, &st, false, NULL);
        if (r >= 0 && fstat(dfd, &tst) < 0)
                r = -errno;
        if (r < 0)
                return r;
        atomic_fetch_add(&w->e->files, 1);
        for (size_t i = 0; i < n; i++) {
                r = hl_link_name(w, src, dst, &names[i], target, &tst);
                if (r < 0)
                        return r;
        }
        /* Flags such as immutable forbid link(): last. */
        return copy_flags(sfd, dfd);
}

/* Settles every changed hard-linked file the sync met (q), with all its
 * names: those met, and the others through the copy the link map names.
 * Afterwards each copy must have as many names in DST as the file in SRC.
 * Returns 0, 1 with *ret_why when something cannot be known (the caller
 * then compares the whole tree), or a negative errno. */
static int sync_hardlinks(const struct copy_options *o, int src, int dst, struct hl_defer *q, struct copy_stats *stats,
                          char **ret_why, char **ret_error) {
        _cleanup_free_ struct hl_name *names = calloc(MAX(q->n, (size_t) 1), sizeof *names);
        struct hl_copy *copies = NULL;
        size_t n = 0, m = 0;
        bool map_usable = false;
        int r = 0;

        if (q->n == 0)
                return 0;
        if (!names)
                return -ENOMEM;
        for (size_t i = 0; i < q->n && r == 0; i++) {
                struct hl_name *h = &names[n];
                _cleanup_close_ int sdir = -EBADF;
                struct stat st;
                char *slash = strrchr(q->paths[i], '/');
                h->dir = strdup(slash ? q->paths[i] : ".");
                if (!h->dir) {
                        r = -ENOMEM;
                        break;
                }
                n++;
                if (slash) {
                        h->dir[slash - q->paths[i]] = 0;
                        h->name = h->dir + (slash - q->paths[i]) + 1;
                } else
                        h->name = q->paths[i];
                if (copy_open_rel(src, h->dir, &sdir) < 0 || fstatat(sdir, h->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISREG(st.st_mode) || st.st_nlink < 2) {
                        (void) asprintf(ret_why, "%s changed while syncing", q->paths[i]);
                        r = 1;
                        break;
                }
                h->ino = st.st_ino;
                h->nlink = st.st_nlink;
        }
        if (r == 0) {
                qsort(names, n, sizeof *names, hl_name_cmp);
                /* The same name met twice (in the record and in a subtree). */
                size_t k = 0;
                for (size_t i = 0; i < n; i++)
                        if (k > 0 && hl_name_cmp(&names[k - 1], &names[i]) == 0)
                                free(names[i].dir);
                        else
                                names[k++] = names[i];
                n = k;
                r = link_map_read(o->link_map, names, n, &copies, &m, &map_usable);
                if (r < 0)
                        set_error(ret_error, "Cannot read the link map %s: %s", o->link_map, strerror(-r));
        }

        struct engine e = { .o = o };
        struct copy_run run = { .opts = o, .src_mount_fd = src, .dst_root_fd = dst };
        struct worker w = { .e = &e, .buf = malloc(COPY_BUF), .xlist = malloc(XATTR_LIST_MAX_),
                            .xlist2 = malloc(XATTR_LIST_MAX_), .xval = malloc(XATTR_VALUE_MAX) };
        e.run = &run;
        if (r == 0 && (!w.buf || !w.xlist || !w.xlist2 || !w.xval))
                r = -ENOMEM;
        for (size_t i = 0, j; r == 0 && i < n; i = j) {
                for (j = i; j < n && names[j].ino == names[i].ino; j++)
                        ;
                /* The link map is in the order of the copy, not of inodes. */
                _cleanup_free_ struct hl_copy *mine = calloc(MAX(m, (size_t) 1), sizeof *mine);
                size_t k = 0;
                if (!mine) {
                        r = -ENOMEM;
                        break;
                }
                for (size_t x = 0; x < m; x++)
                        if (copies[x].ino == names[i].ino)
                                mine[k++] = copies[x];
                r = hl_settle(&w, src, dst, names + i, j - i, mine, k, map_usable, ret_why);
                if (r < 0) {
                        set_error(ret_error, "Cannot settle the hard-linked file %s/%s: %s", names[i].dir,
                                  names[i].name, strerror(-r));
                        if (target_full(r))
                                set_error(ret_error, "The target is full (%s) while writing %s/%s.", strerror(-r),
                                          names[i].dir, names[i].name);
                }
        }
        /* Every copy has all its names, and no others. */
        for (size_t i = 0; r == 0 && i < n; i++) {
                _cleanup_close_ int ddir = -EBADF;
                struct stat st = {};
                if (copy_open_rel(dst, names[i].dir, &ddir) < 0 || fstatat(ddir, names[i].name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    st.st_nlink != names[i].nlink) {
                        (void) asprintf(ret_why, "the copy of %s/%s has %ju names in the target, the file %ju",
                                        names[i].dir, names[i].name, (uintmax_t) st.st_nlink,
                                        (uintmax_t) names[i].nlink);
                        r = 1;
                }
        }
        stats->files += atomic_load(&e.files);
        stats->bytes += atomic_load(&e.bytes);
        stats->hardlinks += atomic_load(&e.hardlinks);
        free(w.buf);
        free(w.xlist);
        free(w.xlist2);
        free(w.xval);
        for (size_t i = 0; i < m; i++)
                free(copies[i].fh);
        free(copies);
        for (size_t i = 0; i < n; i++)
                free(names[i].dir);
        return r;
}

/* Moves DST's entries the way SRC's were renamed, in order, so that a
 * renamed file or directory is not copied again and a renamed hard-linked
 * file keeps its links.  Only a head start: every name involved is in the
 * record and compared afterwards, so a failure here is harmless. */
static void replay_renames(int dst, char **renames) {
        for (size_t i = 0; renames && renames[i] && renames[i + 1]; i += 2) {
                _cleanup_free_ char *od = strdup(renames[i]), *nd = strdup(renames[i + 1]);
                char *on, *nn;
                if (!od || !nd || !(on = strrchr(od, '/')) || !(nn = strrchr(nd, '/')))
                        continue;
                *on++ = 0;
                *nn++ = 0;
                _cleanup_close_ int ofd = -EBADF, nfd = -EBADF;
                if (streq(on, ".") || streq(nn, ".") || copy_open_rel(dst, od, &ofd) < 0 || copy_open_rel(dst, nd, &nfd) < 0)
                        continue;
                (void) renameat(ofd, on, nfd, nn); /* see above */
        }
}

int copy_sync(const struct copy_options *o, struct copy_tracker *t, const char *state_path,
              struct copy_stats *ret_stats, char **ret_error) {
        struct copy_stats stats = {};
        _cleanup_close_ int src = -EBADF, dst = -EBADF;
        _cleanup_strv_free_ char **dirs = NULL, **trees = NULL, **renames = NULL;
        _cleanup_free_ char *why = NULL;
        struct timespec t0 = {};
        struct hl_defer defer = { .lock = PTHREAD_MUTEX_INITIALIZER };
        bool full = true;
        double tp = copy_now();
        int r;

        r = copy_open_pair(o, &src, &dst, ret_error);
        if (r < 0)
                return r;
        copy_phase(o, "open", &tp);

        if (t || state_path) {
                r = copy_state_collect(o, t, state_path, src, dst, &dirs, &trees, &renames, &full, &why, &t0);
                if (r < 0) {
                        set_error(ret_error, "Cannot read the change record %s: %s", strna(state_path), strerror(-r));
                        return r;
                }
        } else
                why = strdup("no change record was given");

        if (!full) {
                size_t n = strv_length(dirs), m = strv_length(trees);
                stats.recorded = n + m;
                copy_phase(o, "record", &tp);
                copy_message(o, COPY_MESSAGE_INFO, ".",
                             "syncing the %zu entries where changes were recorded, and %zu new subtrees", n, m);
                replay_renames(dst, renames);
                copy_phase(o, "renames", &tp);
                /* One level deep first, then the subtrees made or moved in:
                 * no directory is worked on by two runs at once. */
                r = sync_batches(o, src, dst, dirs, true, t0, &stats, &defer, ret_error);
                copy_phase(o, "entries", &tp);
                if (r >= 0)
                        r = sync_batches(o, src, dst, trees, false, t0, &stats, &defer, ret_error);
                copy_phase(o, "subtrees", &tp);
                if (r >= 0) {
                        free(why);
                        why = NULL;
                        r = sync_hardlinks(o, src, dst, &defer, &stats, &why, ret_error);
                        copy_phase(o, "hard links", &tp);
                        if (r > 0) {
                                /* The names of a changed hard-linked file
                                 * cannot all be known: find them by a walk. */
                                full = true;
                                r = 0;
                        }
                }
                if (r < 0)
                        goto finish;
        }
        if (full) {
                copy_message(o, COPY_MESSAGE_INFO, ".", "full comparison of the whole tree: %s", strna(why));
                struct copy_root root = {
                        .src_fd = fcntl(src, F_DUPFD_CLOEXEC, 3),
                        .dst_fd = fcntl(dst, F_DUPFD_CLOEXEC, 3),
                        .path = (char *) ".",
                };
                struct copy_run run = {
                        .opts = o, .roots = &root, .n_roots = 1, .compare = true, .recurse = true,
                        .sync = true, .t0 = t0, .src_mount_fd = src, .dst_root_fd = dst,
                };
                stats.full_compare = true;
                r = copy_run(&run, &stats, ret_error);
                copy_phase(o, "full comparison", &tp);
        }
finish:
        for (size_t i = 0; i < defer.n; i++)
                free(defer.paths[i]);
        free(defer.paths);
        pthread_mutex_destroy(&defer.lock);
        /* The record described changes up to now: a later sync must not
         * trust it, it finds no record and compares everything. */
        if (r >= 0 && state_path && unlink(state_path) < 0 && errno != ENOENT)
                copy_message(o, COPY_MESSAGE_WARNING, ".", "cannot remove the used change record %s: %s", state_path,
                             strerror(errno));
        if (r >= 0 && o->link_map && unlink(o->link_map) < 0 && errno != ENOENT)
                copy_message(o, COPY_MESSAGE_WARNING, ".", "cannot remove the used link map %s: %s", o->link_map,
                             strerror(errno));
        copy_phase(o, "finish", &tp);
        if (ret_stats)
                *ret_stats = stats;
        return r;
}
