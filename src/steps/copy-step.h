/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What copy-live and copy-final share: their arguments, the copy engine's
 * callbacks wired to the step's log and progress, and the change trackers
 * that copy-live starts and copy-final consumes in the same process.  A
 * resume in a new process (after a crash or a reboot) has no tracker: the
 * final sync then compares the whole tree, and says so. */

#include "copy/copy.h"
#include "steps/step.h"

struct copy_step_args {
        const char *filesystem, *source, *target;
};

int copy_step_parse(struct step_context *ctx, const struct plan_step *step, struct copy_step_args *ret);

/* Fills o for a copy from a->source to a->target reporting through ctx. */
void copy_step_options(struct step_context *ctx, const struct copy_step_args *a, struct copy_options *o);

/* The slot of filesystem's tracker in this process (NULL if too many). */
struct copy_tracker **copy_step_tracker(const char *filesystem);

/* Marker names under TARGET_STATE_DIR. */
#define COPY_LIVE_MARKER "copy-live-%s"
#define COPY_FINAL_MARKER "copy-final-%s"
