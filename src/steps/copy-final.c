/* SPDX-License-Identifier: GPL-2.0-or-later */
/* copy-final: with the writing services stopped (the before-final-sync
 * hooks), makes the new filesystem equal to the old one again.  With the
 * tracker copy-live started in this process, only what changed is
 * compared; without it (a resume after a crash or in a new process) the
 * whole tree is compared, which is slower but as exact.
 *   check: a marker in /run says this boot finished the sync; after the
 *          switch it is behind us.
 *   apply: copy_sync(), then the marker.
 *   undo:  removes the marker (the new filesystem goes with mkfs's undo). */
#include <stddef.h>
#include <stdio.h>

#include "steps/copy-step.h"
#include "steps/kinds.h"
#include "steps/target.h"
#include "util/strutil.h"

static int copy_final_check(struct step_context *ctx, const struct plan_step *step) {
        return copy_step_check(ctx, step, offsetof(struct copy_step_args, final_marker));
}

static int copy_final_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *error = NULL;
        struct copy_tracker **t;
        struct copy_options o;
        struct copy_stats st = {};
        struct copy_step_args a;
        char b[FORMAT_BYTES_MAX];
        int r;

        r = copy_step_parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                printf("would sync what changed in %s into %s\n", a.source, a.target);
                return 0;
        }
        t = copy_step_tracker(a.filesystem);
        if (!t)
                return -ENOMEM;
        if (!*t)
                step_log(ctx, LOG_LEVEL_NOTICE, 0,
                         "No change tracker in this process (resumed after an interruption?): comparing the whole "
                         "tree of %s.", a.source);
        copy_step_options(ctx, &a, &o);
        r = copy_step_begin(ctx, &a, &o);
        if (r < 0) {
                *t = copy_tracker_free(*t);
                return r;
        }
        r = copy_sync(&o, *t, NULL, &st, &error);
        *t = copy_tracker_free(*t);
        if (r < 0)
                return step_error(ctx, r, "The final sync of %s to %s failed: %s", a.source, a.target, strna(error));
        step_log(ctx, LOG_LEVEL_INFO, 0, "Final sync of %s: %s, %llu entries updated, %llu deleted, %s in %.1f s.",
                 a.source, st.full_compare ? "full comparison" : "tracked changes only", (unsigned long long) st.files,
                 (unsigned long long) st.deleted, format_bytes(b, sizeof b, st.bytes), st.elapsed);
        return target_marker_set(ctx, a.final_marker);
}

static int copy_final_undo(struct step_context *ctx, const struct plan_step *step) {
        struct copy_step_args a;
        int r = copy_step_parse(ctx, step, &a);
        if (r < 0)
                return r;
        return target_marker_clear(ctx, a.final_marker);
}

const struct step_ops step_copy_final = {
        .kind = STEP_COPY_FINAL,
        .check = copy_final_check,
        .apply = copy_final_apply,
        .undo = copy_final_undo,
};
