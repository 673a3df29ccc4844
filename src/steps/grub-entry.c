/* SPDX-License-Identifier: GPL-2.0-or-later */
/* custom.cfg sections and the one-time menu entry; see grub-entry.h. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "steps/grub-entry.h"
#include "steps/md.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/strutil.h"

static int paths(const char *grubdir, char **cfg, char **orig, char **absent) {
        if (asprintf(cfg, "%s/custom.cfg", grubdir) < 0)
                return -ENOMEM;
        if (asprintf(orig, "%s/custom.cfg.rootraid-orig", grubdir) < 0)
                return -ENOMEM;
        if (asprintf(absent, "%s/custom.cfg.rootraid-absent", grubdir) < 0)
                return -ENOMEM;
        return 0;
}

/* text without section name (a new string), and whether it had it, with
 * the section's body in *ret_body when asked. */
static char *strip_section(const char *text, const char *name, bool *ret_found, char **ret_body) {
        _cleanup_free_ char *begin = NULL, *end = NULL;
        const char *b, *e;
        char *out;

        *ret_found = false;
        if (asprintf(&begin, "### BEGIN rootraid-%s ###\n", name) < 0 || asprintf(&end, "### END rootraid-%s ###\n", name) < 0)
                return NULL;
        b = strstr(text, begin);
        e = b ? strstr(b, end) : NULL;
        if (!b || !e)
                return strdup(text);
        *ret_found = true;
        if (ret_body)
                *ret_body = strndup(b + strlen(begin), (size_t) (e - b - strlen(begin)));
        e += strlen(end);
        if (asprintf(&out, "%.*s%s", (int) (b - text), text, e) < 0)
                return NULL;
        return out;
}

int grub_custom_get(const char *grubdir, const char *name, char **ret_content) {
        _cleanup_free_ char *cfg = NULL, *orig = NULL, *absent = NULL, *text = NULL, *rest = NULL, *body = NULL;
        bool found;

        if (paths(grubdir, &cfg, &orig, &absent) < 0)
                return -ENOMEM;
        if (read_full_file(cfg, 1 << 20, &text, NULL) < 0)
                return 0;
        rest = strip_section(text, name, &found, &body);
        if (!rest || (found && !body))
                return -ENOMEM;
        if (!found)
                return 0;
        *ret_content = TAKE_PTR(body);
        return 1;
}

int grub_custom_has(const char *grubdir, const char *name, const char *content) {
        _cleanup_free_ char *body = NULL;
        int r = grub_custom_get(grubdir, name, &body);
        return r <= 0 ? r : streq(body, content);
}

int grub_custom_set(struct step_context *ctx, const char *grubdir, const char *name, const char *content) {
        _cleanup_free_ char *cfg = NULL, *orig = NULL, *absent = NULL, *text = NULL, *rest = NULL, *out = NULL;
        bool found, had_file;
        int r;

        if (paths(grubdir, &cfg, &orig, &absent) < 0)
                return -ENOMEM;
        r = read_full_file(cfg, 1 << 20, &text, NULL);
        if (r < 0 && r != -ENOENT)
                return step_error(ctx, r, "Cannot read %s: %m", cfg);
        had_file = r >= 0;
        if (!text && !(text = strdup("")))
                return -ENOMEM;

        /* Keep the original once, before the first change. */
        if (content && access(orig, F_OK) < 0 && access(absent, F_OK) < 0) {
                r = had_file ? step_write_file(ctx, orig, text, strlen(text), 0644) : step_write_file(ctx, absent, "", 0, 0644);
                if (r < 0)
                        return r;
        }

        rest = strip_section(text, name, &found, NULL);
        if (!rest)
                return -ENOMEM;
        if (content) {
                if (asprintf(&out, "%s%s### BEGIN rootraid-%s ###\n%s### END rootraid-%s ###\n", rest,
                             *rest && rest[strlen(rest) - 1] != '\n' ? "\n" : "", name, content, name) < 0)
                        return -ENOMEM;
                return step_write_file(ctx, cfg, out, strlen(out), 0644);
        }
        if (!found && !had_file)
                return 0;
        if (!strstr(rest, "### BEGIN rootraid-")) {
                /* The last section goes: the original comes back exactly. */
                _cleanup_free_ char *o = NULL;
                if (access(absent, F_OK) == 0) {
                        if (ctx->dry_run)
                                printf("would remove: %s\n", cfg);
                        else if (unlink(cfg) < 0 && errno != ENOENT)
                                return step_error(ctx, errno, "Cannot remove %s: %m", cfg);
                        if (!ctx->dry_run)
                                (void) unlink(absent);
                        return 0;
                }
                if (read_full_file(orig, 1 << 20, &o, NULL) >= 0) {
                        r = step_write_file(ctx, cfg, o, strlen(o), 0644);
                        if (r < 0)
                                return r;
                        if (!ctx->dry_run)
                                (void) unlink(orig);
                        return 0;
                }
        }
        if (!found)
                return 0;
        return step_write_file(ctx, cfg, rest, strlen(rest), 0644);
}

const struct plan_step *grub_boot_once_step(const struct plan *p) {
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].kind == STEP_BOOT_ONCE)
                        return &p->steps[i];
        return NULL;
}

static int version_cmp(const struct dirent **a, const struct dirent **b) {
        return strverscmp((*a)->d_name, (*b)->d_name);
}

static int only_vmlinuz(const struct dirent *d) {
        return startswith(d->d_name, "vmlinuz-") != NULL;
}

/* The newest kernel in ROOT/boot that has an initramfs: its version. */
static int newest_kernel(const char *boot, char **ret) {
        struct dirent **names = NULL;
        int n, r = -ENOENT;

        n = scandir(boot, &names, only_vmlinuz, version_cmp);
        if (n < 0)
                return -errno;
        for (int i = n - 1; i >= 0 && r == -ENOENT; i--) {
                _cleanup_free_ char *initrd = NULL;
                const char *ver = names[i]->d_name + strlen("vmlinuz-");
                if (asprintf(&initrd, "%s/initrd.img-%s", boot, ver) < 0) {
                        r = -ENOMEM;
                        break;
                }
                if (access(initrd, F_OK) == 0)
                        r = (*ret = strdup(ver)) ? 0 : -ENOMEM;
        }
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        return r;
}

static const char *json_s(json_object *o, const char *k) {
        json_object *v;
        return json_object_object_get_ex(o, k, &v) && v && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
                                                                                                  : NULL;
}

/* Type and mount point of the planned filesystem with uuid. */
static void planned_fs(const struct plan *p, const char *uuid, const char **type, const char **mountpoint) {
        json_object *fss;
        *type = *mountpoint = NULL;
        if (!p->target || !json_object_object_get_ex(p->target, "filesystems", &fss))
                return;
        for (size_t i = 0; i < json_object_array_length(fss); i++) {
                json_object *fs = json_object_array_get_idx(fss, i);
                if (streq_ptr(json_s(fs, "uuid"), uuid)) {
                        *type = json_s(fs, "type");
                        *mountpoint = json_s(fs, "mountpoint");
                }
        }
}

static bool has_word(const char *cmdline, const char *word) {
        size_t l = strlen(word);
        for (const char *p = cmdline; p && (p = strstr(p, word)); p += l)
                if ((p == cmdline || p[-1] == ' ') && (p[l] == 0 || p[l] == ' ' || p[l] == '='))
                        return true;
        return false;
}

int grub_entry_render(struct step_context *ctx, const struct plan_step *s, char **ret) {
        const char *root, *entry_id, *title, *root_uuid, *boot_uuid, *cmdline, *type, *mp;
        _cleanup_free_ char *ver = NULL, *boot = NULL, *from = NULL;
        const char *fsmod;
        char *out;
        int r;

        if ((r = step_arg_string(ctx, s, "root", &root)) < 0 || (r = step_arg_string(ctx, s, "entry_id", &entry_id)) < 0 ||
            (r = step_arg_string(ctx, s, "title", &title)) < 0 ||
            (r = step_arg_string(ctx, s, "root_fs_uuid", &root_uuid)) < 0 ||
            (r = step_arg_string(ctx, s, "boot_fs_uuid", &boot_uuid)) < 0 ||
            (r = step_arg_string_optional(ctx, s, "cmdline", &cmdline)) < 0)
                return r;
        if (strchr(title, '\'') || strchr(entry_id, '\''))
                return step_error(ctx, EBADMSG, "The boot entry's title or id contains a quote.");
        if (asprintf(&boot, "%s/boot", streq(root, "/") ? "" : root) < 0)
                return -ENOMEM;
        r = newest_kernel(boot, &ver);
        if (r == -ENOENT && ctx->dry_run && target_copy_source(ctx->plan, boot, &from) >= 0)
                /* Nothing was copied in a dry run: the kernels the copy brings. */
                r = newest_kernel(from, &ver);
        if (r < 0)
                return step_error(ctx, r, "No kernel with an initramfs in %s/boot: %m", root);
        planned_fs(ctx->plan, boot_uuid, &type, &mp);
        /* The paths are relative to the filesystem GRUB searches. */
        const char *prefix = streq_ptr(mp, "/boot") ? "" : "/boot";
        fsmod = startswith(strempty(type), "ext") ? "ext2" : streq_ptr(type, "xfs") ? "xfs" : streq_ptr(type, "btrfs") ? "btrfs" : "ext2";
        cmdline = strempty(cmdline);
        if (asprintf(&out,
                     "menuentry '%s' --id '%s' {\n"
                     "\tinsmod part_msdos\n"
                     "\tinsmod part_gpt\n"
                     "\tinsmod mdraid09\n"
                     "\tinsmod mdraid1x\n"
                     "\tinsmod raid5rec\n"
                     "\tinsmod raid6rec\n"
                     "\tinsmod %s\n"
                     "\tsearch --no-floppy --fs-uuid --set=root %s\n"
                     "\techo 'rootraid: booting the new root from RAID (falls back to the old one if it fails)'\n"
                     "\tlinux %s/vmlinuz-%s root=UUID=%s%s%s%s%s\n"
                     "\tinitrd %s/initrd.img-%s\n"
                     "}\n",
                     title, entry_id, fsmod, boot_uuid, prefix, ver, root_uuid,
                     has_word(cmdline, "ro") || has_word(cmdline, "rw") ? "" : " ro", *cmdline ? " " : "", cmdline,
                     /* initramfs-tools and the kernel reboot on panic when
                      * panic= is set: a failed boot returns to GRUB, whose
                      * next_entry is spent, so the old root boots. */
                     has_word(cmdline, "panic") ? "" : " panic=10", prefix, ver) < 0)
                return -ENOMEM;
        *ret = out;
        return 0;
}
