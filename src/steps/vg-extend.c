/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vg-extend: adds the array's PV to the root's volume group:
 *   vgextend VG /dev/md/NAME
 *   check: the PV is in the VG.
 *   undo:  vgreduce VG /dev/md/NAME (lvm2 refuses while extents are on it:
 *          pv-move's undo moves them back first). */
#include "steps/kinds.h"
#include "steps/lvm.h"

struct args {
        const char *vg, *device;
};

static int parse(struct step_context *ctx, const struct plan_step *step, struct args *a) {
        int r;
        *a = (struct args) {};
        if ((r = step_arg_string(ctx, step, "vg", &a->vg)) < 0 || (r = step_arg_string(ctx, step, "device", &a->device)) < 0)
                return r;
        return 0;
}

static int vg_extend_check(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        return lvm_step_pv_in_vg(ctx, a.device, a.vg);
}

static int vg_extend_apply(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        return lvm_step_run(ctx, "vgextend", a.vg, a.device);
}

static int vg_extend_undo(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        r = lvm_step_pv_in_vg(ctx, a.device, a.vg);
        if (r <= 0)
                return r;
        return lvm_step_run(ctx, "vgreduce", a.vg, a.device);
}

const struct step_ops step_vg_extend = {
        .kind = STEP_VG_EXTEND,
        .check = vg_extend_check,
        .apply = vg_extend_apply,
        .undo = vg_extend_undo,
};
