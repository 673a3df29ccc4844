/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared between the engine (copy.c), the tracker (track.c) and the
 * verifier (verify.c); not part of the public API. */

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "copy/copy.h"

/* Inode flags (chattr) that are copied; the others describe the on-disk
 * layout (extents, inline data, ...) and belong to the target filesystem. */
#define COPY_FLAGS_MASK                                                 \
        (FS_SECRM_FL | FS_UNRM_FL | FS_COMPR_FL | FS_SYNC_FL |          \
         FS_IMMUTABLE_FL | FS_APPEND_FL | FS_NODUMP_FL | FS_NOATIME_FL | \
         FS_JOURNAL_DATA_FL | FS_NOTAIL_FL | FS_DIRSYNC_FL |            \
         FS_TOPDIR_FL | FS_PROJINHERIT_FL | FS_NOCOW_FL)

/* Opens a private, read-only, noatime, non-recursive clone of the mount
 * whose root is src (-EINVAL with a sentence when src is not a mount's
 * root).  Returns the clone's root directory fd in *ret_fd. */
int copy_open_source(const char *src, int *ret_fd, char **ret_error);

/* copy_open_source() of o->src, and o->dst opened as a directory. */
int copy_open_pair(const struct copy_options *o, int *ret_src, int *ret_dst, char **ret_error);

/* One directory to work on when the engine starts: src and dst are open
 * directory fds (taken over by the engine), path names it in messages. */
struct copy_root {
        int src_fd;
        int dst_fd;
        char *path;
        char **only;            /* NULL: every entry; else these names only
                                 * ("." is the directory itself); taken over */
};

struct copy_run {
        const struct copy_options *opts;
        struct copy_root *roots;
        size_t n_roots;
        bool compare;           /* DST may hold entries: compare each one */
        bool recurse;           /* compare existing subdirectories too */
        bool partial;           /* only some directories of the tree */
        bool sync;              /* a final sync: mostly comparing, more workers */
        struct timespec t0;     /* ctime at or after this: changed (0: unused) */
        int src_mount_fd;       /* SRC's root: statfs(), roots given by path */
        int dst_root_fd;        /* DST's root, for roots given by path */
        FILE *link_map;         /* copy_tree(): where hard-linked files went */
        struct hl_defer *defer; /* sync: changed hard-linked files go here */
};

/* The names of changed hard-linked files met by a partial sync, settled
 * together by copy_sync() once every recorded entry was compared. */
struct hl_defer {
        pthread_mutex_t lock;
        char **paths;           /* "DIR/NAME" relative to the root */
        size_t n, allocated;
};

/* Runs the workers over the roots.  Takes over the fds in run->roots. */
int copy_run(const struct copy_run *run, struct copy_stats *stats, char **ret_error);

/* Sends a formatted message to o->message (serialised). */
void copy_message(const struct copy_options *o, enum copy_message_kind kind, const char *path,
                  const char *format, ...) _printf_(4, 5);

/* Reads the tracker's state file; see track.c.  On success *ret_dirs holds
 * "DIR/NAME" paths relative to the root of entries to compare (NAME "."
 * for the directory itself), and *ret_trees directories to compare whole (NULL with *ret_full = true when the
 * tracker cannot be trusted; *ret_why says why).  *ret_renames holds
 * "OLD", "NEW" pairs of paths, in the order the renames happened. */
int copy_state_collect(const struct copy_options *o, struct copy_tracker *t, const char *state_path, int src_mount_fd,
                       int dst_fd,
                       char ***ret_dirs, char ***ret_trees, char ***ret_renames, bool *ret_full,
                       char **ret_why, struct timespec *ret_t0);

/* Fetches every xattr of a file into one malloc'd buffer of
 * "name\0" u32 length, value records, sorted by name.  fd may be an O_PATH
 * fd (symlinks, device nodes). */
int copy_xattrs_get(int fd, bool opath, char **ret_buf, size_t *ret_size);

double copy_now(void);

/* Opens the directory rel (relative to root) one component at a time with
 * O_NOFOLLOW: a path from a record never leads outside the tree. */
int copy_open_rel(int root, const char *rel, int *ret);

/* Worker threads when o->jobs is 0: to copy, or to compare (sync). */
unsigned copy_default_jobs(bool compare);

/* With o->timing, reports the time since *t as phase `phase` (see
 * copy_options.timing); sets *t to now either way. */
void copy_phase(const struct copy_options *o, const char *phase, double *t);

/* Reads the names of an open directory with getdents64 into buf (the
 * caller's, of size bytes), skipping "." and "..". */
struct dir_reader {
        int fd;
        char *buf;
        size_t size;
        long n, off;
        unsigned char type;     /* d_type of the name last returned; a hint
                                 * (DT_UNKNOWN where the filesystem gives none) */
};

/* Returns the next name, or NULL at the end (errno is 0) or on a read
 * error (errno says which). */
const char *dir_reader_next(struct dir_reader *r);
