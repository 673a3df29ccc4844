/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pv-create: makes the new array an LVM physical volume with the UUID the
 * plan chose (so a resume, and the checks after the reboot, find it again):
 *   pvcreate --uuid PV_UUID --norestorefile /dev/md/NAME
 *   check: the array is a PV with that UUID (another UUID is an error: the
 *          array holds something rootraid did not put there).
 *   apply: pvcreate.  No --yes: a signature lvm2 would ask about means the
 *          array is not the fresh one md-create made.
 *   undo:  pvremove, when the PV is ours and in no volume group. */
#include "steps/kinds.h"
#include "steps/lvm.h"
#include "steps/md.h"
#include "util/run.h"

struct args {
        const char *device, *uuid;
};

static int parse(struct step_context *ctx, const struct plan_step *step, struct args *a) {
        int r;
        *a = (struct args) {};
        if ((r = step_arg_string(ctx, step, "device", &a->device)) < 0 ||
            (r = step_arg_string(ctx, step, "pv_uuid", &a->uuid)) < 0)
                return r;
        return 0;
}

/* Parses the step's arguments and finds the PV on the array: 1 found (in
 * *pv), 0 not a PV, <0 error. */
static int parse_find(struct step_context *ctx, const struct plan_step *step, struct args *a, struct lvm_pv_report *pv) {
        int r = parse(ctx, step, a);
        return r < 0 ? r : lvm_step_find_pv(ctx, a->device, pv);
}

static int pv_create_check(struct step_context *ctx, const struct plan_step *step) {
        struct lvm_pv_report pv;
        struct args a;
        int r = parse_find(ctx, step, &a, &pv);
        if (r <= 0)
                return r;
        r = streq(pv.uuid, a.uuid) ? 1 : -EEXIST;
        if (r < 0)
                step_error(ctx, r, "%s is already a physical volume, with UUID %s instead of the planned %s; "
                           "inspect it (pvs -o+pv_uuid) before going on.", a.device, pv.uuid, a.uuid);
        lvm_pv_done(&pv);
        return r;
}

static int pv_create_apply(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        _cleanup_free_ char *node = md_plan_node(ctx, a.device);
        if (!node)
                return -ENOMEM;
        const char *argv[] = { "pvcreate", "--uuid", a.uuid, "--norestorefile", node, NULL };
        r = run_argv_checked(argv, 0, NULL);
        if (r < 0)
                return step_error(ctx, r, "pvcreate on %s failed (see the log).", a.device);
        return 0;
}

static int pv_create_undo(struct step_context *ctx, const struct plan_step *step) {
        struct lvm_pv_report pv;
        struct args a;
        int r = parse_find(ctx, step, &a, &pv);
        if (r <= 0)
                return r; /* never created, or the array is gone */
        if (!streq(pv.uuid, a.uuid))
                r = 0; /* not ours: leave it */
        else if (!isempty(pv.vg))
                r = step_error(ctx, EBUSY, "%s is still in volume group %s; it must leave it (vg-extend's undo) first.",
                               a.device, pv.vg);
        else
                r = lvm_step_run(ctx, "pvremove", NULL, a.device);
        lvm_pv_done(&pv);
        return r;
}

const struct step_ops step_pv_create = {
        .kind = STEP_PV_CREATE,
        .check = pv_create_check,
        .apply = pv_create_apply,
        .undo = pv_create_undo,
};
