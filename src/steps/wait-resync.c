/* SPDX-License-Identifier: GPL-2.0-or-later */
/* wait-resync: waits until every array has all its members in sync,
 * reporting progress from /sys/block/mdX/md/sync_completed.
 *   check: every array has no missing member and no resync or recovery
 *          running.
 *   apply: polls sysfs every second; stops (resumable) on SIGINT/SIGTERM;
 *          fails when an array stays degraded with nothing recovering for
 *          a minute (no spare was added, or it failed).  An array that
 *          is auto-read-only (assembled at boot, not written since: swap
 *          until the first page goes out) never starts its recovery, so
 *          after a reboot in mid-rebuild apply makes it read-write
 *          (mdadm --readwrite), as an administrator would.
 *   undo:  none; waiting changes nothing. */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/md.h"
#include "util/run.h"

static int array_state(struct step_context *ctx, json_object *a, struct md_health *h, char **ret_node) {
        json_object *v;
        const char *uuid = json_object_object_get_ex(a, "uuid", &v) ? json_object_get_string(v) : NULL;
        int r;

        if (!uuid)
                return step_error(ctx, EBADMSG, "An array of step '%s' has no UUID.", ctx->step ? ctx->step->id : "?");
        r = md_find_array(uuid, ret_node);
        if (r < 0)
                return step_error(ctx, r, "The array with UUID %s is not running.", uuid);
        r = md_read_health(*ret_node, h);
        if (r < 0)
                return step_error(ctx, r, "Cannot read the state of %s: %m", *ret_node);
        return 0;
}

/* md recovers nothing on an auto-read-only array until it is written. */
static int make_read_write(struct step_context *ctx, const char *node) {
        const char *argv[] = { "mdadm", "--readwrite", node, NULL };

        step_log(ctx, LOG_LEVEL_NOTICE, 0,
                 "%s is auto-read-only (assembled at boot and not written since), so md does not rebuild it: "
                 "making it read-write.", node);
        int r = run_argv_checked(argv, 0, NULL);
        return r < 0 ? step_error(ctx, r, "Cannot make %s read-write (mdadm --readwrite failed).", node) : 0;
}

static bool complete(const struct md_health *h) {
        return h->idle && h->degraded == 0 && h->in_sync >= h->raid_disks;
}

static int wait_resync_check(struct step_context *ctx, const struct plan_step *step) {
        json_object *arrays;
        int r = step_arg_array(ctx, step, "arrays", &arrays);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                _cleanup_free_ char *node = NULL;
                struct md_health h;
                if (array_state(ctx, json_object_array_get_idx(arrays, i), &h, &node) < 0)
                        return 0;
                bool ok = complete(&h);
                md_health_done(&h);
                if (!ok)
                        return 0;
        }
        return 1;
}

static int wait_resync_apply(struct step_context *ctx, const struct plan_step *step) {
        json_object *arrays;
        time_t stalled_since = 0, last_log = 0;
        int r;

        r = step_arg_array(ctx, step, "arrays", &arrays);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                printf("would wait until every array is in sync\n");
                return 0;
        }
        for (;;) {
                uint64_t done = 0, total = 0;
                bool all = true, moving = false;
                for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                        _cleanup_free_ char *node = NULL;
                        struct md_health h;
                        r = array_state(ctx, json_object_array_get_idx(arrays, i), &h, &node);
                        if (r < 0)
                                return r;
                        if (!complete(&h)) {
                                all = false;
                                if (!h.idle)
                                        moving = true;
                                r = h.read_auto ? make_read_write(ctx, node) : 0;
                                if (r < 0) {
                                        md_health_done(&h);
                                        return r;
                                }
                        }
                        /* Arrays resync one after another; count finished
                         * ones whole, in 512-byte sectors like sysfs. */
                        if (h.sync_total > 0) {
                                done += h.sync_done;
                                total += h.sync_total;
                        }
                        if (time(NULL) - last_log >= 30 && !complete(&h) && h.sync_total == 0)
                                /* sync_completed is "delayed" (or "none"):
                                 * md resyncs arrays sharing a disk one at a
                                 * time, so "0 of 0 sectors" would mislead. */
                                step_log(ctx, LOG_LEVEL_INFO, 0, "%s: %s pending (arrays that share a disk resync one at a time)",
                                         node, h.sync_action);
                        else if (time(NULL) - last_log >= 30 && !complete(&h))
                                step_log(ctx, LOG_LEVEL_INFO, 0, "%s: %s, %llu of %llu sectors", node, h.sync_action,
                                         (unsigned long long) h.sync_done, (unsigned long long) h.sync_total);
                        md_health_done(&h);
                }
                if (time(NULL) - last_log >= 30)
                        last_log = time(NULL);
                if (all) {
                        step_progress(ctx, 1, 1);
                        return 0;
                }
                step_progress(ctx, done, total);
                if (moving)
                        stalled_since = 0;
                else if (stalled_since == 0)
                        stalled_since = time(NULL);
                else if (time(NULL) - stalled_since > 60)
                        return step_error(ctx, EIO,
                                          "An array is degraded and nothing has been recovering for a minute; "
                                          "see /proc/mdstat and 'mdadm --detail' (was a member added, did it fail?).");
                if (step_interrupted(ctx))
                        return step_error(ctx, ECANCELED, "Interrupted while waiting for the resync (it goes on in the kernel).");
                sleep(1);
        }
}

const struct step_ops step_wait_resync = {
        .kind = STEP_WAIT_RESYNC,
        .check = wait_resync_check,
        .apply = wait_resync_apply,
        .undo = NULL,
};
