/* SPDX-License-Identifier: GPL-2.0-or-later */
/* pv-move: moves every extent of the volume group off the old PV onto the
 * array, live, with pvmove (lvm2 mirrors each segment, then switches the LV
 * over: the LVs stay in use all along).  lvm2 checkpoints the move in the
 * VG metadata, so an interrupted move is resumed, not restarted:
 *   check: no extent of the VG is left on the old PV and no pvmove off it
 *          is unfinished (an old PV that is no longer a PV of the VG, as
 *          after vg-reduce, holds none).
 *   apply: `pvmove --background OLD NEW`, or `pvmove --background` alone
 *          when a move off OLD is unfinished (lvs -a shows its [pvmoveN]
 *          LV); then follows lvs's copy_percent as progress.
 *   undo:  aborts an unfinished move, then moves the extents back:
 *          `pvmove --background NEW OLD`. */
#include "steps/kinds.h"
#include "steps/lvm.h"
#include "steps/md.h"

struct args {
        const char *vg, *from, *to;
};

static int parse(struct step_context *ctx, const struct plan_step *step, struct args *a) {
        int r;
        *a = (struct args) {};
        if ((r = step_arg_string(ctx, step, "vg", &a->vg)) < 0 || (r = step_arg_string(ctx, step, "from", &a->from)) < 0 ||
            (r = step_arg_string(ctx, step, "to", &a->to)) < 0)
                return r;
        return 0;
}

/* >0 when no extent of vg is on device and no move off it is unfinished. */
static int emptied(struct step_context *ctx, const char *vg, const char *device) {
        _cleanup_free_ char *node = md_plan_node(ctx, device);
        struct lvm_pv_report pv;
        double pct;
        int r;

        if (!node)
                return -ENOMEM;
        r = lvm_move_state(vg, node, &pct);
        if (r < 0)
                return step_error(ctx, r, "Cannot list the pvmoves of volume group %s: %m", vg);
        if (r > 0)
                return 0;
        r = lvm_step_find_pv(ctx, device, &pv);
        if (r <= 0)
                return r < 0 ? r : 1;
        r = !streq(pv.vg, vg) || pv.alloc_extents == 0;
        lvm_pv_done(&pv);
        return r;
}

static int pv_move_check(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        r = emptied(ctx, a.vg, a.from);
        if (r <= 0)
                return r;
        /* Empty, or no PV at all: the move is done only if the extents
         * have a home, the array in the VG (an old disk that is simply not
         * there, as on a host that only reviews the plan, moved nothing). */
        return lvm_step_pv_in_vg(ctx, a.to, a.vg);
}

static int pv_move_apply(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        return lvm_move_extents(ctx, a.vg, a.from, a.to);
}

static int pv_move_undo(struct step_context *ctx, const struct plan_step *step) {
        struct args a;
        int r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        r = lvm_abort_move(ctx, a.vg, a.from);
        if (r < 0)
                return r;
        r = emptied(ctx, a.vg, a.to);
        if (r != 0)
                return r < 0 ? r : 0; /* nothing on the array: nothing to move back */
        r = lvm_step_pv_in_vg(ctx, a.from, a.vg);
        if (r < 0)
                return r;
        if (r == 0)
                return step_error(ctx, ENODEV,
                                  "The old physical volume %s is not in volume group %s: the extents on %s cannot move "
                                  "back (vg-reduce's undo puts it back first).",
                                  a.from, a.vg, a.to);
        return lvm_move_extents(ctx, a.vg, a.to, a.from);
}

const struct step_ops step_pv_move = {
        .kind = STEP_PV_MOVE,
        .check = pv_move_check,
        .apply = pv_move_apply,
        .undo = pv_move_undo,
};
