/* SPDX-License-Identifier: GPL-2.0-or-later */
/* integrity-boot (--integrity): the boot chain opens every dm-integrity
 * member before anything looks for md arrays.
 *
 * On Debian 12 with initramfs-tools, mdadm assembles from udev (incremental
 * assembly of each block device that blkid calls linux_raid_member) and
 * from scripts/local-block/mdadm, which initramfs-tools runs in a loop
 * while the root device is missing (mdadm --assemble --scan --no-degraded,
 * degraded only near the end of ROOTDELAY).  The md superblock sits inside
 * the integrity device, so a raw member partition shows up as DM-integrity,
 * not as an md member: nothing assembles until the mappings exist.  So:
 *
 *   scripts/local-top/rootraid-integrity  runs once before the root device
 *       is waited for (local-top comes before local-block): waits up to
 *       10 s for the partitions of /etc/rootraid/integrity.conf, opens each
 *       with integritysetup; udev then sees the md superblocks on the
 *       mappings and mdadm assembles.
 *   scripts/local-block/rootraid-integrity  the same script, run again in
 *       initramfs-tools' wait loop: a disk that shows up late is opened
 *       then, still before mdadm gives up waiting and starts degraded.
 *   hooks/rootraid-integrity  puts integritysetup (with its libraries),
 *       dmsetup and device-mapper's udev rules (so udev gives the mappings
 *       their blkid properties, which incremental assembly looks at), the
 *       dm-integrity and crc32c modules and the list of volumes into every
 *       initramfs built later too.  The script runs integritysetup with
 *       DM_DISABLE_UDEV=1: libdevmapper then makes /dev/mapper/NAME itself
 *       instead of waiting for a udev confirmation, so a missing rule can
 *       never hang the boot; mdadm --assemble --scan in local-block reads
 *       /proc/partitions, where the mappings are, in any case.
 *
 * The list names each partition by /dev/disk/by-partuuid, which the plan
 * fixed when it chose the partition tables; the old disk's volumes are
 * listed from the start (missing until the old disk is repartitioned, and
 * then skipped quietly).
 *
 * what = "files": writes those files into root.  "initramfs": checks that
 * every initramfs of root holds them (lsinitramfs); apply cannot fix that,
 * it says what is missing.  "integritytab": writes /etc/integritytab
 * (systemd-integritysetup's list, crc32c being its default without a key
 * file) once every volume exists, so the running system knows the mappings
 * the initramfs opened; its generator would otherwise not know them, and
 * written earlier it would wait at every boot for the old disk's volumes
 * that do not exist yet.
 *   check: the files hold exactly this content / the images hold them.
 *   undo:  removes the files written. */
#include <glob.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

#define CONF "/etc/rootraid/integrity.conf"
#define HOOK "/etc/initramfs-tools/hooks/rootraid-integrity"
#define LOCAL_TOP "/etc/initramfs-tools/scripts/local-top/rootraid-integrity"
#define LOCAL_BLOCK "/etc/initramfs-tools/scripts/local-block/rootraid-integrity"
#define INTEGRITYTAB "/etc/integritytab"

static const char hook_text[] =
        "#!/bin/sh\n"
        "# Written by rootraid (--integrity): puts what opens the dm-integrity\n"
        "# members of the md arrays into the initramfs; see " CONF ".\n"
        "PREREQ=\"\"\n"
        "prereqs() { echo \"$PREREQ\"; }\n"
        "case \"$1\" in prereqs) prereqs; exit 0 ;; esac\n"
        ". /usr/share/initramfs-tools/hook-functions\n"
        "[ -r " CONF " ] || exit 0\n"
        "for b in /usr/sbin/integritysetup /sbin/integritysetup; do\n"
        "        [ -x \"$b\" ] && { copy_exec \"$b\" /sbin; break; }\n"
        "done\n"
        "for b in /usr/sbin/dmsetup /sbin/dmsetup; do\n"
        "        [ -x \"$b\" ] && { copy_exec \"$b\" /sbin; break; }\n"
        "done\n"
        "for rule in 13-dm-disk.rules 55-dm.rules 60-persistent-storage-dm.rules 95-dm-notify.rules; do\n"
        "        for dir in /lib/udev/rules.d /usr/lib/udev/rules.d; do\n"
        "                if [ -e \"$dir/$rule\" ] && [ ! -e \"$DESTDIR/lib/udev/rules.d/$rule\" ]; then\n"
        "                        mkdir -p \"$DESTDIR/lib/udev/rules.d\"\n"
        "                        cp \"$dir/$rule\" \"$DESTDIR/lib/udev/rules.d/\"\n"
        "                fi\n"
        "        done\n"
        "done\n"
        "manual_add_modules dm_integrity crc32c_generic\n"
        "manual_add_modules crc32c_intel 2>/dev/null || true\n"
        "mkdir -p \"$DESTDIR/etc/rootraid\"\n"
        "cp " CONF " \"$DESTDIR" CONF "\"\n";

static const char script_text[] =
        "#!/bin/sh\n"
        "# Written by rootraid (--integrity): opens the dm-integrity members of the\n"
        "# md arrays listed in " CONF " before mdadm looks for them.\n"
        "PREREQ=\"\"\n"
        "prereqs() { echo \"$PREREQ\"; }\n"
        "case \"$1\" in prereqs) prereqs; exit 0 ;; esac\n"
        ". /scripts/functions\n"
        "conf=" CONF "\n"
        "[ -r \"$conf\" ] || exit 0\n"
        "command -v integritysetup >/dev/null 2>&1 || { log_warning_msg \"rootraid: no integritysetup in the initramfs\"; exit 0; }\n"
        "modprobe -q dm_integrity\n"
        "mkdir -p /run/cryptsetup\n"
        "modprobe -q crc32c 2>/dev/null\n"
        "all_there() {\n"
        "        while read -r name dev rest; do\n"
        "                case \"$name\" in ''|'#'*) continue ;; esac\n"
        "                [ -e \"/dev/mapper/$name\" ] || [ -e \"$dev\" ] || return 1\n"
        "        done <\"$conf\"\n"
        "        return 0\n"
        "}\n"
        "# The first run (local-top) waits up to 10 s for the partitions; the\n"
        "# later ones (local-block, in the wait for the root) do not.\n"
        "if [ ! -e /run/rootraid-integrity.waited ]; then\n"
        "        : >/run/rootraid-integrity.waited\n"
        "        wait_for_udev 10\n"
        "        n=0\n"
        "        while ! all_there && [ $n -lt 20 ]; do sleep 0.5; n=$((n + 1)); done\n"
        "fi\n"
        "while read -r name dev rest; do\n"
        "        case \"$name\" in ''|'#'*) continue ;; esac\n"
        "        [ -e \"/dev/mapper/$name\" ] && continue\n"
        "        [ -e \"$dev\" ] || continue\n"
        "        DM_DISABLE_UDEV=1 integritysetup open \"$dev\" \"$name\" --integrity crc32c ||\n"
        "                log_warning_msg \"rootraid: cannot open $dev as $name\"\n"
        "done <\"$conf\"\n"
        "exit 0\n";

struct boot_args {
        const char *root, *what;
        json_object *volumes;
};

static int parse(struct step_context *ctx, const struct plan_step *step, struct boot_args *a) {
        int r;

        *a = (struct boot_args) {};
        if ((r = step_arg_string(ctx, step, "root", &a->root)) < 0 ||
            (r = step_arg_string(ctx, step, "what", &a->what)) < 0 ||
            (r = step_arg_array(ctx, step, "volumes", &a->volumes)) < 0)
                return r;
        if (!streq(a->what, "files") && !streq(a->what, "initramfs") && !streq(a->what, "integritytab"))
                return step_error(ctx, EBADMSG, "Step '%s': unknown part of the boot chain '%s'.", step->id, a->what);
        return 0;
}

/* The list of volumes: "NAME DEVICE" lines for our script, or integritytab
 * lines ("NAME DEVICE - -"). */
static char *volume_list(const struct boot_args *a, bool integritytab) {
        char *text = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&text, &size);

        if (!f)
                return NULL;
        fputs("# Written by rootraid (--integrity): the dm-integrity members of the md arrays.\n", f);
        if (integritytab)
                fputs("# The initramfs opens them first (" CONF "); crc32c is the default algorithm.\n", f);
        for (size_t i = 0; i < json_object_array_length(a->volumes); i++) {
                json_object *v = json_object_array_get_idx(a->volumes, i), *name, *dev;
                if (!json_object_object_get_ex(v, "name", &name) || !json_object_object_get_ex(v, "device", &dev))
                        continue;
                fprintf(f, "%s %s%s\n", json_object_get_string(name), json_object_get_string(dev), integritytab ? " - -" : "");
        }
        if (fclose(f) != 0) {
                free(text);
                return NULL;
        }
        return text;
}

struct file {
        const char *path;
        const char *text;
        mode_t mode;
};

/* The files of what, with their contents (*owned: the list, freed by the
 * caller).  Returns the count. */
static size_t files_of(const struct boot_args *a, struct file ret[4], char **owned) {
        bool tab = streq(a->what, "integritytab");

        *owned = volume_list(a, tab);
        if (!*owned)
                return 0;
        if (tab) {
                ret[0] = (struct file) { INTEGRITYTAB, *owned, 0644 };
                return 1;
        }
        ret[0] = (struct file) { CONF, *owned, 0644 };
        ret[1] = (struct file) { HOOK, hook_text, 0755 };
        ret[2] = (struct file) { LOCAL_TOP, script_text, 0755 };
        ret[3] = (struct file) { LOCAL_BLOCK, script_text, 0755 };
        return 4;
}

static char *in_root(const char *root, const char *path) {
        char *p = NULL;
        return asprintf(&p, "%s%s", streq(root, "/") ? "" : root, path) < 0 ? NULL : p;
}

/* >0 when every file of what holds its content in root. */
static int files_present(const struct boot_args *a) {
        _cleanup_free_ char *owned = NULL;
        struct file fl[4];
        size_t n = files_of(a, fl, &owned);

        if (n == 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = in_root(a->root, fl[i].path), *text = NULL;
                if (!p)
                        return -ENOMEM;
                if (read_full_file(p, 1 << 20, &text, NULL) < 0 || !streq(text, fl[i].text) || access(p, fl[i].mode & 0100 ? X_OK : R_OK) < 0)
                        return 0;
        }
        return 1;
}

/* >0 when every initramfs of root holds the hook's work; 0 with
 * *ret_problem saying what is missing. */
static int images_ready(const char *root, char **ret_problem) {
        _cleanup_free_ char *pattern = in_root(root, "/boot/initrd.img-*");
        glob_t g = {};
        int r = 1;

        if (!pattern)
                return -ENOMEM;
        if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc == 0) {
                globfree(&g);
                return asprintf(ret_problem, "no initramfs in %s/boot", root) < 0 ? -ENOMEM : 0;
        }
        for (size_t i = 0; i < g.gl_pathc && r > 0; i++) {
                static const char *const want[] = {
                        "etc/rootraid/integrity.conf", "scripts/local-top/rootraid-integrity",
                        "scripts/local-block/rootraid-integrity", "/integritysetup", "/dm-integrity.ko", NULL,
                };
                _cleanup_free_ char *out = NULL;
                const char *argv[] = { "lsinitramfs", g.gl_pathv[i], NULL };
                /* Judged by the listing: lsinitramfs exits non-zero on
                 * an archive without the trailing sections it looks for,
                 * and a damaged image lists short and fails below. */
                int q = run_argv(argv, RUN_CAPTURE_STDOUT, &out, NULL);
                if (q < 0 || isempty(out)) {
                        r = asprintf(ret_problem, "lsinitramfs %s failed", g.gl_pathv[i]) < 0 ? -ENOMEM : 0;
                        break;
                }
                for (size_t k = 0; want[k]; k++) {
                        /* one path per line: look for the name at a line's end
                         * (the module may be compressed: .ko.xz, .ko.zst) */
                        bool found = false;
                        for (const char *p = out; p && *p && !found;) {
                                const char *eol = strchr(p, '\n');
                                size_t len = eol ? (size_t) (eol - p) : strlen(p);
                                const char *hit = memmem(p, len, want[k], strlen(want[k]));
                                found = hit && (hit + strlen(want[k]) == p + len || hit[strlen(want[k])] == '.');
                                p = eol ? eol + 1 : NULL;
                        }
                        if (!found) {
                                r = asprintf(ret_problem, "%s has no %s", g.gl_pathv[i], want[k]) < 0 ? -ENOMEM : 0;
                                break;
                        }
                }
        }
        globfree(&g);
        return r;
}

static int integrity_boot_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *problem = NULL;
        struct boot_args a;
        int r = parse(ctx, step, &a);

        if (r < 0)
                return r;
        /* files and initramfs work on the new root before the reboot: once
         * the machine runs from it, that work is behind us (and the new
         * root is / now, not under the target directory). */
        if (ctx->plan && !streq(a.what, "integritytab") && target_presumed_done(ctx, step))
                return 1;
        if (!streq(a.what, "initramfs"))
                return files_present(&a);
        r = images_ready(a.root, &problem);
        if (r == 0)
                step_log(ctx, LOG_LEVEL_DEBUG, 0, "Not done yet: %s.", problem);
        return r < 0 ? 0 : r;
}

static int integrity_boot_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *problem = NULL, *owned = NULL;
        struct file fl[4];
        struct boot_args a;
        int r = parse(ctx, step, &a);

        if (r < 0)
                return r;
        if (streq(a.what, "initramfs")) {
                if (ctx->dry_run) {
                        printf("would check that every initramfs in %s/boot holds integritysetup, dm-integrity and " CONF "\n", a.root);
                        return 0;
                }
                r = images_ready(a.root, &problem);
                if (r < 0)
                        return step_error(ctx, r, "Cannot inspect the initramfs in %s/boot: %m", a.root);
                if (r == 0)
                        return step_error(ctx, EPROTO, "The new initramfs cannot open the integrity devices: %s. The arrays would not "
                                          "assemble at boot; is cryptsetup-bin (integritysetup) installed in the new root?", problem);
                step_log(ctx, LOG_LEVEL_INFO, 0, "Every initramfs opens the integrity devices before mdadm.");
                return 0;
        }
        size_t n = files_of(&a, fl, &owned);
        if (n == 0)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = in_root(a.root, fl[i].path);
                if (!p)
                        return -ENOMEM;
                if (!ctx->dry_run) {
                        _cleanup_free_ char *dir = strdup(p);
                        if (!dir)
                                return -ENOMEM;
                        *strrchr(dir, '/') = 0;
                        r = mkdir_p(dir, 0755);
                        if (r < 0)
                                return step_error(ctx, r, "Cannot create %s: %m", dir);
                }
                r = step_write_file(ctx, p, fl[i].text, strlen(fl[i].text), fl[i].mode);
                if (r < 0)
                        return step_error(ctx, r, "Cannot write %s: %m", p);
        }
        return 0;
}

static int integrity_boot_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *owned = NULL;
        struct file fl[4];
        struct boot_args a;
        int r = parse(ctx, step, &a);

        if (r < 0)
                return r;
        if (streq(a.what, "initramfs"))
                return 0;
        size_t n = files_of(&a, fl, &owned);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *p = in_root(a.root, fl[i].path);
                if (!p)
                        return -ENOMEM;
                if (ctx->dry_run)
                        printf("would remove %s\n", p);
                else if (unlink(p) < 0 && errno != ENOENT)
                        return step_error(ctx, errno, "Cannot remove %s: %m", p);
        }
        return 0;
}

const struct step_ops step_integrity_boot = {
        .kind = STEP_INTEGRITY_BOOT,
        .check = integrity_boot_check,
        .apply = integrity_boot_apply,
        .undo = integrity_boot_undo,
};
