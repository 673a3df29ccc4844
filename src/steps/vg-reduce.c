/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vg-reduce: the old PV, emptied by pv-move, leaves the volume group and
 * (pvremove: true) loses its LVM label:
 *   vgreduce VG OLD; pvremove OLD
 * The label has to go: the old partition joins the array later, and md's
 * 1.2 superblock (at 4 KiB) and the resync (from the data offset) leave
 * the label in sector 1 alone, so lvm2 and blkid would keep seeing a stale
 * PV under an md member.
 * This writes the old disk, yet the plan does not mark it writes_old_disk
 * and the point of no return stays at the old disk's repartitioning: what
 * it erases is a label and VG metadata of a PV that holds no extent any
 * more (vgreduce refuses otherwise), and the undo writes them back (same
 * PV UUID), after which pv-move's undo moves the data home.
 *   check: OLD is not a PV of the VG (and, with pvremove, no PV at all).
 *   undo:  pvcreate --uuid OLD_UUID --norestorefile OLD (the UUID from the
 *          plan's volume_groups), vgextend VG OLD. */
#include "steps/kinds.h"
#include "steps/lvm.h"
#include "util/run.h"

struct args {
        const char *vg, *device;
        bool pvremove;
};

static int parse(struct step_context *ctx, const struct plan_step *step, struct args *a) {
        int r;
        *a = (struct args) {};
        if ((r = step_arg_string(ctx, step, "vg", &a->vg)) < 0 || (r = step_arg_string(ctx, step, "device", &a->device)) < 0 ||
            (r = step_arg_bool(ctx, step, "pvremove", true, &a->pvremove)) < 0)
                return r;
        return 0;
}

/* Parses the step's arguments into *a and says where the old PV stands:
 * 2 in the VG, 1 an orphan PV, 0 no PV. */
static int old_pv_state(struct step_context *ctx, const struct plan_step *step, struct args *a) {
        struct lvm_pv_report pv;
        int r = parse(ctx, step, a);
        if (r < 0)
                return r;
        r = lvm_step_find_pv(ctx, a->device, &pv);
        if (r <= 0)
                return r;
        r = streq(pv.vg, a->vg) ? 2 : 1;
        lvm_pv_done(&pv);
        return r;
}

static int vg_reduce_check(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = old_pv_state(ctx, step, &a);
        if (r < 0)
                return r;
        return r == 0 || (r == 1 && !a.pvremove);
}

static int vg_reduce_apply(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = old_pv_state(ctx, step, &a);
        if (r < 0)
                return r;
        if ((r == 2 || ctx->dry_run) && (r = lvm_step_run(ctx, "vgreduce", a.vg, a.device)) < 0)
                return r;
        if (!a.pvremove)
                return 0;
        /* The old disk's LVM label goes; see the top of the file for why
         * this is not yet the point of no return. */
        r = old_pv_state(ctx, step, &a);
        if (r < 0)
                return r;
        return r > 0 || ctx->dry_run ? lvm_step_run(ctx, "pvremove", NULL, a.device) : 0;
}

static int vg_reduce_undo(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r, state = old_pv_state(ctx, step, &a);
        if (state < 0)
                return state;
        if (state == 0) {
                const char *uuid = lvm_plan_old_pv_uuid(ctx->plan, a.vg);
                const char *with[] = { "pvcreate", "--uuid", uuid, "--norestorefile", a.device, NULL };
                const char *without[] = { "pvcreate", a.device, NULL };
                r = run_argv_checked(uuid ? with : without, 0, NULL);
                if (r < 0)
                        return step_error(ctx, r, "Cannot make %s a physical volume again (see the log).", a.device);
        }
        return state < 2 ? lvm_step_run(ctx, "vgextend", a.vg, a.device) : 0;
}

const struct step_ops step_vg_reduce = {
        .kind = STEP_VG_REDUCE,
        .check = vg_reduce_check,
        .apply = vg_reduce_apply,
        .undo = vg_reduce_undo,
};
