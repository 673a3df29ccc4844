/* SPDX-License-Identifier: GPL-2.0-or-later */
/* boot-once: makes the next boot, and only that one, start the new root.
 * The old root's GRUB (the one the firmware starts) gets a menu entry in
 * custom.cfg that loads the new kernel and initramfs from the arrays with
 * root=UUID=<new root> panic=10, and grubenv's next_entry names it (what
 * grub-reboot does; Debian's grub.cfg honours next_entry whatever
 * GRUB_DEFAULT is, and clears it as it boots).  If that boot fails, the
 * kernel or the initramfs panics, reboots after 10 s, and GRUB, its
 * next_entry spent, boots the old root as before.  grub.cfg and the boot
 * sectors of the old disk are not touched.
 *   check: the entry is in custom.cfg and next_entry names it; after the
 *          switch it is behind us.
 *   undo:  puts custom.cfg and grubenv back as they were. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "steps/grub-entry.h"
#include "steps/kinds.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

#define SECTION "entry"

static int parse(struct step_context *ctx, const struct plan_step *step, const char **entry_id) {
        const char *loader;
        int r;
        if ((r = step_arg_string(ctx, step, "loader", &loader)) < 0 || (r = step_arg_string(ctx, step, "entry_id", entry_id)) < 0)
                return r;
        if (!streq(loader, "grub-pc") && !streq(loader, "grub-efi"))
                return step_error(ctx, EOPNOTSUPP, "A one-time boot with %s is not supported.", loader);
        return 0;
}

static int next_entry_is(const char *grubdir, const char *entry_id) {
        _cleanup_free_ char *env = NULL, *out = NULL, *want = NULL;
        if (asprintf(&env, "%s/grubenv", grubdir) < 0 || asprintf(&want, "next_entry=%s\n", entry_id) < 0)
                return -ENOMEM;
        const char *argv[] = { "grub-editenv", env, "list", NULL };
        if (run_argv(argv, RUN_CAPTURE_STDOUT | RUN_QUIET_STDERR, &out, NULL) != 0 || !out)
                return 0;
        return strstr(out, want) != NULL;
}

/* The entry to arm: rendered from the kernels in the new root; when the new
 * root is not mounted (the old root running again after a switch, which
 * the executor sends back to the arrays once: see retry_from_stale_root()
 * in executor.c), the one an earlier apply wrote, which the first boot
 * from the arrays used. */
static int boot_once_entry(struct step_context *ctx, const struct plan_step *step, const char *grubdir, char **ret) {
        const char *root;
        dev_t dev;
        int r;

        if ((r = step_arg_string(ctx, step, "root", &root)) < 0)
                return r;
        if (!ctx->dry_run && !streq(root, "/") && target_mounted_dev(root, &dev) == -ENOENT) {
                r = grub_custom_get(grubdir, SECTION, ret);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        return grub_entry_render(ctx, step, ret);
}

static int boot_once_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *grubdir = NULL, *entry = NULL;
        const char *entry_id;
        bool mounted = false;
        int r;

        r = parse(ctx, step, &entry_id);
        if (r < 0)
                return r;
        if (target_presumed_done(ctx, step))
                return 1;
        r = target_old_grub_dir(ctx, &grubdir, &mounted);
        if (r < 0)
                return 0;
        r = boot_once_entry(ctx, step, grubdir, &entry);
        if (r >= 0)
                r = grub_custom_has(grubdir, SECTION, entry);
        if (r > 0)
                r = next_entry_is(grubdir, entry_id);
        if (mounted)
                target_old_umount();
        return r < 0 ? 0 : r;
}

static int boot_once_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *grubdir = NULL, *entry = NULL, *cfg = NULL, *cfgtext = NULL, *env = NULL, *saved = NULL,
                           *envtext = NULL, *set = NULL;
        const char *entry_id;
        bool mounted = false;
        size_t envsize = 0;
        int r;

        r = parse(ctx, step, &entry_id);
        if (r < 0)
                return r;
        r = target_old_grub_dir(ctx, &grubdir, &mounted);
        if (r < 0)
                return r == -ENOENT ? step_error(ctx, r, "The old root's GRUB directory is gone.") : r;
        if (asprintf(&cfg, "%s/grub.cfg", grubdir) < 0 || asprintf(&env, "%s/grubenv", grubdir) < 0 ||
            asprintf(&saved, "%s/grubenv.rootraid-orig", grubdir) < 0 || asprintf(&set, "next_entry=%s", entry_id) < 0) {
                r = -ENOMEM;
                goto finish;
        }

        /* The mechanism relies on two parts of Debian's grub.cfg. */
        r = read_full_file(cfg, 16 << 20, &cfgtext, NULL);
        if (r < 0 && ctx->dry_run)
                /* A plan made on another machine: show the rest anyway. */
                printf("would check that %s honours next_entry and sources custom.cfg (cannot read it here: %s)\n", cfg,
                       strerror(-r));
        else if (r < 0) {
                r = step_error(ctx, r, "Cannot read the old root's %s: %m", cfg);
                goto finish;
        } else if (!strstr(cfgtext, "next_entry") || !strstr(cfgtext, "custom.cfg")) {
                r = step_error(ctx, EOPNOTSUPP,
                               "%s does not honour next_entry or source custom.cfg, so a one-time boot cannot be "
                               "arranged; regenerate it with update-grub first.", cfg);
                goto finish;
        }

        /* What the steps before wrote to the new root must be on its disks
         * before the boot loader may start it: a power cut from here on
         * can boot it. */
        if (!ctx->dry_run)
                sync();
        r = boot_once_entry(ctx, step, grubdir, &entry);
        if (r < 0)
                goto finish;
        r = grub_custom_set(ctx, grubdir, SECTION, entry);
        if (r < 0)
                goto finish;

        /* Keep grubenv as it was, for undo (once: a repeated apply must not
         * save our own next_entry as the original). */
        if (access(saved, F_OK) < 0) {
                r = read_full_file(env, 1 << 20, &envtext, &envsize);
                if (r >= 0)
                        r = step_write_file(ctx, saved, envtext, envsize, 0644);
                else if (r == -ENOENT)
                        r = 0; /* grub-editenv creates it; undo removes it */
                if (r < 0) {
                        r = step_error(ctx, r, "Cannot keep a copy of %s: %m", env);
                        goto finish;
                }
        }
        const char *argv[] = { "grub-editenv", env, "set", set, NULL };
        r = run_argv_checked(argv, 0, NULL);
        if (r < 0) {
                r = step_error(ctx, r, "grub-editenv %s set %s failed.", env, set);
                goto finish;
        }
        if (!ctx->dry_run)
                sync();
        if (!ctx->dry_run)
                step_log(ctx, LOG_LEVEL_INFO, 0, "The next boot starts '%s' once; the old root stays the default.", entry_id);
finish:
        if (mounted)
                target_old_umount();
        return r;
}

static int boot_once_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *grubdir = NULL, *env = NULL, *saved = NULL, *text = NULL;
        const char *entry_id;
        bool mounted = false;
        size_t size = 0;
        int r;

        r = parse(ctx, step, &entry_id);
        if (r < 0)
                return r;
        r = target_old_grub_dir(ctx, &grubdir, &mounted);
        if (r == -ENOENT)
                return 0; /* the old root is gone: nothing to restore there */
        if (r < 0)
                return r;
        if (asprintf(&env, "%s/grubenv", grubdir) < 0 || asprintf(&saved, "%s/grubenv.rootraid-orig", grubdir) < 0) {
                r = -ENOMEM;
                goto finish;
        }
        r = grub_custom_set(ctx, grubdir, SECTION, NULL);
        if (r < 0)
                goto finish;
        r = read_full_file(saved, 1 << 20, &text, &size);
        if (r >= 0) {
                r = step_write_file(ctx, env, text, size, 0644);
                if (r >= 0 && !ctx->dry_run)
                        (void) unlink(saved);
        } else if (r == -ENOENT) {
                /* No copy: there was no grubenv, or apply never got there;
                 * unset is a no-op in the second case. */
                const char *argv[] = { "grub-editenv", env, "unset", "next_entry", NULL };
                r = access(env, F_OK) == 0 ? run_argv_checked(argv, 0, NULL) : 0;
        }
        if (r < 0)
                r = step_error(ctx, r, "Cannot restore %s: %m", env);
finish:
        if (mounted)
                target_old_umount();
        return r;
}

const struct step_ops step_boot_once = {
        .kind = STEP_BOOT_ONCE,
        .check = boot_once_check,
        .apply = boot_once_apply,
        .undo = boot_once_undo,
};
