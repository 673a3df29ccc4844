/* SPDX-License-Identifier: GPL-2.0-or-later */
/* md-add: adds a partition of the old disk to its array (after the old
 * disk was partitioned like the new ones, past the point of no return); the
 * resync then overwrites it.
 *   check: the partition is a member of the array with the plan's UUID, and
 *          not faulty.
 *   apply: removes the old filesystem's signatures from the partition first
 *          (the resync does not overwrite the area before the data offset,
 *          so blkid would otherwise still find the old root's UUID there),
 *          then `mdadm ARRAY --add PARTITION`.
 *   undo:  none (the old disk's content is gone). */
#include <stdio.h>

#include "steps/kinds.h"
#include "steps/md.h"
#include "steps/signatures.h"
#include "util/run.h"

static int parse(struct step_context *ctx, const struct plan_step *step, const char **ret_uuid, json_object **ret_member) {
        json_object *m;
        int r = step_arg_string(ctx, step, "uuid", ret_uuid);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(step->args, "member", &m) || !json_object_is_type(m, json_type_object))
                return step_error(ctx, EBADMSG, "Step '%s' names no member.", step->id);
        *ret_member = m;
        return 0;
}

static int md_add_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *node = NULL, *member = NULL;
        json_object *m;
        const char *uuid;
        int r;

        r = parse(ctx, step, &uuid, &m);
        if (r < 0)
                return r;
        if (md_find_array(uuid, &node) < 0 || md_resolve_member(m, &member) < 0)
                return 0;
        return md_has_member(node, member);
}

static int md_add_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *node = NULL, *member = NULL, *sb = NULL;
        json_object *m;
        const char *uuid;
        int r;

        r = parse(ctx, step, &uuid, &m);
        if (r < 0)
                return r;
        r = md_find_array(uuid, &node);
        if (r < 0 && !ctx->dry_run)
                return step_error(ctx, r, "The array with UUID %s is not running.", uuid);
        if (r < 0) {
                /* Dry run before the array exists: the plan's name for it. */
                const char *device = NULL;
                if (step_arg_string_optional(ctx, step, "device", &device) < 0 || !(node = strdup(device ?: uuid)))
                        return -ENOMEM;
        }
        r = md_create_resolve(ctx, m, &member);
        if (r < 0)
                return r;

        /* A previous attempt may have written our superblock already, and
         * the member then failed or was kicked: --add takes it back. */
        if (!ctx->dry_run && !(md_examine_uuid(member, &sb) >= 0 && md_uuid_equal(sb, uuid))) {
                r = signatures_scan(member, true, false, NULL);
                if (r < 0)
                        return step_error(ctx, r, "Cannot remove the old signatures from %s: %m", member);
        } else if (ctx->dry_run)
                printf("would remove every signature from %s\n", member);

        const char *argv[] = { "mdadm", node, "--add", member, NULL };
        r = run_argv_checked(argv, 0, NULL);
        if (r < 0)
                return step_error(ctx, r, "mdadm --add %s to %s failed (see the log).", member, node);
        return 0;
}

const struct step_ops step_md_add = {
        .kind = STEP_MD_ADD,
        .check = md_add_check,
        .apply = md_add_apply,
        .undo = NULL,
};
