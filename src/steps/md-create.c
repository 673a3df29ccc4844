/* SPDX-License-Identifier: GPL-2.0-or-later */
/* md-create: creates an array degraded on the new disks' partitions, the
 * old disk's slot given as "missing" until it joins at the end:
 *   mdadm --create /dev/md/NAME --run --level N --raid-devices K
 *         --metadata 1.2 --bitmap internal --uuid U --name NAME
 *         [--data-offset] [--chunk] [--layout] [--homehost] MEMBER... missing
 * The UUID comes from the plan, so mdadm.conf, the initramfs and GRUB can
 * name the array before it exists, and a resume finds it again.
 *   check: an array with that UUID is running with every planned member.
 *   apply: stops a half-assembled array of that UUID, then creates it.
 *   undo:  stops it and erases the superblock on every member that carries
 *          this UUID (and nothing else). */
#include <stdio.h>
#include <string.h>

#include "steps/kinds.h"
#include "steps/md.h"
#include "util/run.h"
#include "util/strutil.h"

struct md_create_args {
        const char *device, *uuid, *name, *metadata, *bitmap, *layout, *homehost;
        uint64_t level, raid_devices, chunk, data_offset;
        json_object *members;
};

static int parse_args(struct step_context *ctx, const struct plan_step *step, struct md_create_args *a) {
        json_object *v;
        int r;

        *a = (struct md_create_args) {};
        if ((r = step_arg_string(ctx, step, "device", &a->device)) < 0 ||
            (r = step_arg_string(ctx, step, "uuid", &a->uuid)) < 0 ||
            (r = step_arg_string(ctx, step, "name", &a->name)) < 0 ||
            (r = step_arg_uint64(ctx, step, "level", &a->level)) < 0 ||
            (r = step_arg_uint64(ctx, step, "raid_devices", &a->raid_devices)) < 0 ||
            (r = step_arg_string_optional(ctx, step, "metadata", &a->metadata)) < 0 ||
            (r = step_arg_string_optional(ctx, step, "bitmap", &a->bitmap)) < 0 ||
            (r = step_arg_string_optional(ctx, step, "layout", &a->layout)) < 0 ||
            (r = step_arg_string_optional(ctx, step, "homehost", &a->homehost)) < 0 ||
            (r = step_arg_array(ctx, step, "members", &a->members)) < 0)
                return r;
        if (json_object_object_get_ex(step->args, "chunk", &v) && v && (r = step_arg_uint64(ctx, step, "chunk", &a->chunk)) < 0)
                return r;
        if (json_object_object_get_ex(step->args, "data_offset", &v) && v &&
            (r = step_arg_uint64(ctx, step, "data_offset", &a->data_offset)) < 0)
                return r;
        if (json_object_array_length(a->members) != a->raid_devices)
                return step_error(ctx, EBADMSG, "Step '%s' lists %zu members for %llu RAID devices.", step->id,
                                  json_object_array_length(a->members), (unsigned long long) a->raid_devices);
        return 0;
}

static bool member_missing(json_object *m) {
        json_object *v;
        return json_object_object_get_ex(m, "missing", &v) && json_object_get_boolean(v);
}

int md_create_resolve(struct step_context *ctx, json_object *m, char **ret) {
        json_object *v;
        int r = md_resolve_member(m, ret);
        if (r < 0 && ctx->dry_run && json_object_object_get_ex(m, "disk", &v)) {
                /* The partition table is not written in a dry run. */
                json_object *pn = NULL;
                (void) json_object_object_get_ex(m, "partno", &pn);
                return asprintf(ret, "%s-part%lld", json_object_get_string(v),
                                pn ? (long long) json_object_get_int64(pn) : 0LL) < 0 ? -ENOMEM : 0;
        }
        if (r < 0)
                return step_error(ctx, r, "Cannot find partition %lld of %s: %m",
                                  json_object_object_get_ex(m, "partno", &v) ? (long long) json_object_get_int64(v) : 0LL,
                                  json_object_object_get_ex(m, "disk", &v) ? json_object_get_string(v) : "?");
        return 0;
}

static int md_create_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *node = NULL;
        struct md_create_args a;
        int r;

        r = parse_args(ctx, step, &a);
        if (r < 0)
                return r;
        r = md_find_array(a.uuid, &node);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return step_error(ctx, r, "Cannot look for array %s: %m", a.uuid);
        for (size_t i = 0; i < json_object_array_length(a.members); i++) {
                json_object *m = json_object_array_get_idx(a.members, i);
                _cleanup_free_ char *member = NULL;
                if (member_missing(m))
                        continue;
                /* After the old disk joined, a new disk's member may be
                 * resolved again under another name: look it up each time. */
                if (md_resolve_member(m, &member) < 0)
                        return 0;
                r = md_has_member(node, member);
                if (r <= 0)
                        return r;
        }
        return 1;
}

static int md_create_apply(struct step_context *ctx, const struct plan_step *step) {
        char level[32], ndev[32], chunk[32], offset[48];
        _cleanup_free_ char *stale = NULL;
        const char *argv[64];
        char *nodes[32] = {};
        struct md_create_args a;
        size_t n = 0;
        int r;

        r = parse_args(ctx, step, &a);
        if (r < 0)
                return r;
        if (a.raid_devices > ELEMENTSOF(nodes))
                return step_error(ctx, EINVAL, "Too many members (%llu).", (unsigned long long) a.raid_devices);

        /* A crash between mdadm's superblock writes and the array start
         * leaves an array of this UUID inactive or half there: stop it, the
         * create below starts from the members again. */
        if (md_find_array(a.uuid, &stale) >= 0) {
                const char *stop[] = { "mdadm", "--stop", stale, NULL };
                r = run_argv_checked(stop, 0, NULL);
                if (r < 0)
                        return step_error(ctx, r, "Cannot stop the incomplete array %s (%s).", stale, a.uuid);
        }

        snprintf(level, sizeof level, "%llu", (unsigned long long) a.level);
        snprintf(ndev, sizeof ndev, "%llu", (unsigned long long) a.raid_devices);
        argv[n++] = "mdadm";
        argv[n++] = "--create";
        argv[n++] = a.device;
        argv[n++] = "--run";
        argv[n++] = "--level";
        argv[n++] = level;
        argv[n++] = "--raid-devices";
        argv[n++] = ndev;
        argv[n++] = "--metadata";
        argv[n++] = a.metadata ?: "1.2";
        argv[n++] = "--bitmap";
        argv[n++] = a.bitmap ?: "internal";
        argv[n++] = "--uuid";
        argv[n++] = a.uuid;
        argv[n++] = "--name";
        argv[n++] = a.name;
        if (a.homehost) {
                argv[n++] = "--homehost";
                argv[n++] = a.homehost;
        }
        if (a.data_offset > 0) {
                /* mdadm reads a K suffix as KiB: no unit guessing. */
                snprintf(offset, sizeof offset, "%lluK", (unsigned long long) (a.data_offset / 1024));
                argv[n++] = "--data-offset";
                argv[n++] = offset;
        }
        if (a.chunk > 0) {
                snprintf(chunk, sizeof chunk, "%lluK", (unsigned long long) (a.chunk / 1024));
                argv[n++] = "--chunk";
                argv[n++] = chunk;
        }
        if (a.layout) {
                argv[n++] = "--layout";
                argv[n++] = a.layout;
        }
        for (size_t i = 0; i < json_object_array_length(a.members); i++) {
                json_object *m = json_object_array_get_idx(a.members, i);
                if (member_missing(m)) {
                        argv[n++] = "missing";
                        continue;
                }
                r = md_create_resolve(ctx, m, &nodes[i]);
                if (r < 0)
                        goto finish;
                argv[n++] = nodes[i];
        }
        argv[n] = NULL;

        r = run_argv_checked(argv, 0, NULL);
        if (r < 0) {
                r = step_error(ctx, r, "mdadm --create of %s failed (see the log).", a.device);
                goto finish;
        }
        if (!ctx->dry_run) {
                /* /dev/md/NAME is udev's link: later steps open it by name. */
                const char *settle[] = { "udevadm", "settle", "--timeout=30", NULL };
                (void) run_argv(settle, 0, NULL, NULL); /* best effort; the check says if the array is there */
        }
        r = 0;
finish:
        for (size_t i = 0; i < ELEMENTSOF(nodes); i++)
                free(nodes[i]);
        return r;
}

static int md_create_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *node = NULL;
        struct md_create_args a;
        int r;

        r = parse_args(ctx, step, &a);
        if (r < 0)
                return r;
        r = md_find_array(a.uuid, &node);
        if (r >= 0) {
                const char *stop[] = { "mdadm", "--stop", node, NULL };
                r = run_argv_checked(stop, 0, NULL);
                if (r < 0)
                        return step_error(ctx, r, "Cannot stop array %s (%s); is it still mounted or in use?", node, a.uuid);
        } else if (r != -ENOENT)
                return step_error(ctx, r, "Cannot look for array %s: %m", a.uuid);

        for (size_t i = 0; i < json_object_array_length(a.members); i++) {
                json_object *m = json_object_array_get_idx(a.members, i);
                _cleanup_free_ char *member = NULL, *uuid = NULL;
                if (member_missing(m))
                        continue;
                if (md_resolve_member(m, &member) < 0)
                        continue; /* the partition is gone: nothing to erase */
                if (md_examine_uuid(member, &uuid) < 0 || !md_uuid_equal(uuid, a.uuid))
                        continue; /* not ours */
                const char *zero[] = { "mdadm", "--zero-superblock", member, NULL };
                r = run_argv_checked(zero, 0, NULL);
                if (r < 0)
                        return step_error(ctx, r, "Cannot erase the md superblock on %s.", member);
        }
        return 0;
}

const struct step_ops step_md_create = {
        .kind = STEP_MD_CREATE,
        .check = md_create_check,
        .apply = md_create_apply,
        .undo = md_create_undo,
};
