/* SPDX-License-Identifier: GPL-2.0-or-later */
/* copy-live: the first copy of a filesystem into the new one while the
 * system runs, with src/copy's engine in this process; a fanotify tracker
 * started first records what changes meanwhile, for copy-final.
 *   check: a marker in /run says this boot finished the copy (the copy
 *          itself cannot be compared cheaply with a changing source); after
 *          the switch to the new root the copy is behind us.  A crash loses
 *          /run and the copy runs again, in full: what a power cut left in
 *          the target cannot be trusted (copy_step_begin()).
 *   apply: start the tracker (without one the final sync compares all),
 *          copy_tree(), set the marker.
 *          The copy also writes the link map copy-final reads (see
 *          copy-step.h).
 *   undo:  drop the tracker, the link map and the marker; the new
 *          filesystem itself goes with the undo of mkfs. */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "steps/copy-step.h"
#include "steps/kinds.h"
#include "steps/md.h"
#include "steps/target.h"
#include "util/fault.h"
#include "util/fileio.h"
#include "util/strutil.h"

static struct {
        char *filesystem;
        struct copy_tracker *tracker;
} trackers[16];

/* A run that stops between copy-live and copy-final (an error, the
 * reboot, ^C) leaves trackers behind: stop their threads at exit. */
static void trackers_free(void) __attribute__((destructor));
static void trackers_free(void) {
        for (size_t i = 0; i < ELEMENTSOF(trackers); i++) {
                trackers[i].tracker = copy_tracker_free(trackers[i].tracker);
                free(trackers[i].filesystem);
                trackers[i].filesystem = NULL;
        }
}

struct copy_tracker **copy_step_tracker(const char *filesystem) {
        for (size_t i = 0; i < ELEMENTSOF(trackers); i++)
                if (streq_ptr(trackers[i].filesystem, filesystem))
                        return &trackers[i].tracker;
        for (size_t i = 0; i < ELEMENTSOF(trackers); i++)
                if (!trackers[i].filesystem) {
                        trackers[i].filesystem = strdup(filesystem);
                        return trackers[i].filesystem ? &trackers[i].tracker : NULL;
                }
        return NULL;
}

int copy_step_parse(struct step_context *ctx, const struct plan_step *step, struct copy_step_args *a) {
        int r;
        *a = (struct copy_step_args) {};
        if ((r = step_arg_string(ctx, step, "filesystem", &a->filesystem)) < 0 ||
            (r = step_arg_string(ctx, step, "source", &a->source)) < 0 ||
            (r = step_arg_string(ctx, step, "target", &a->target)) < 0)
                return r;
        if (snprintf(a->link_map, sizeof a->link_map, COPY_LINK_MAP, a->filesystem) >= (int) sizeof a->link_map)
                return step_error(ctx, -ENAMETOOLONG, "The filesystem name %s is too long.", a->filesystem);
        /* Shorter than the link map's path, so they fit too. */
        snprintf(a->live_marker, sizeof a->live_marker, COPY_LIVE_MARKER, a->filesystem);
        snprintf(a->final_marker, sizeof a->final_marker, COPY_FINAL_MARKER, a->filesystem);
        snprintf(a->target_marker, sizeof a->target_marker, COPY_TARGET_MARKER, a->filesystem);
        return 0;
}

int copy_step_check(struct step_context *ctx, const struct plan_step *step, size_t marker_offset) {
        struct copy_step_args a;
        int r = copy_step_parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (target_presumed_done(ctx, step))
                return 1;
        return target_marker_has((const char *) &a + marker_offset);
}

static void on_progress(const struct copy_progress *p, void *userdata) {
        step_progress(userdata, p->bytes_done, p->bytes_total);
}

static void on_message(enum copy_message_kind kind, const char *path, const char *text, void *userdata) {
        enum log_level l = kind == COPY_MESSAGE_ERROR     ? LOG_LEVEL_ERROR
                           : kind == COPY_MESSAGE_WARNING ? LOG_LEVEL_WARNING
                           : kind == COPY_MESSAGE_INFO    ? LOG_LEVEL_INFO
                                                          : LOG_LEVEL_NOTICE;
        step_log(userdata, l, 0, "%s: %s", path, text);
}

void copy_step_options(struct step_context *ctx, const struct copy_step_args *a, struct copy_options *o) {
        *o = (struct copy_options) {
                .src = a->source,
                .dst = a->target,
                .progress = on_progress,
                .message = on_message,
                .userdata = ctx,
                /* A crash test's pctN point wants the copy's progress
                 * close to N% when it stops (util/fault.h). */
                .progress_interval_ms = fault_progress_wanted() ? 20 : 1000,
                .link_map = a->link_map,
        };
}


/* Does dir hold anything but lost+found and what rootraid itself keeps
 * there (the journal's copy, JOURNAL_DIR, which mount-target creates)?
 * keep is that path relative to dir; its components are looked into
 * instead of counted. */
static bool holds_data(const char *dir, const char *keep) {
        _cleanup_(steps_closedirp) DIR *d = opendir(dir);
        const char *rest = strchr(keep, '/');
        size_t n = rest ? (size_t) (rest - keep) : strlen(keep);
        struct dirent *de;
        if (!d)
                return false;
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, "..") || streq(de->d_name, "lost+found"))
                        continue;
                if (strlen(de->d_name) != n || strncmp(de->d_name, keep, n) != 0)
                        return true;
                if (!rest) /* the journal's own directory */
                        continue;
                _cleanup_free_ char *sub = NULL;
                if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0 || holds_data(sub, rest + 1))
                        return true;
        }
        return false;
}

int copy_step_begin(struct step_context *ctx, const struct copy_step_args *a, struct copy_options *o) {
        o->rewrite = !target_marker_has(a->target_marker);
        if (o->rewrite && holds_data(a->target, JOURNAL_DIR + 1))
                step_log(ctx, LOG_LEVEL_NOTICE, 0,
                         "%s was written in an earlier boot: its files cannot be trusted after an interruption and "
                         "are copied again.", a->target);
        return target_marker_set(ctx, a->target_marker);
}

static int copy_live_check(struct step_context *ctx, const struct plan_step *step) {
        return copy_step_check(ctx, step, offsetof(struct copy_step_args, live_marker));
}

static int copy_live_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *error = NULL;
        struct copy_tracker **t;
        struct copy_options o;
        struct copy_stats st = {};
        struct copy_step_args a;
        int r;

        r = copy_step_parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                printf("would copy the filesystem at %s into %s (tracking changes)\n", a.source, a.target);
                return 0;
        }
        t = copy_step_tracker(a.filesystem);
        if (!t)
                return -ENOMEM;
        *t = copy_tracker_free(*t); /* a new first pass needs a new tracker */
        r = copy_tracker_start(a.source, t);
        if (r < 0)
                step_log(ctx, LOG_LEVEL_WARNING, r,
                         "Cannot track changes on %s (%m); the final sync will compare the whole tree.", a.source);

        r = mkdir_p(TARGET_STATE_DIR, 0700); /* for the link map */
        if (r < 0)
                return step_error(ctx, r, "Cannot create %s: %m", TARGET_STATE_DIR);
        copy_step_options(ctx, &a, &o);
        r = copy_step_begin(ctx, &a, &o);
        if (r < 0)
                return r;
        r = copy_tree(&o, &st, &error);
        if (r < 0) {
                *t = copy_tracker_free(*t);
                return step_error(ctx, r, "Copying %s to %s failed: %s", a.source, a.target, strna(error));
        }
        char b[FORMAT_BYTES_MAX];
        step_log(ctx, LOG_LEVEL_INFO, 0, "Copied %s: %llu entries, %s in %.1f s.", a.source, (unsigned long long) st.files,
                 format_bytes(b, sizeof b, st.bytes), st.elapsed);
        return target_marker_set(ctx, a.live_marker);
}

static int copy_live_undo(struct step_context *ctx, const struct plan_step *step) {
        struct copy_step_args a;
        struct copy_tracker **t;
        int r = copy_step_parse(ctx, step, &a);
        if (r < 0)
                return r;
        t = copy_step_tracker(a.filesystem);
        if (t && !ctx->dry_run)
                *t = copy_tracker_free(*t);
        if (!ctx->dry_run && unlink(a.link_map) < 0 && errno != ENOENT)
                return step_error(ctx, -errno, "Cannot remove the link map %s: %m", a.link_map);
        if ((r = target_marker_clear(ctx, a.live_marker)) < 0)
                return r;
        return target_marker_clear(ctx, a.target_marker);
}

const struct step_ops step_copy_live = {
        .kind = STEP_COPY_LIVE,
        .check = copy_live_check,
        .apply = copy_live_apply,
        .undo = copy_live_undo,
};
