/* SPDX-License-Identifier: GPL-2.0-or-later */
/* wipe-signatures: removes every signature from a target disk and its
 * partitions (libblkid blkid_do_wipe, as `wipefs -a` does), so that no old
 * filesystem, RAID member or partition table is found there later.
 *   check: nothing left; or this plan's partition-disk step for the disk
 *          has started (journal) or its table is there: the wipe is then
 *          behind us, and "no signatures" would fail on our own table.
 *   undo:  none; it runs on a new disk, before anything is created. */
#include <stdio.h>

#include "steps/kinds.h"
#include "steps/signatures.h"
#include "util/strutil.h"

/* This plan's partition-disk step for disk, or NULL. */
static const struct plan_step *partition_step_for(const struct plan *p, const char *disk) {
        for (size_t i = 0; p && i < p->n_steps; i++) {
                json_object *v;
                if (p->steps[i].kind == STEP_PARTITION_DISK && p->steps[i].args &&
                    json_object_object_get_ex(p->steps[i].args, "disk", &v) && streq_ptr(json_object_get_string(v), disk))
                        return &p->steps[i];
        }
        return NULL;
}

static int wipe_signatures_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_strv_free_ char **found = NULL;
        const struct plan_step *ps;
        const char *disk;
        int r;

        r = step_arg_string(ctx, step, "disk", &disk);
        if (r < 0)
                return r;
        ps = partition_step_for(ctx->plan, disk);
        if (ps && ctx->journal) {
                /* Once the plan's own partitioning of this disk has started,
                 * what is found there is ours, possibly half written if that
                 * step was cut: the wipe is behind us. */
                enum step_state st = ctx->journal->steps[ps - ctx->plan->steps].state;
                if (st != STEP_STATE_PENDING && st != STEP_STATE_UNDONE)
                        return 1;
        }
        if (ps) {
                r = step_partition_disk.check(ctx, ps);
                if (r != 0)
                        return r;
        }
        r = signatures_scan(disk, false, false, &found);
        if (r < 0)
                return step_error(ctx, r, "Cannot read the signatures on %s: %m", disk);
        for (size_t i = 0; found && found[i]; i++)
                step_log(ctx, LOG_LEVEL_DEBUG, 0, "%s: %s", disk, found[i]);
        return r == 0;
}

static int wipe_signatures_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_strv_free_ char **found = NULL;
        const char *disk;
        int r;

        r = step_arg_string(ctx, step, "disk", &disk);
        if (r < 0)
                return r;
        r = signatures_scan(disk, true, ctx->dry_run, &found);
        if (r == -EBUSY)
                return step_error(ctx, r, "%s is in use (mounted, or held by md, dm or swap); refusing to wipe it.", disk);
        if (r < 0)
                return step_error(ctx, r, "Cannot wipe the signatures on %s: %m", disk);
        for (size_t i = 0; found && found[i]; i++) {
                if (ctx->dry_run)
                        printf("would wipe: %s on %s\n", found[i], disk);
                else
                        step_log(ctx, LOG_LEVEL_INFO, 0, "Wiped %s on %s.", found[i], disk);
        }
        if (!ctx->dry_run && r > 0) {
                r = signatures_reread_partitions(disk);
                if (r < 0)
                        step_log(ctx, LOG_LEVEL_WARNING, r, "The kernel did not re-read the partition table of %s: %m", disk);
        }
        return 0;
}

const struct step_ops step_wipe_signatures = {
        .kind = STEP_WIPE_SIGNATURES,
        .check = wipe_signatures_check,
        .apply = wipe_signatures_apply,
        .undo = NULL,
};
