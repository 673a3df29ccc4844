/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mkswap: makes a swap area with the planned UUID and label.
 *   check: libblkid reads TYPE=swap with that UUID (and label).
 *   undo:  wipes the signature, only if it is the swap area made here. */
#include "steps/kinds.h"
#include "steps/md.h"
#include "steps/signatures.h"
#include "util/run.h"

struct mkswap_args {
        const char *device, *uuid, *label;
        char *node; /* device, or its /dev/mdN when only that exists */
};

static void args_done(struct mkswap_args *a) {
        free(a->node);
}

static int parse_args(struct step_context *ctx, const struct plan_step *step, struct mkswap_args *a) {
        int r;

        if ((r = step_arg_string(ctx, step, "device", &a->device)) < 0 ||
            (r = step_arg_string(ctx, step, "uuid", &a->uuid)) < 0 ||
            (r = step_arg_string_optional(ctx, step, "label", &a->label)) < 0)
                return r;
        a->node = md_plan_node(ctx, a->device);
        return a->node ? 0 : -ENOMEM;
}

static int mkswap_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_(args_done) struct mkswap_args a = {};
        int r = parse_args(ctx, step, &a);
        return r < 0 ? r : signatures_check_fs(ctx, a.node, "swap", a.uuid, a.label);
}

static int mkswap_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_(args_done) struct mkswap_args a = {};
        int r;

        r = parse_args(ctx, step, &a);
        if (r < 0)
                return r;
        const char *argv[] = { "mkswap", "-U", a.uuid, a.node, NULL, NULL, NULL };
        if (a.label) {
                argv[3] = "-L";
                argv[4] = a.label;
                argv[5] = a.node;
        }
        if (!ctx->dry_run && signatures_wait_for_device(a.node, 10000) < 0)
                return step_error(ctx, ENOENT, "%s does not exist (its partition or array was not created?).", a.node);
        /* its stdout only repeats the UUID and size */
        r = run_argv_checked(argv, RUN_CAPTURE_STDOUT, NULL);
        if (r < 0)
                return step_error(ctx, r, "mkswap on %s failed (see the log).", a.node);
        return 0;
}

static int mkswap_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_(args_done) struct mkswap_args a = {};
        int r = parse_args(ctx, step, &a);
        return r < 0 ? r : signatures_undo_fs(ctx, a.node, a.uuid);
}

const struct step_ops step_mkswap = {
        .kind = STEP_MKSWAP,
        .check = mkswap_check,
        .apply = mkswap_apply,
        .undo = mkswap_undo,
};
