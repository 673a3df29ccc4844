/* SPDX-License-Identifier: GPL-2.0-or-later */
/* verify: the end state a person would check by hand, read-only:
 *   - every array runs with all members active and in sync;
 *   - mdadm.conf has an ARRAY line for each array's UUID, and each of its
 *     ARRAY UUIDs is a running array;
 *   - every UUID= source in fstab exists;
 *   - every initramfs contains mdadm and those ARRAY lines;
 *   - every disk of the layout starts with a GRUB boot sector.
 * check and apply run the same inspection (apply fails listing every
 * problem); `rootraid verify` runs it on demand.  No undo. */
#include <blkid.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps/kinds.h"
#include "steps/luks.h"
#include "steps/md.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/strutil.h"

static int problem(char ***problems, const char *format, ...) _printf_(2, 3);
static int problem(char ***problems, const char *format, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        va_start(ap, format);
        int k = vasprintf(&s, format, ap);
        va_end(ap);
        return k < 0 ? -ENOMEM : strv_extend(problems, s);
}

/* The UUIDs of mdadm.conf's ARRAY lines. */
static int conf_uuids(const char *text, char ***ret) {
        for (const char *p = text; p && *p;) {
                const char *eol = strchr(p, '\n');
                _cleanup_free_ char *line = strndup(p, eol ? (size_t) (eol - p) : strlen(p));
                p = eol ? eol + 1 : NULL;
                if (!line)
                        return -ENOMEM;
                const char *u = startswith(line, "ARRAY") ? strcasestr(line, "UUID=") : NULL;
                char buf[64] = {};
                if (u && sscanf(u + 5, "%63[0-9a-fA-F:]", buf) == 1 && strv_extend(ret, buf) < 0)
                        return -ENOMEM;
        }
        return 0;
}

static int verify_arrays(json_object *arrays, char ***problems) {
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                json_object *a = json_object_array_get_idx(arrays, i), *v;
                const char *uuid = json_object_object_get_ex(a, "uuid", &v) ? json_object_get_string(v) : "?";
                const char *dev = json_object_object_get_ex(a, "device", &v) ? json_object_get_string(v) : "?";
                _cleanup_free_ char *node = NULL;
                struct md_health h;

                if (md_find_array(uuid, &node) < 0) {
                        problem(problems, "array %s (UUID %s) is not running", dev, uuid);
                        continue;
                }
                if (md_read_health(node, &h) < 0) {
                        problem(problems, "cannot read the state of %s", node);
                        continue;
                }
                if (h.degraded > 0 || h.in_sync < h.raid_disks)
                        problem(problems, "%s (%s) has %u of %u members in sync", dev, node, h.in_sync, h.raid_disks);
                if (!h.idle)
                        problem(problems, "%s (%s) is busy: %s", dev, node, h.sync_action);
                md_health_done(&h);
        }
        return 0;
}

static int verify_mdadm_conf(const char *path, json_object *arrays, char ***problems) {
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **uuids = NULL;
        int r;

        r = read_full_file(path, 1 << 20, &text, NULL);
        if (r < 0)
                return problem(problems, "cannot read %s: %s", path, strerror(-r));
        r = conf_uuids(text, &uuids);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                json_object *v;
                const char *uuid = json_object_object_get_ex(json_object_array_get_idx(arrays, i), "uuid", &v)
                                           ? json_object_get_string(v)
                                           : "?";
                bool found = false;
                for (size_t k = 0; uuids && uuids[k]; k++)
                        found = found || md_uuid_equal(uuids[k], uuid);
                if (!found)
                        problem(problems, "%s has no ARRAY line for UUID %s", path, uuid);
        }
        for (size_t k = 0; uuids && uuids[k]; k++) {
                _cleanup_free_ char *node = NULL;
                if (md_find_array(uuids[k], &node) < 0)
                        problem(problems, "%s names array UUID %s, which is not running", path, uuids[k]);
        }
        return 0;
}

static int verify_fstab(const char *path, char ***problems) {
        _cleanup_free_ char *text = NULL;
        int r = read_full_file(path, 1 << 20, &text, NULL);
        if (r < 0)
                return problem(problems, "cannot read %s: %s", path, strerror(-r));
        for (const char *p = text; p && *p;) {
                const char *eol = strchr(p, '\n');
                _cleanup_free_ char *line = strndup(p, eol ? (size_t) (eol - p) : strlen(p));
                p = eol ? eol + 1 : NULL;
                char src[256];
                if (!line)
                        return -ENOMEM;
                if (sscanf(line, " %255s", src) != 1 || src[0] == '#' || !startswith(src, "UUID="))
                        continue;
                char *dev = blkid_evaluate_tag("UUID", src + 5, NULL);
                if (!dev)
                        problem(problems, "%s names %s, which no device carries", path, src);
                free(dev);
        }
        return 0;
}

int verify_run(struct step_context *ctx, const struct plan_step *step, char ***ret_problems) {
        _cleanup_strv_free_ char **problems = NULL;
        _cleanup_free_ char *initrd = NULL;
        json_object *arrays, *disks, *uuids;
        const char *fstab, *conf, *loader;
        const struct plan_step *ui = NULL;
        int r;

        if ((r = step_arg_array(ctx, step, "arrays", &arrays)) < 0 || (r = step_arg_string(ctx, step, "fstab", &fstab)) < 0 ||
            (r = step_arg_string(ctx, step, "mdadm_conf", &conf)) < 0 ||
            (r = step_arg_string(ctx, step, "loader", &loader)) < 0 ||
            (r = step_arg_array(ctx, step, "bootloader_disks", &disks)) < 0)
                return r;

        if ((r = verify_arrays(arrays, &problems)) < 0 || (r = verify_mdadm_conf(conf, arrays, &problems)) < 0 ||
            (r = verify_fstab(fstab, &problems)) < 0)
                return r;

        /* The initramfs: the generator is the plan's update-initramfs. */
        for (size_t i = 0; i < ctx->plan->n_steps && !ui; i++)
                if (ctx->plan->steps[i].kind == STEP_UPDATE_INITRAMFS)
                        ui = &ctx->plan->steps[i];
        uuids = json_object_new_array();
        if (!uuids)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                json_object *v;
                if (json_object_object_get_ex(json_object_array_get_idx(arrays, i), "uuid", &v))
                        json_object_array_add(uuids, json_object_get(v));
        }
        const char *generator = "initramfs-tools";
        if (ui)
                (void) step_arg_string(ctx, ui, "generator", &generator);
        r = target_initramfs_check("/", generator, NULL, uuids, &initrd);
        json_object_put(uuids);
        if (r < 0)
                problem(&problems, "cannot inspect the initramfs: %s", strerror(-r));
        else if (r == 0)
                problem(&problems, "%s", initrd);
        if (r > 0 && streq(generator, "initramfs-tools")) {
                /* luks strategy: the images must unlock the container on
                 * the array unattended (see luks.h). */
                _cleanup_free_ char *luks = NULL;
                r = luks_initramfs_check(ctx->plan, "/", NULL, false, &luks);
                if (r < 0)
                        problem(&problems, "cannot inspect the initramfs for LUKS: %s", strerror(-r));
                else if (r == 0)
                        problem(&problems, "%s", luks);
        }

        if (streq(loader, "grub-pc"))
                for (size_t i = 0; i < json_object_array_length(disks); i++) {
                        const char *disk = json_object_get_string(json_object_array_get_idx(disks, i));
                        _cleanup_free_ char *node = NULL;
                        if (md_resolve_partition(disk, 0, &node) < 0) {
                                problem(&problems, "disk %s is missing", disk);
                                continue;
                        }
                        if (target_disk_has_grub(node) <= 0)
                                problem(&problems, "disk %s (%s) has no GRUB boot sector", disk, node);
                }
        *ret_problems = TAKE_PTR(problems);
        return 0;
}

static int verify_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_strv_free_ char **problems = NULL;
        int r = verify_run(ctx, step, &problems);
        if (r < 0)
                return r;
        for (size_t i = 0; problems && problems[i]; i++)
                step_log(ctx, LOG_LEVEL_DEBUG, 0, "Not verified yet: %s.", problems[i]);
        return strv_length(problems) == 0;
}

static int verify_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_strv_free_ char **problems = NULL;
        _cleanup_free_ char *all = NULL;
        int r;

        if (ctx->dry_run) {
                printf("would verify the arrays, mdadm.conf, fstab, the initramfs and the boot sectors\n");
                return 0;
        }
        r = verify_run(ctx, step, &problems);
        if (r < 0)
                return step_error(ctx, r, "Cannot verify: %m");
        if (strv_length(problems) == 0)
                return 0;
        for (size_t i = 0; problems[i]; i++) {
                char *n;
                if (asprintf(&n, "%s%s%s", strempty(all), all ? "; " : "", problems[i]) < 0)
                        return -ENOMEM;
                free(all);
                all = n;
        }
        return step_error(ctx, EPROTO, "Verification found %zu problem(s): %s.", strv_length(problems), all);
}

const struct step_ops step_verify = {
        .kind = STEP_VERIFY,
        .check = verify_check,
        .apply = verify_apply,
        .undo = NULL,
};
