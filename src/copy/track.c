/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The change tracker: which directories of SRC changed since the first pass
 * started.
 *
 * A fanotify group with FAN_REPORT_DFID_NAME and a FAN_MARK_FILESYSTEM mark
 * reports, for every create, delete, rename, write and attribute change
 * anywhere on the filesystem, the file handle of the directory holding the
 * entry.  We keep the set of those handles (bounded: past TRACK_MAX_DIRS we
 * give up and say so) and, for the final sync, turn each into a path
 * relative to the root of our private clone of the mount: the path the
 * directory had at its first event, if it still leads to the same handle,
 * else open_by_handle_at() (slow on a cold cache).  The sync compares those directories one level deep; new
 * subdirectories are copied whole.  Anything we cannot trust makes the sync
 * compare the whole tree instead, and say why: the kernel dropped events
 * (FAN_Q_OVERFLOW: the queue is bounded on purpose), too many directories,
 * the recorder died, a path cannot be resolved.  Writes through shared
 * mmap()s generate no FAN_MODIFY; they are recorded by FAN_CLOSE_WRITE
 * when the last reference to the file opened for writing goes (the
 * descriptor closed and the mapping gone: at the latest when the process
 * exits, as services do before the final sync).  A file still mapped
 * writable at the final sync is not settled; test-copy-sync covers the
 * process that exits.
 *
 * Across processes (`rootraid copy --track --state FILE`, then
 * `rootraid copy --sync FILE`), the recorder is a daemon forked by the CLI.
 * It writes FILE at once with status "recording" and its pid and start
 * time; on SIGUSR1 or SIGTERM it reads what is queued, rewrites FILE with
 * status "final" (or "overflow") and the handles, and exits.  copy_sync()
 * reading a "recording" FILE signals that pid (checking its start time, so
 * a reused pid is not mistaken for it) and waits for the final save.  A
 * recorder that is gone means a full comparison.
 *
 * State file, text, one record a line:
 *   rootraid-copy-state 1
 *   pid PID STARTTIME
 *   t0 SEC NSEC          the tracker started: ctime >= t0 means changed
 *   fsid HEX HEX         which filesystem the handles belong to
 *   status recording|final|overflow
 *   why TEXT             (overflow only)
 *   dir TYPE HEX NAMEHEX  a changed entry: its directory's handle, its name
 *   tree TYPE HEX NAMEHEX a directory made or moved there: compare it whole
 *   rename TYPE HEX NAMEHEX TYPE HEX NAMEHEX  old and new name, in order
 *   path TYPE HEX PATHHEX where that directory was at its first change (a
 *                         hint, checked against the handle; see dir_hint)
 */
#include <fcntl.h>
#include <stddef.h>
#include <limits.h>
#include <stdatomic.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>

#include "copy/copy-internal.h"
#include "util/fileio.h"
#include "util/strutil.h"

#define TRACK_MAX_ENTRIES 131072 /* about 40 MiB at most */
#define TRACK_BUCKETS 8192
#define TRACK_EVENTS                                                    \
        (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO |      \
         FAN_MODIFY | FAN_ATTRIB | FAN_CLOSE_WRITE | FAN_ONDIR)

/* A changed entry: the handle of its directory and its name ("." for the
 * directory itself); with tree, a directory created or moved in there,
 * whose whole subtree the sync must compare. */
struct handle_entry {
        struct handle_entry *next;
        int type;
        unsigned size;
        bool tree;
        unsigned char bytes[]; /* handle, then the name and a NUL */
};

/* A rename (FAN_RENAME, Linux 5.17): old directory handle and name, new
 * directory handle and name.  Kept in order; the sync replays them on DST
 * first, so a renamed file or directory is moved there rather than copied
 * again (and a renamed hard-linked file keeps its links). */
struct rename_rec {
        struct rename_rec *next;
        char *line; /* "TYPE HEX NAMEHEX TYPE HEX NAMEHEX" */
};

/* Where a changed directory was when its first event came (a hint: the
 * sync checks that the path still leads to this handle).  Found while
 * the directory is in the cache, it spares the sync open_by_handle_at()
 * on a cold one, which reads every ancestor's whole directory to find
 * their names. */
struct dir_hint {
        struct dir_hint *next;
        int type;
        unsigned size;
        char *path;             /* relative to the root, "." for it */
        unsigned char bytes[];
};

struct copy_tracker {
        struct dir_hint *hints[TRACK_BUCKETS];
        size_t n_hints;
        int mount_fd;           /* private clone of SRC for the hints, or -EBADF */
        struct rename_rec *renames, **renames_tail;
        size_t n_renames;
        int fan_fd;
        int stop_pipe[2];
        pthread_t thread;
        bool running;
        pthread_mutex_t lock;
        struct handle_entry *buckets[TRACK_BUCKETS];
        size_t count;
        bool overflow;
        bool stall;
        unsigned queue_max; /* the kernel's bound on our queue, 0 if unknown */
        char *why;
        struct timespec t0;
        fsid_t fsid;
};

static void tracker_overflow(struct copy_tracker *t, const char *why) {
        if (t->overflow)
                return;
        t->overflow = true;
        t->why = strdup(why);
        /* The set is useless now; free it so memory stays bounded. */
        for (size_t i = 0; i < TRACK_BUCKETS; i++)
                while (t->buckets[i]) {
                        struct handle_entry *h = t->buckets[i];
                        t->buckets[i] = h->next;
                        free(h);
                }
        t->count = 0;
        while (t->renames) {
                struct rename_rec *r = t->renames;
                t->renames = r->next;
                free(r->line);
                free(r);
        }
        t->renames_tail = &t->renames;
        t->n_renames = 0;
}

static size_t handle_hash(int type, const unsigned char *b, unsigned size, const char *name) {
        size_t h = 1469598103934665603ull ^ (size_t) type;
        for (unsigned i = 0; i < size; i++)
                h = (h ^ b[i]) * 1099511628211ull;
        for (const char *c = name; c && *c; c++)
                h = (h ^ (unsigned char) *c) * 1099511628211ull;
        return h % TRACK_BUCKETS;
}

/* Called with t->lock held. */
static void tracker_add(struct copy_tracker *t, int type, const unsigned char *b, unsigned size, const char *name,
                        bool tree) {
        if (t->overflow)
                return;
        size_t nl = strlen(name) + 1;
        struct handle_entry **p = &t->buckets[handle_hash(type, b, size, name)];
        for (struct handle_entry *h = *p; h; h = h->next)
                if (h->type == type && h->size == size && h->tree == tree && memcmp(h->bytes, b, size) == 0 &&
                    streq((const char *) h->bytes + size, name))
                        return;
        if (t->count >= TRACK_MAX_ENTRIES)
                return tracker_overflow(t, "more than 131072 entries changed");
        struct handle_entry *h = malloc(sizeof *h + size + nl);
        if (!h)
                return tracker_overflow(t, "out of memory while recording changes");
        h->type = type;
        h->size = size;
        h->tree = tree;
        memcpy(h->bytes, b, size);
        memcpy(h->bytes + size, name, nl);
        h->next = *p;
        *p = h;
        t->count++;
}

static char *format_record(int type, const unsigned char *b, unsigned size, const char *name);
static int handle_to_path(int mount_fd, int type, const unsigned char *b, unsigned size, char **ret);

/* Called with t->lock held: notes where the directory with this handle is
 * now, once per handle.  A directory already gone gets no hint. */
static void tracker_hint(struct copy_tracker *t, int type, const unsigned char *b, unsigned size) {
        if (t->mount_fd < 0 || t->overflow || t->n_hints >= TRACK_MAX_ENTRIES)
                return;
        struct dir_hint **p = &t->hints[handle_hash(type, b, size, NULL)];
        for (struct dir_hint *h = *p; h; h = h->next)
                if (h->type == type && h->size == size && memcmp(h->bytes, b, size) == 0)
                        return;
        _cleanup_free_ char *path = NULL;
        if (handle_to_path(t->mount_fd, type, b, size, &path) < 0 || !path)
                return;
        struct dir_hint *h = malloc(sizeof *h + size);
        if (!h)
                return; /* only a hint */
        h->type = type;
        h->size = size;
        h->path = TAKE_PTR(path);
        memcpy(h->bytes, b, size);
        h->next = *p;
        *p = h;
        t->n_hints++;
}

static void tracker_hints_free(struct copy_tracker *t) {
        for (size_t i = 0; i < TRACK_BUCKETS; i++)
                while (t->hints[i]) {
                        struct dir_hint *h = t->hints[i];
                        t->hints[i] = h->next;
                        free(h->path);
                        free(h);
                }
        t->n_hints = 0;
}

/* Called with t->lock held. */
static void tracker_add_rename(struct copy_tracker *t, const char *old_rec, const char *new_rec) {
        if (t->overflow || !old_rec || !new_rec)
                return;
        if (t->n_renames >= TRACK_MAX_ENTRIES)
                return tracker_overflow(t, "more than 131072 renames");
        struct rename_rec *r = malloc(sizeof *r);
        if (!r || asprintf(&r->line, "%s %s", old_rec, new_rec) < 0) {
                free(r);
                return tracker_overflow(t, "out of memory while recording changes");
        }
        r->next = NULL;
        *t->renames_tail = r;
        t->renames_tail = &r->next;
        t->n_renames++;
}

/* Events are aligned to 4 bytes only (names in between): every header is
 * copied out with memcpy() rather than read through a cast pointer. */
static void tracker_handle_events(struct copy_tracker *t, const char *buf, ssize_t len) {
        pthread_mutex_lock(&t->lock);
        for (ssize_t off = 0; off + (ssize_t) sizeof(struct fanotify_event_metadata) <= len;) {
                struct fanotify_event_metadata m;
                memcpy(&m, buf + off, sizeof m);
                if (m.event_len < sizeof m || off + (ssize_t) m.event_len > len)
                        break;
                const char *end = buf + off + m.event_len;
                off += m.event_len;
                if (m.mask & FAN_Q_OVERFLOW) {
                        /* Say how small the queue was: a machine-wide
                         * max_queued_events left lowered (a test once did
                         * that, to 16) makes every record overflow. */
                        char why[192];
                        if (t->queue_max > 0)
                                snprintf(why, sizeof why,
                                         "the kernel's event queue overflowed (it holds %u events: "
                                         "/proc/sys/fs/fanotify/max_queued_events when recording started)",
                                         t->queue_max);
                        else
                                snprintf(why, sizeof why, "the kernel's event queue overflowed");
                        tracker_overflow(t, why);
                        continue;
                }
                _cleanup_free_ char *old_rec = NULL, *new_rec = NULL;
                for (const char *p = buf + off - m.event_len + m.metadata_len; p + sizeof(struct fanotify_event_info_fid) <= end;) {
                        struct fanotify_event_info_header hdr;
                        struct file_handle fh;
                        memcpy(&hdr, p, sizeof hdr);
                        if (hdr.len == 0 || p + hdr.len > end)
                                break;
                        const char *fhp = p + offsetof(struct fanotify_event_info_fid, handle);
                        memcpy(&fh, fhp, sizeof fh);
                        const unsigned char *bytes = (const unsigned char *) fhp + sizeof fh;
                        bool renamed = hdr.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME ||
                                       hdr.info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME;
                        if ((hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME || hdr.info_type == FAN_EVENT_INFO_TYPE_DFID ||
                             hdr.info_type == FAN_EVENT_INFO_TYPE_FID || renamed) &&
                            fh.handle_bytes <= MAX_HANDLE_SZ && (const char *) bytes + fh.handle_bytes < end + 1) {
                                const char *name = hdr.info_type == FAN_EVENT_INFO_TYPE_DFID_NAME || renamed
                                                           ? (const char *) bytes + fh.handle_bytes : ".";
                                if (hdr.info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME)
                                        old_rec = format_record(fh.handle_type, bytes, fh.handle_bytes, name);
                                if (hdr.info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
                                        new_rec = format_record(fh.handle_type, bytes, fh.handle_bytes, name);
                                tracker_add(t, fh.handle_type, bytes, fh.handle_bytes, name, false);
                                if (hdr.info_type != FAN_EVENT_INFO_TYPE_FID)
                                        tracker_hint(t, fh.handle_type, bytes, fh.handle_bytes);
                                /* A directory made or moved here: its old
                                 * name in DST may hold other contents. */
                                if ((m.mask & FAN_ONDIR) && (m.mask & (FAN_CREATE | FAN_MOVED_TO)) &&
                                    !streq(name, "."))
                                        tracker_add(t, fh.handle_type, bytes, fh.handle_bytes, name, true);
                        }
                        p += hdr.len;
                }
                if (m.mask & FAN_RENAME)
                        tracker_add_rename(t, old_rec, new_rec);
        }
        pthread_mutex_unlock(&t->lock);
}

/* Reads every queued event; returns false when the queue is empty. */
static bool tracker_read(struct copy_tracker *t, char *buf, size_t size) {
        ssize_t n = read(t->fan_fd, buf, size);
        if (n <= 0) {
                if (n < 0 && errno != EAGAIN && errno != EINTR) {
                        pthread_mutex_lock(&t->lock);
                        tracker_overflow(t, "reading fanotify events failed");
                        pthread_mutex_unlock(&t->lock);
                }
                return false;
        }
        tracker_handle_events(t, buf, n);
        return true;
}

static void *tracker_main(void *p) {
        struct copy_tracker *t = p;
        char *buf = malloc(64 * 1024);
        if (!buf) {
                pthread_mutex_lock(&t->lock);
                tracker_overflow(t, "out of memory while recording changes");
                pthread_mutex_unlock(&t->lock);
                return NULL;
        }
        for (;;) {
                /* Stalled (tests), only the stop request wakes us: the
                 * kernel's queue then fills and really overflows. */
                struct pollfd fds[2] = {
                        { .fd = t->stall ? -1 : t->fan_fd, .events = POLLIN },
                        { .fd = t->stop_pipe[0], .events = POLLIN },
                };
                if (poll(fds, 2, -1) < 0 && errno != EINTR)
                        break;
                while ((!t->stall || fds[1].revents) && tracker_read(t, buf, 64 * 1024))
                        ;
                if (fds[1].revents)
                        break; /* the queue was drained just above */
        }
        free(buf);
        return NULL;
}

static void tracker_stop(struct copy_tracker *t) {
        if (!t->running)
                return;
        (void) !write(t->stop_pipe[1], "x", 1);
        pthread_join(t->thread, NULL);
        t->running = false;
}

struct copy_tracker *copy_tracker_free(struct copy_tracker *t) {
        if (!t)
                return NULL;
        tracker_stop(t);
        tracker_overflow(t, "freed"); /* frees the set */
        tracker_hints_free(t);
        safe_close(t->mount_fd);
        safe_close(t->fan_fd);
        safe_close(t->stop_pipe[0]);
        safe_close(t->stop_pipe[1]);
        pthread_mutex_destroy(&t->lock);
        free(t->why);
        free(t);
        return NULL;
}

int copy_tracker_start(const char *src, struct copy_tracker **ret) {
        _cleanup_(copy_tracker_freep) struct copy_tracker *t = calloc(1, sizeof *t);
        struct statfs sfs;

        if (!t)
                return -ENOMEM;
        t->fan_fd = t->stop_pipe[0] = t->stop_pipe[1] = t->mount_fd = -EBADF;
        t->renames_tail = &t->renames;
        pthread_mutex_init(&t->lock, NULL);
        if (statfs(src, &sfs) < 0)
                return -errno;
        t->fsid = sfs.f_fsid;

        /* Taken before the mark: a change racing with it has ctime >= t0.
         * Filesystems stamp ctime from a coarse clock (a tick behind) and
         * some only to the second: round down to the second, 100 ms early. */
        clock_gettime(CLOCK_REALTIME, &t->t0);
        t->t0 = (struct timespec) { .tv_sec = t->t0.tv_sec - (t->t0.tv_nsec < 100000000) };

        /* Not FAN_UNLIMITED_QUEUE: a bounded queue may overflow, which we
         * notice and handle, rather than eat the machine's memory.  The
         * kernel bounds it by max_queued_events as it is now (default
         * 16384; the benchmark's 1000 changes bring 1807 events, and we
         * read them as they come). */
        _cleanup_free_ char *qmax = NULL;
        if (read_full_file("/proc/sys/fs/fanotify/max_queued_events", 64, &qmax, NULL) >= 0)
                t->queue_max = (unsigned) strtoul(qmax, NULL, 10);
        t->fan_fd = fanotify_init(FAN_CLASS_NOTIF | FAN_REPORT_DFID_NAME | FAN_CLOEXEC | FAN_NONBLOCK,
                                  O_RDONLY | O_LARGEFILE | O_CLOEXEC);
        if (t->fan_fd < 0)
                return errno == EINVAL || errno == ENOSYS ? -EOPNOTSUPP : -errno;
        /* FAN_RENAME (Linux 5.17) pairs the two names of a rename. */
        if (fanotify_mark(t->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, TRACK_EVENTS | FAN_RENAME, AT_FDCWD, src) < 0 &&
            fanotify_mark(t->fan_fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, TRACK_EVENTS, AT_FDCWD, src) < 0)
                return errno == EXDEV || errno == ENODEV || errno == EINVAL ? -EOPNOTSUPP : -errno;
        if (pipe2(t->stop_pipe, O_CLOEXEC) < 0)
                return -errno;
        /* Paths for the hints, as the sync sees them (see struct dir_hint);
         * without it, no hints. */
        if (copy_open_source(src, &t->mount_fd, NULL) < 0)
                t->mount_fd = -EBADF;

        /* For tests: behave as if events had been lost. */
        if (!isempty(getenv("ROOTRAID_COPY_TEST_OVERFLOW")))
                tracker_overflow(t, "forced by ROOTRAID_COPY_TEST_OVERFLOW");
        /* For tests: read nothing until stopped, so that a burst of more
         * events than the queue holds overflows it for real (without
         * lowering the machine-wide max_queued_events, which every other
         * recorder started meanwhile would get too). */
        t->stall = !isempty(getenv("ROOTRAID_COPY_TEST_STALL"));

        int k = pthread_create(&t->thread, NULL, tracker_main, t);
        if (k != 0)
                return -k;
        t->running = true;
        *ret = TAKE_PTR(t);
        return 0;
}

/* Start time of a process (field 22 of /proc/PID/stat); with ret_state,
 * also its state letter (field 3: 'Z' for a zombie). */
static int proc_stat(pid_t pid, unsigned long long *ret, char *ret_state) {
        char path[64];
        _cleanup_free_ char *s = NULL;
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        int r = read_full_file(path, 4096, &s, NULL);
        if (r < 0)
                return r;
        /* Field 22; the command name (field 2) may hold spaces, skip past
         * it.  p then points at the space before field 3. */
        const char *p = strrchr(s, ')');
        if (!p)
                return -EBADMSG;
        p++;
        if (ret_state && sscanf(p, " %c", ret_state) != 1)
                return -EBADMSG;
        for (int field = 3; field < 22 && p; field++)
                p = strchr(p + 1, ' ');
        if (!p || sscanf(p, " %llu", ret) != 1)
                return -EBADMSG;
        return 0;
}

static int proc_starttime(pid_t pid, unsigned long long *ret) {
        return proc_stat(pid, ret, NULL);
}

/* "TYPE HEX NAMEHEX" (names may hold any byte). */
static char *format_record(int type, const unsigned char *b, unsigned size, const char *name) {
        size_t nl = strlen(name);
        char *line = malloc(32 + 2 * size + 2 * nl + 2);
        if (!line)
                return NULL;
        int o = sprintf(line, "%d ", type);
        for (unsigned j = 0; j < size; j++)
                o += sprintf(line + o, "%02x", b[j]);
        line[o++] = ' ';
        for (size_t j = 0; j < nl; j++)
                o += sprintf(line + o, "%02x", (unsigned char) name[j]);
        line[o] = 0;
        return line;
}

static char *handle_format(const struct handle_entry *h) {
        return format_record(h->type, h->bytes, h->size, (const char *) h->bytes + h->size);
}

int copy_tracker_save(struct copy_tracker *t, const char *state_path, bool final) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        unsigned long long start = 0;
        FILE *f;
        int r;

        if (final)
                tracker_stop(t);
        (void) proc_starttime(getpid(), &start); /* 0 never matches a live process */
        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        pthread_mutex_lock(&t->lock);
        fprintf(f, "rootraid-copy-state 1\npid %d %llu\nt0 %lld %ld\nfsid %x %x\nstatus %s\n",
                (int) getpid(), start, (long long) t->t0.tv_sec, t->t0.tv_nsec,
                (unsigned) t->fsid.__val[0], (unsigned) t->fsid.__val[1],
                t->overflow ? "overflow" : final ? "final" : "recording");
        if (t->overflow)
                fprintf(f, "why %s\n", strna(t->why));
        for (size_t i = 0; i < TRACK_BUCKETS; i++)
                for (struct handle_entry *h = t->buckets[i]; h; h = h->next) {
                        _cleanup_free_ char *line = handle_format(h);
                        if (!line) {
                                pthread_mutex_unlock(&t->lock);
                                fclose(f);
                                return -ENOMEM;
                        }
                        fprintf(f, "%s %s\n", h->tree ? "tree" : "dir", line);
                }
        for (struct rename_rec *rr = t->renames; rr; rr = rr->next)
                fprintf(f, "rename %s\n", rr->line);
        for (size_t i = 0; i < TRACK_BUCKETS && !t->overflow; i++)
                for (struct dir_hint *h = t->hints[i]; h; h = h->next) {
                        _cleanup_free_ char *line = format_record(h->type, h->bytes, h->size, h->path);
                        if (line)
                                fprintf(f, "path %s\n", line); /* only a hint: may be left out */
                }
        pthread_mutex_unlock(&t->lock);
        if (fclose(f) != 0)
                return -ENOMEM;
        r = write_file_atomic(state_path, buf, size, 0600);
        return r;
}

struct state {
        pid_t pid;
        unsigned long long starttime;
        struct timespec t0;
        unsigned fsid[2];
        char status[32];
        char *why;
        char **dirs;  /* "TYPE HEX NAMEHEX": compare this entry */
        char **trees; /* "TYPE HEX NAMEHEX": compare this subtree */
        char **renames; /* "TYPE HEX NAMEHEX TYPE HEX NAMEHEX", in order */
        char **paths;   /* "TYPE HEX PATHHEX": where a directory was */
};

static void state_done(struct state *s) {
        free(s->why);
        strv_free(s->dirs);
        strv_free(s->trees);
        strv_free(s->renames);
        strv_free(s->paths);
}

static int state_read(const char *path, struct state *ret) {
        _cleanup_free_ char *data = NULL;
        struct state s = {};
        int r = read_full_file(path, 256u << 20, &data, NULL);
        if (r < 0)
                return r;
        char *save = NULL;
        bool header = false;
        for (char *l = strtok_r(data, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                long long sec;
                long nsec;
                const char *v;
                if (streq(l, "rootraid-copy-state 1"))
                        header = true;
                else if (sscanf(l, "pid %d %llu", &s.pid, &s.starttime) == 2)
                        ;
                else if (sscanf(l, "t0 %lld %ld", &sec, &nsec) == 2)
                        s.t0 = (struct timespec) { .tv_sec = (time_t) sec, .tv_nsec = nsec };
                else if (sscanf(l, "fsid %x %x", &s.fsid[0], &s.fsid[1]) == 2)
                        ;
                else if (sscanf(l, "status %31s", s.status) == 1)
                        ;
                else if ((v = startswith(l, "why "))) {
                        free(s.why);
                        s.why = strdup(v);
                } else if ((v = startswith(l, "dir ")) || (v = startswith(l, "tree ")) ||
                           (v = startswith(l, "rename ")) || (v = startswith(l, "path "))) {
                        if (strv_extend(l[0] == 'd' ? &s.dirs : l[0] == 't' ? &s.trees : l[0] == 'r' ? &s.renames : &s.paths, v) < 0) {
                                state_done(&s);
                                return -ENOMEM;
                        }
                }
        }
        if (!header) {
                state_done(&s);
                return -EBADMSG;
        }
        *ret = s;
        return 0;
}

/* Asks a recorder to save its final state and waits until it exits. */
static int stop_recorder(pid_t pid, unsigned long long starttime) {
        unsigned long long now_start;
        if (pid <= 0 || proc_starttime(pid, &now_start) < 0 || now_start != starttime)
                return -ESRCH;
        _cleanup_close_ int pfd = (int) syscall(SYS_pidfd_open, pid, 0);
        if (pfd < 0 && errno != ENOSYS)
                return -errno;
        if (kill(pid, SIGUSR1) < 0)
                return -errno;
        if (pfd < 0) {
                /* No pidfd_open() (Linux before 5.3; valgrind): watch
                 * /proc.  Gone, a zombie, or its pid reused: exited. */
                for (int i = 0; i < 120 * 100; i++) {
                        char state = 0;
                        if (proc_stat(pid, &now_start, &state) < 0 || now_start != starttime || state == 'Z' ||
                            state == 'X')
                                return 0;
                        (void) usleep(10 * 1000);
                }
                return -ETIMEDOUT;
        }
        struct pollfd p = { .fd = pfd, .events = POLLIN };
        int n = poll(&p, 1, 120 * 1000);
        if (n <= 0)
                return n < 0 ? -errno : -ETIMEDOUT;
        return 0;
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1;
}

/* Parents first: "./a" (depth 0) before "d/a" (1) before "d/e/a" (2). */
static int depth_cmp(const void *a, const void *b) {
        const char *x = *(char *const *) a, *y = *(char *const *) b;
        size_t dx = startswith(x, "./") ? 0 : 1, dy = startswith(y, "./") ? 0 : 1;
        for (const char *p = x; *p; p++)
                dx += *p == '/';
        for (const char *p = y; *p; p++)
                dy += *p == '/';
        if (dx != dy)
                return dx < dy ? -1 : 1;
        return strcmp(x, y);
}

/* Turns one handle into a path relative to the root of the clone; *ret is
 * NULL when the directory is gone (its parent's change settles it). */
static int handle_to_path(int mount_fd, int type, const unsigned char *b, unsigned size, char **ret) {
        _cleanup_free_ struct file_handle *fh = malloc(sizeof *fh + size);
        if (!fh)
                return -ENOMEM;
        fh->handle_type = type;
        fh->handle_bytes = size;
        memcpy(fh->f_handle, b, size);
        _cleanup_close_ int fd = open_by_handle_at(mount_fd, fh, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ESTALE || errno == ENOENT || errno == ENOTDIR) {
                        *ret = NULL;
                        return 0;
                }
                return -errno;
        }
        char proc[64], target[4096];
        snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(proc, target, sizeof target - 1);
        if (n < 0)
                return -errno;
        target[n] = 0;
        if (target[0] != '/' || strstr(target, " (deleted)"))
                return -EXDEV;
        /* Check that the path leads to the same directory. */
        struct stat a, c;
        const char *rel = target[1] ? target + 1 : ".";
        if (fstat(fd, &a) < 0 || fstatat(mount_fd, rel, &c, AT_SYMLINK_NOFOLLOW) < 0 || a.st_ino != c.st_ino)
                return -EXDEV;
        char *s = strdup(rel);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

/* Decodes n hex digits (n even) into out; with text, a NUL byte is an
 * error (names and paths). */
static int unhex(const char *hex, size_t n, unsigned char *out, bool text) {
        for (size_t i = 0; i + 1 < n; i += 2) {
                int hi = hexval(hex[i]), lo = hexval(hex[i + 1]);
                if (hi < 0 || lo < 0 || (text && hi == 0 && lo == 0))
                        return -EBADMSG;
                out[i / 2] = (unsigned char) (hi << 4 | lo);
        }
        return 0;
}

/* One record of the state file, parsed. */
struct record {
        int type;
        unsigned size;
        unsigned char handle[MAX_HANDLE_SZ];
        char name[NAME_MAX + 1];
        bool tree;
        int rename;             /* 0, or 1/2: old/new name of rename number index */
        size_t index;
        struct record *leader;  /* the first record with the same handle */
        char *dir;              /* leaders: the directory's path, NULL if gone */
        int error;
};

/* Parses "TYPE HEX NAMEHEX"; *ret_len (if not NULL) gets its length. */
static int record_parse(const char *rec, bool tree, struct record *ret, int *ret_len) {
        char hex[2 * MAX_HANDLE_SZ + 1], namehex[2 * NAME_MAX + 1];
        struct record r = { .tree = tree };
        size_t nl = 0;
        int len = 0;
        if (sscanf(rec, "%d %256s %510s%n", &r.type, hex, namehex, &len) != 3 || strlen(hex) % 2 ||
            strlen(namehex) % 2)
                return -EBADMSG;
        if (ret_len)
                *ret_len = len;
        if (unhex(hex, strlen(hex), r.handle, false) < 0 || unhex(namehex, strlen(namehex), (unsigned char *) r.name, true) < 0)
                return -EBADMSG;
        r.size = (unsigned) strlen(hex) / 2;
        nl = strlen(namehex) / 2;
        r.name[nl] = 0;
        if (nl == 0 || strchr(r.name, '/') || streq(r.name, ".."))
                return -EBADMSG;
        *ret = r;
        return 0;
}

/* Orders file handles: type, size, bytes. */
static int handle_cmp(int xt, unsigned xs, const unsigned char *xb, int yt, unsigned ys, const unsigned char *yb) {
        if (xt != yt)
                return xt < yt ? -1 : 1;
        if (xs != ys)
                return xs < ys ? -1 : 1;
        return memcmp(xb, yb, xs);
}

static int record_cmp(const void *a, const void *b) {
        const struct record *x = a, *y = b;
        return handle_cmp(x->type, x->size, x->handle, y->type, y->size, y->handle);
}

/* A parsed "path" line of the state file: where a directory was. */
struct hint_rec {
        int type;
        unsigned size;
        unsigned char handle[MAX_HANDLE_SZ];
        char *path;
};

/* Parses "TYPE HEX PATHHEX". */
static int hint_parse(const char *line, struct hint_rec *ret) {
        char hex[2 * MAX_HANDLE_SZ + 1];
        struct hint_rec h = {};
        int len = 0;
        if (sscanf(line, "%d %256s %n", &h.type, hex, &len) != 2 || len == 0 || strlen(hex) % 2)
                return -EBADMSG;
        const char *ph = line + len;
        size_t pl = strlen(ph);
        if (pl == 0 || pl % 2)
                return -EBADMSG;
        if (unhex(hex, strlen(hex), h.handle, false) < 0)
                return -EBADMSG;
        h.size = (unsigned) strlen(hex) / 2;
        h.path = malloc(pl / 2 + 1);
        if (!h.path)
                return -ENOMEM;
        if (unhex(ph, pl, (unsigned char *) h.path, true) < 0) {
                free(h.path);
                return -EBADMSG;
        }
        h.path[pl / 2] = 0;
        *ret = h;
        return 0;
}

static int hint_cmp(const void *a, const void *b) {
        const struct hint_rec *x = a, *y = b;
        return handle_cmp(x->type, x->size, x->handle, y->type, y->size, y->handle);
}

/* Does the hint's path still lead to the directory with r's handle?  Then
 * it is r's path, found with a path walk, which reads far less than
 * open_by_handle_at() (see struct dir_hint). */
static bool hint_check(int mount_fd, const struct hint_rec *h, const struct record *r) {
        _cleanup_close_ int fd = -EBADF;
        union {
                struct file_handle fh;
                unsigned char raw[sizeof(struct file_handle) + MAX_HANDLE_SZ];
        } u = { .fh.handle_bytes = MAX_HANDLE_SZ };
        int mnt;
        if (copy_open_rel(mount_fd, h->path, &fd) < 0 ||
            name_to_handle_at(fd, "", &u.fh, &mnt, AT_EMPTY_PATH) < 0)
                return false;
        return handle_cmp(u.fh.handle_type, u.fh.handle_bytes, u.fh.f_handle, r->type, r->size, r->handle) == 0;
}

struct resolver {
        struct record *recs;
        size_t n;
        atomic_size_t next;
        int mount_fd;
        int dst_fd;
        const struct hint_rec *hints; /* sorted by handle */
        size_t n_hints;
        atomic_size_t by_path, by_handle;
};

/* Reads what the sync will look at for the records recs[i..j) of one
 * directory (its path in DST, the inodes of its changed names on both
 * sides), so that it finds them in the cache.  On a cold cache the sync
 * is a series of small random reads; here they are made by many threads
 * at once, and before the renames, which are replayed one by one.  Only
 * reads, so the order does not matter; failures are the sync's to see. */
static void records_prefetch(const struct resolver *rs, const struct record *recs, size_t i, size_t j) {
        _cleanup_close_ int s = -EBADF, d = -EBADF;
        struct stat st;

        if (!recs[i].dir || rs->dst_fd < 0)
                return;
        (void) copy_open_rel(rs->mount_fd, recs[i].dir, &s);
        (void) copy_open_rel(rs->dst_fd, recs[i].dir, &d);
        for (size_t k = i; k < j; k++) {
                struct stat ds;
                bool have_src, have_dst;
                if (streq(recs[k].name, "."))
                        continue;
                have_src = s >= 0 && fstatat(s, recs[k].name, &st, AT_SYMLINK_NOFOLLOW) >= 0;
                have_dst = d >= 0 && fstatat(d, recs[k].name, &ds, AT_SYMLINK_NOFOLLOW) >= 0;
                /* A file the sync will copy: start reading its data now
                 * (readahead() only queues the reads). */
                if (have_src && S_ISREG(st.st_mode) && st.st_size > 0 &&
                    (!have_dst || ds.st_size != st.st_size || ds.st_mtim.tv_sec != st.st_mtim.tv_sec ||
                     ds.st_mtim.tv_nsec != st.st_mtim.tv_nsec)) {
                        _cleanup_close_ int fd = openat(s, recs[k].name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
                        if (fd >= 0)
                                (void) readahead(fd, 0, (size_t) MIN(st.st_size, (off_t) 64 << 20));
                }
        }
}

/* Resolving a handle of a cold directory reads its ancestors from disk:
 * many threads keep many reads in flight (the disk waits, not the CPU). */
static void *resolver_main(void *p) {
        struct resolver *rs = p;
        for (;;) {
                size_t i = atomic_fetch_add(&rs->next, 1);
                if (i >= rs->n)
                        return NULL;
                struct record *r = &rs->recs[i];
                if (r->leader != r)
                        continue;
                struct hint_rec key = { .type = r->type, .size = r->size };
                memcpy(key.handle, r->handle, r->size);
                const struct hint_rec *h = rs->n_hints > 0 ? bsearch(&key, rs->hints, rs->n_hints, sizeof key, hint_cmp) : NULL;
                if (h && hint_check(rs->mount_fd, h, r)) {
                        r->dir = strdup(h->path);
                        r->error = r->dir ? 0 : -ENOMEM;
                        atomic_fetch_add(&rs->by_path, 1);
                } else {
                        r->error = handle_to_path(rs->mount_fd, r->type, r->handle, r->size, &r->dir);
                        atomic_fetch_add(&rs->by_handle, 1);
                }
                size_t j = i + 1;
                while (j < rs->n && rs->recs[j].leader == r)
                        j++;
                records_prefetch(rs, rs->recs, i, j);
        }
}

/* Resolves every record, each distinct handle once, and with dst_fd >= 0
 * reads ahead what the sync needs (see records_prefetch()). */
static int records_resolve(const struct copy_options *o, struct record *recs, size_t n, int mount_fd, int dst_fd,
                           const struct hint_rec *hints, size_t n_hints) {
        pthread_t th[64];
        size_t started = 0, want = MIN((size_t) (o->jobs ?: copy_default_jobs(true)), ELEMENTSOF(th));
        struct resolver rs = { .recs = recs, .n = n, .mount_fd = mount_fd, .dst_fd = dst_fd,
                               .hints = hints, .n_hints = n_hints };

        if (n == 0)
                return 0;
        qsort(recs, n, sizeof *recs, record_cmp);
        for (size_t i = 0; i < n; i++)
                recs[i].leader = i > 0 && record_cmp(&recs[i - 1], &recs[i]) == 0 ? recs[i - 1].leader : &recs[i];
        atomic_init(&rs.next, 0);
        atomic_init(&rs.by_path, 0);
        atomic_init(&rs.by_handle, 0);
        for (; started < want && started < n; started++)
                if (pthread_create(&th[started], NULL, resolver_main, &rs) != 0)
                        break;
        if (started == 0)
                resolver_main(&rs);
        for (size_t i = 0; i < started; i++)
                pthread_join(th[i], NULL);
        if (o->timing)
                copy_message(o, COPY_MESSAGE_INFO, ".",
                             "time: resolved %zu directories by the path the recorder saw, %zu by handle",
                             atomic_load(&rs.by_path), atomic_load(&rs.by_handle));
        return 0;
}

int copy_state_collect(const struct copy_options *o, struct copy_tracker *t, const char *state_path, int src_mount_fd,
                       int dst_fd,
                       char ***ret_dirs, char ***ret_trees, char ***ret_renames, bool *ret_full,
                       char **ret_why, struct timespec *ret_t0) {
        _cleanup_(state_done) struct state s = {};
        _cleanup_strv_free_ char **dirs = NULL, **trees = NULL;
        struct statfs sfs;
        double tp = copy_now();
        int r;

        *ret_full = true;
        if (t) {
                /* In-process: read what is queued, then take the set. */
                tracker_stop(t);
                s.t0 = t->t0;
                s.fsid[0] = (unsigned) t->fsid.__val[0];
                s.fsid[1] = (unsigned) t->fsid.__val[1];
                if (t->overflow) {
                        strcpy(s.status, "overflow");
                        s.why = strdup(strna(t->why));
                } else
                        strcpy(s.status, "final");
                for (size_t i = 0; i < TRACK_BUCKETS; i++)
                        for (struct handle_entry *h = t->buckets[i]; h; h = h->next) {
                                _cleanup_free_ char *line = handle_format(h);
                                if (!line || strv_extend(h->tree ? &s.trees : &s.dirs, line) < 0)
                                        return -ENOMEM;
                        }
                for (struct rename_rec *rr = t->renames; rr; rr = rr->next)
                        if (strv_extend(&s.renames, rr->line) < 0)
                                return -ENOMEM;
                for (size_t i = 0; i < TRACK_BUCKETS; i++)
                        for (struct dir_hint *h = t->hints[i]; h; h = h->next) {
                                _cleanup_free_ char *line = format_record(h->type, h->bytes, h->size, h->path);
                                if (!line || strv_extend(&s.paths, line) < 0)
                                        return -ENOMEM;
                        }
        } else {
                r = state_read(state_path, &s);
                if (r == -ENOENT) {
                        *ret_why = strdup("there is no change record (the state file does not exist)");
                        return 0;
                }
                if (r < 0)
                        return r;
                if (!streq(s.status, "recording") && !streq(s.status, "final"))
                        /* An overflowed record is not used, but its recorder
                         * must not stay behind. */
                        (void) stop_recorder(s.pid, s.starttime);
                if (streq(s.status, "recording")) {
                        r = stop_recorder(s.pid, s.starttime);
                        if (r < 0) {
                                *ret_t0 = s.t0;
                                (void) asprintf(ret_why, "the change recorder (pid %d) is gone", (int) s.pid);
                                return 0;
                        }
                        struct timespec t0 = s.t0;
                        copy_phase(o, "stop recorder", &tp);
                        state_done(&s);
                        s = (struct state) {};
                        r = state_read(state_path, &s);
                        if (r < 0)
                                return r;
                        if (s.t0.tv_sec == 0)
                                s.t0 = t0;
                }
        }
        *ret_t0 = s.t0;
        if (streq(s.status, "overflow")) {
                (void) asprintf(ret_why, "the change record is incomplete: %s", strna(s.why));
                return 0;
        }
        if (!streq(s.status, "final")) {
                (void) asprintf(ret_why, "the change recorder (pid %d) stopped without saving its record",
                                (int) s.pid);
                return 0;
        }
        if (fstatfs(src_mount_fd, &sfs) < 0)
                return -errno;
        if ((unsigned) sfs.f_fsid.__val[0] != s.fsid[0] || (unsigned) sfs.f_fsid.__val[1] != s.fsid[1]) {
                *ret_why = strdup("the change record belongs to another filesystem");
                return 0;
        }

        size_t n_ren = strv_length(s.renames);
        size_t n_recs = strv_length(s.dirs) + strv_length(s.trees) + 2 * n_ren, parsed = 0;
        _cleanup_free_ struct record *recs = calloc(MAX(n_recs, 1u), sizeof *recs);
        _cleanup_free_ char **ren = calloc(2 * n_ren + 1, sizeof *ren); /* old, new, ... */
        if (!recs || !ren)
                return -ENOMEM;
        for (int pass = 0; pass < 2; pass++)
                for (char **l = pass == 0 ? s.dirs : s.trees; l && *l; l++) {
                        r = record_parse(*l, pass == 1, &recs[parsed], NULL);
                        if (r < 0)
                                return r;
                        parsed++;
                }
        for (size_t i = 0; i < n_ren; i++) {
                int len = 0;
                r = record_parse(s.renames[i], false, &recs[parsed], &len);
                if (r < 0)
                        return r;
                recs[parsed++].rename = 1;
                r = record_parse(s.renames[i] + len, false, &recs[parsed], NULL);
                if (r < 0)
                        return r;
                recs[parsed++].rename = 2;
                recs[parsed - 1].index = recs[parsed - 2].index = i;
        }
        /* Hints are optional: a damaged one is left out. */
        size_t n_hints = 0;
        _cleanup_free_ struct hint_rec *hints = calloc(MAX(strv_length(s.paths), (size_t) 1), sizeof *hints);
        if (!hints)
                return -ENOMEM;
        for (char **l = s.paths; l && *l; l++)
                if (hint_parse(*l, &hints[n_hints]) >= 0)
                        n_hints++;
        if (n_hints > 1)
                qsort(hints, n_hints, sizeof *hints, hint_cmp);
        copy_phase(o, "read record", &tp);
        r = records_resolve(o, recs, n_recs, src_mount_fd, dst_fd, hints, n_hints);
        for (size_t i = 0; i < n_hints; i++)
                free(hints[i].path);
        copy_phase(o, "resolve handles", &tp);
        for (size_t i = 0; r >= 0 && i < n_recs; i++) {
                const struct record *l = recs[i].leader;
                char *full = NULL;
                if (l->error < 0) {
                        if (recs[i].rename)
                                continue; /* only an optimisation: the names are compared anyway */
                        (void) asprintf(ret_why, "a changed directory cannot be found again (%s)", strerror(-l->error));
                        r = 1;
                        break;
                }
                if (!l->dir)
                        continue; /* gone: its parent's record settles it */
                if (asprintf(&full, "%s/%s", l->dir, recs[i].name) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (recs[i].rename) {
                        ren[2 * recs[i].index + recs[i].rename - 1] = full;
                        continue;
                }
                if (strv_extend(recs[i].tree ? &trees : &dirs, full) < 0)
                        r = -ENOMEM;
                free(full);
        }
        for (size_t i = 0; i < n_recs; i++)
                free(recs[i].dir);
        /* Pairs with both names found, in the order they happened. */
        _cleanup_strv_free_ char **renames = NULL;
        for (size_t i = 0; i < n_ren; i++) {
                if (r >= 0 && ren[2 * i] && ren[2 * i + 1] &&
                    (strv_extend(&renames, ren[2 * i]) < 0 || strv_extend(&renames, ren[2 * i + 1]) < 0))
                        r = -ENOMEM;
                free(ren[2 * i]);
                free(ren[2 * i + 1]);
        }
        if (r != 0)
                return r < 0 ? r : 0;
        size_t n = strv_length(dirs);
        if (n > 1)
                qsort(dirs, n, sizeof *dirs, depth_cmp);
        n = strv_length(trees);
        if (n > 1)
                qsort(trees, n, sizeof *trees, depth_cmp);
        /* A subtree inside another one is compared with it. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                bool inside = false;
                for (size_t j = 0; j < k && !inside; j++) {
                        const char *rest = startswith(trees[i], trees[j]);
                        inside = streq(trees[j], ".") || (rest && (*rest == '/' || *rest == 0));
                }
                if (inside)
                        free(trees[i]);
                else
                        trees[k++] = trees[i];
        }
        if (trees)
                trees[k] = NULL;
        *ret_dirs = TAKE_PTR(dirs);
        *ret_trees = TAKE_PTR(trees);
        *ret_renames = TAKE_PTR(renames);
        *ret_full = false;
        return 0;
}
