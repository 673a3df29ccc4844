/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "util/macro.h"

/* rootraid's copy engine: copies one filesystem tree exactly (what
 * `rsync -aHAXS --numeric-ids` preserves, plus inode flags), in parallel,
 * and can record changes with fanotify so that the final sync touches only
 * what changed.  See the comment at the top of copy.c for the design.
 *
 * Library code: nothing here prints.  Progress and per-file messages go to
 * the callbacks in struct copy_options; errors come back as a negative
 * errno and a sentence through ret_error. */

struct copy_progress {
        uint64_t bytes_done;    /* bytes of file data written */
        uint64_t files_done;    /* entries of every type settled */
        uint64_t bytes_total;   /* estimate: space used on SRC (0: unknown) */
        uint64_t files_total;   /* estimate: inodes used on SRC (0: unknown) */
        double elapsed;         /* seconds since the start */
};

enum copy_message_kind {
        COPY_MESSAGE_INFO,      /* e.g. which sync method was chosen, and why */
        COPY_MESSAGE_WARNING,   /* something was skipped but the copy goes on */
        COPY_MESSAGE_ERROR,     /* this file failed; the copy fails at the end */
        COPY_MESSAGE_DIFFERENCE,/* copy_verify(): one difference */
        _COPY_MESSAGE_KIND_MAX,
        _COPY_MESSAGE_KIND_INVALID = -EINVAL,
};
DECLARE_STRING_TABLE(copy_message_kind, enum copy_message_kind);

struct copy_options {
        const char *src;        /* the root of a mounted filesystem */
        const char *dst;        /* an existing directory */
        unsigned jobs;          /* worker threads; 0: from the CPU count */
        bool checksum;          /* copy_verify(): compare file contents too */
        /* copy_tree(): a file where it writes, for every source inode with
         * several links, the file handle of its copy in DST; copy_sync()
         * reads it to find the copy of a changed hard-linked file whose
         * other names are not in the change record, and removes it after a
         * successful sync.  NULL: no such file (such a change then makes
         * the sync compare the whole tree). */
        const char *link_map;
        /* copy_tree(), copy_sync(): make every entry but directories again,
         * whatever DST holds.  For a DST written before a power cut: a file
         * there may have its size and times on disk but not its data, so
         * the usual comparison (size, mtime) cannot be trusted. */
        bool rewrite;
        /* copy_sync(): send the wall time of each phase (stopping the
         * recorder, resolving the record, comparing, ...) to o->message
         * as COPY_MESSAGE_INFO "time: PHASE SECONDS s" lines, to find
         * where a sync's time goes. */
        bool timing;
        /* Called every progress_interval_ms (default 500) from the thread
         * that called copy_*(), and once at the end. */
        void (*progress)(const struct copy_progress *p, void *userdata);
        unsigned progress_interval_ms;
        /* Called from any worker thread, serialised by the engine.  path is
         * relative to the tree's root ("." for the root itself). */
        void (*message)(enum copy_message_kind kind, const char *path, const char *text, void *userdata);
        void *userdata;
};

struct copy_stats {
        uint64_t files;         /* entries created or updated in DST */
        uint64_t bytes;         /* file data written */
        uint64_t hardlinks;     /* names made with link() */
        uint64_t deleted;       /* entries removed from DST (sync) */
        uint64_t vanished;      /* entries that disappeared from SRC while read */
        uint64_t errors;        /* files that failed */
        uint64_t differences;   /* copy_verify() */
        uint64_t recorded;      /* copy_sync(): entries and subtrees recorded */
        bool full_compare;      /* copy_sync() compared the whole tree */
        double elapsed;
};

/* Copies the tree of the filesystem mounted at o->src (which must be the
 * root of a mount) into o->dst, through a private, read-only, non-recursive
 * clone of that mount: files hidden under other mounts are copied, nothing
 * of other filesystems is.  An existing DST is updated the way rsync does
 * (size and mtime), and entries not in SRC are deleted.  Files that vanish
 * while copying are skipped; a file that cannot be read is reported and
 * fails the copy once everything else is done (-EIO); a full target fails at
 * once (-ENOSPC).  Returns 0 or a negative errno; *ret_stats is filled in
 * both cases when non-NULL, *ret_error gets a sentence on failure. */
int copy_tree(const struct copy_options *o, struct copy_stats *ret_stats, char **ret_error);

/* Records changes on a filesystem with fanotify, from before the first pass
 * until the final sync. */
struct copy_tracker;

/* Starts recording changes on the filesystem mounted at src (a thread reads
 * the events).  Call it before copy_tree().  Fails with -EOPNOTSUPP when the
 * kernel or the filesystem cannot report directory entry events; callers
 * then sync with a full comparison (copy_sync() with no tracker). */
int copy_tracker_start(const char *src, struct copy_tracker **ret);

/* Stops recording (reading what is queued) and frees the tracker.  NULL ok. */
struct copy_tracker *copy_tracker_free(struct copy_tracker *t);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct copy_tracker *, copy_tracker_free);

/* Writes what the tracker has recorded so far to state_path (atomically).
 * With final=false the file says that this process (getpid()) keeps
 * recording; copy_sync() then asks it to stop with SIGUSR1 and waits for a
 * final save (see verb-copy.c's --track). */
int copy_tracker_save(struct copy_tracker *t, const char *state_path, bool final);

/* Makes o->dst equal to o->src again after a copy_tree().  With a tracker
 * (in-process) or a state file (written by copy_tracker_save()), only the
 * entries where something changed are compared; a changed file with
 * several links is settled with all its names, those in the record and
 * the others (through o->link_map).  When the tracker overflowed,
 * stopped, or is missing (both NULL), or the names of a changed
 * hard-linked file cannot all be known (no link map, or its copies do not
 * add up), the whole tree is compared by type, size, mtime, ctime (against
 * the time the tracker started), links and metadata, and
 * ret_stats->full_compare says so.  A state file is removed after a
 * successful sync: it no longer says what changed.  Returns as copy_tree(). */
int copy_sync(const struct copy_options *o, struct copy_tracker *t, const char *state_path,
              struct copy_stats *ret_stats, char **ret_error);

/* Compares two trees: type, mode, owner, size, times (not atime; not the
 * root's ctime), link target, device numbers, hard link structure, xattrs,
 * inode flags, and with o->checksum the contents.  Each difference goes to
 * o->message as COPY_MESSAGE_DIFFERENCE and is counted in
 * ret_stats->differences.  Returns 0 when the comparison ran (whether or not
 * the trees differ), or a negative errno. */
int copy_verify(const struct copy_options *o, struct copy_stats *ret_stats, char **ret_error);
