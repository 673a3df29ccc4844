/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What copy-live and copy-final share: their arguments, the copy engine's
 * callbacks wired to the step's log and progress, and the change trackers
 * that copy-live starts and copy-final consumes in the same process.  A
 * resume in a new process (after a crash or a reboot) has no tracker: the
 * final sync then compares the whole tree, and says so.
 *
 * The first pass also writes a link map (copy_options.link_map: where each
 * hard-linked inode went in the target), so that the final sync settles a
 * changed hard-linked file without a full comparison.  It lives in
 * TARGET_STATE_DIR (/run), not with the journal in /var/lib/rootraid: the
 * copy has no exclusions, so a map on the source filesystem would be copied
 * into the target and recorded as a change while the first pass writes it.
 * The map is only of use together with the tracker, which lives no longer
 * than this process, so /run loses nothing that a crash would not. */

#include "copy/copy.h"
#include "steps/step.h"
#include "steps/target.h"

struct copy_step_args {
        const char *filesystem, *source, *target;
        char link_map[256];     /* the filesystem's link map (COPY_LINK_MAP) */
        /* The filesystem's markers (target_marker_*()): COPY_LIVE_MARKER,
         * COPY_FINAL_MARKER, COPY_TARGET_MARKER. */
        char live_marker[256], final_marker[256], target_marker[256];
};

int copy_step_parse(struct step_context *ctx, const struct plan_step *step, struct copy_step_args *ret);

/* The check of copy-live and copy-final: done when the switch is behind us
 * or when the marker (one of the args' *_marker fields, by offset) says
 * this boot finished the step. */
int copy_step_check(struct step_context *ctx, const struct plan_step *step, size_t marker_offset);

/* Fills o for a copy from a->source to a->target reporting through ctx. */
void copy_step_options(struct step_context *ctx, const struct copy_step_args *a, struct copy_options *o);

/* Before copy-live or copy-final writes to the target: sets o->rewrite
 * unless this boot has written there already (a marker says so), and sets
 * that marker.  A target written in an earlier boot may have lost data in
 * a power cut while the sizes and times of its files reached the disk, so
 * its files cannot be compared with the source; they are made again.  On
 * the first pass the target is empty and this costs nothing. */
int copy_step_begin(struct step_context *ctx, const struct copy_step_args *a, struct copy_options *o);

/* The slot of filesystem's tracker in this process (NULL if too many). */
struct copy_tracker **copy_step_tracker(const char *filesystem);

/* Marker names under TARGET_STATE_DIR. */
#define COPY_LIVE_MARKER "copy-live-%s"
#define COPY_FINAL_MARKER "copy-final-%s"
#define COPY_TARGET_MARKER "copy-target-%s"     /* this boot wrote to the target */
/* The link map of a filesystem, written by copy-live, read and removed by
 * copy-final. */
#define COPY_LINK_MAP TARGET_STATE_DIR "/copy-links-%s"
