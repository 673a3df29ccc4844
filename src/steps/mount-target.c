/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mount-target: mounts the new filesystems under the target directory, in
 * the plan's order (the root first), and from then on keeps a copy of the
 * journal on the new root (TARGET/var/lib/rootraid).
 *   check: every mount point has the planned device mounted, carrying the
 *          planned filesystem UUID.
 *   apply: mounts what is not mounted yet (mount(2)), by the array's
 *          planned /dev/md/NAME, linked first when a power cut left the
 *          array without it (see link_planned_name()).  After the switch the
 *          new root is "/" and is simply mounted a second time there, so
 *          the later steps find their files at the same paths.  First
 *          the target's parent becomes a private mount (private_parent()).
 *   undo:  unmounts in reverse order; a busy mount is retried, then
 *          detached lazily as a last resort (said in the log); then the
 *          parent's private bind, once nothing is mounted under it. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steps/kinds.h"
#include "steps/md.h"
#include "steps/signatures.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

struct mnt {
        const char *filesystem, *device, *mountpoint, *fstype;
};

static int get_mount(struct step_context *ctx, const struct plan_step *step, json_object *mounts, size_t i, struct mnt *m) {
        json_object *o = json_object_array_get_idx(mounts, i), *v;
        *m = (struct mnt) {};
#define GET(field)                                                                                          \
        if (!json_object_object_get_ex(o, #field, &v) || !(m->field = json_object_get_string(v)))            \
                return step_error(ctx, EBADMSG, "Mount %zu of step '%s' has no '%s'.", i, step->id, #field)
        GET(device);
        GET(mountpoint);
        GET(fstype);
#undef GET
        if (json_object_object_get_ex(o, "filesystem", &v))
                m->filesystem = json_object_get_string(v);
        return 0;
}

/* The planned UUID of filesystem name. */
static const char *planned_uuid(const struct plan *p, const char *name) {
        json_object *fss, *v;
        if (!name || !p->target || !json_object_object_get_ex(p->target, "filesystems", &fss))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(fss); i++) {
                json_object *fs = json_object_array_get_idx(fss, i);
                if (json_object_object_get_ex(fs, "name", &v) && streq_ptr(json_object_get_string(v), name))
                        return json_object_object_get_ex(fs, "uuid", &v) ? json_object_get_string(v) : NULL;
        }
        return NULL;
}

/* >0 when m is mounted as planned. */
static int is_mounted(struct step_context *ctx, const struct mnt *m) {
        _cleanup_free_ char *type = NULL, *uuid = NULL, *label = NULL, *node = md_plan_node(ctx, m->device);
        const char *want = planned_uuid(ctx->plan, m->filesystem);
        struct stat st;
        dev_t d;

        if (!node)
                return -ENOMEM;
        if (target_mounted_dev(m->mountpoint, &d) < 0)
                return 0;
        if (stat(node, &st) < 0 || !S_ISBLK(st.st_mode) || st.st_rdev != d)
                return 0;
        if (want && (signatures_probe_fs(node, &type, &uuid, &label) < 0 || !uuid || strcasecmp(uuid, want) != 0))
                return 0;
        return 1;
}

/* Asks udev for the link: a runtime rule, then a change event on the
 * array.  0 once device resolves to node; <0 otherwise (the caller links
 * it itself). */
static int udev_link(struct step_context *ctx, const char *device, const char *node, const char *uuid) {
        _cleanup_free_ char *rule = NULL, *path = NULL, *resolved = NULL;
        const char *name = device + strlen("/dev/md/");
        int r;

        rule = md_udev_link_rule(name, uuid);
        if (!rule || asprintf(&path, UDEV_RULES_DIR "/69-rootraid-md-%s.rules", name) < 0)
                return -EINVAL;
        r = mkdir_p(UDEV_RULES_DIR, 0755);
        if (r < 0)
                return r;
        r = write_file_atomic(path, rule, strlen(rule), 0644);
        if (r < 0)
                return r;
        const char *reload[] = { "udevadm", "control", "--reload", NULL };
        const char *trigger[] = { "udevadm", "trigger", "--settle", "--action=change", node, NULL };
        if ((r = run_argv_checked(reload, RUN_QUIET_STDERR, NULL)) < 0 ||
            (r = run_argv_checked(trigger, RUN_QUIET_STDERR, NULL)) < 0) {
                step_log(ctx, LOG_LEVEL_INFO, r, "udev did not take the rule %s: %m", path);
                return r;
        }
        resolved = realpath(device, NULL);
        return resolved && streq(resolved, node) ? 0 : -ENOENT;
}

/* After a power cut before the new mdadm.conf, the old initramfs assembles
 * the plan's arrays without their /dev/md/NAME links (as /dev/md127 or
 * /dev/md/HOST:NAME).  Mounted as /dev/md127, the new root then shows
 * grub-install a device it names "md127", which GRUB's own md driver does
 * not know ("disk `md127' not found", seen in the crash test), where the
 * normal run shows /dev/md/NAME.  So the array gets its planned link, and
 * is mounted by that name: the same state as without the power cut.
 * Stopping and assembling the array again under its name would race with
 * udev's incremental assembly of the freed members.
 *
 * udev makes the link (udev_link()), not rootraid: systemd names the mount
 * unit's device after the mount's source, and a link udev does not know
 * leaves that device unit "tentative" for as long as the mount lasts (seen
 * in a guest), a state systemd keeps for devices it expects to vanish.
 * Only if udev cannot is the link made here (relative, like udev's).
 * Returns 0, or a negative errno (step_error() said it). */
static int link_planned_name(struct step_context *ctx, const char *device, const char *uuid) {
        _cleanup_free_ char *node = NULL, *target = NULL;
        struct stat st;
        int r;

        if (!startswith(device, "/dev/md/") || stat(device, &st) == 0)
                return 0;
        node = md_plan_node(ctx, device);
        if (!node)
                return -ENOMEM;
        if (streq(node, device))
                return 0; /* no running array of the plan by that name: mount says so */
        if (uuid && udev_link(ctx, device, node, uuid) == 0) {
                step_log(ctx, LOG_LEVEL_NOTICE, 0,
                         "The array %s runs as %s without its name (assembled before the new mdadm.conf existed): "
                         "udev links %s to it now, by a rule in " UDEV_RULES_DIR " until the next boot.",
                         device, node, device);
                return 0;
        }
        if (asprintf(&target, "../%s", strrchr(node, '/') + 1) < 0)
                return -ENOMEM;
        r = mkdir_p("/dev/md", 0755);
        if (r < 0)
                return step_error(ctx, r, "Cannot create /dev/md: %m");
        /* A dangling link of an array stopped earlier. */
        if (lstat(device, &st) == 0 && S_ISLNK(st.st_mode) && unlink(device) < 0)
                return step_error(ctx, errno, "Cannot remove the stale link %s: %m", device);
        if (symlink(target, device) < 0)
                return step_error(ctx, errno, "Cannot link %s to %s: %m", device, node);
        step_log(ctx, LOG_LEVEL_NOTICE, 0,
                 "The array %s runs as %s without its name (assembled before the new mdadm.conf existed): "
                 "linked %s to it.", device, node, device);
        return 0;
}

/* Makes the directory holding the target root (/run/rootraid) a private
 * mount of its own before anything is mounted under it.  /run is shared,
 * and systemd runs many services (networkd, logind, timesyncd) in mount
 * namespaces that are its slaves: every mount under the target would also
 * appear there, the chroot binds of /dev, /proc, /sys and /run included.
 * target_chroot_setup() makes its binds private in our namespace, so their
 * unmounting no longer reaches those copies; the copies of the binds keep
 * the copy of the new root busy, and it stays mounted in the services'
 * namespaces after we unmount ours: rollback could not erase the new
 * filesystem ("Device or resource busy", seen in vm-rollback-luks).  Under
 * a private parent nothing propagates.  The bind goes with /run at the
 * next boot; a second call only makes it private again. */
static int private_parent(struct step_context *ctx, const char *root) {
        _cleanup_free_ char *parent = strdup(root);
        char *slash;
        dev_t d;

        if (!parent)
                return -ENOMEM;
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return 0; /* directly under /: leave the root filesystem alone */
        *slash = 0;
        /* On a fresh apply nothing has created /run/rootraid yet. */
        int r = mkdir_p(parent, 0755);
        if (r < 0)
                return step_error(ctx, r, "Cannot create %s: %m", parent);
        if (target_mounted_dev(parent, &d) < 0 && mount(parent, parent, NULL, MS_BIND, NULL) < 0)
                return step_error(ctx, errno, "Cannot bind-mount %s on itself: %m", parent);
        if (mount(NULL, parent, NULL, MS_PRIVATE, NULL) < 0)
                return step_error(ctx, errno, "Cannot make the mount %s private: %m", parent);
        return 0;
}

/* Undoes private_parent() once nothing is mounted under the target's
 * parent any more: its bind on itself would otherwise stay in the mount
 * table until the next boot, the one thing of rootraid a rollback left
 * (vm-rollback-bios-mbr run 4).  Best effort: the bind is harmless. */
static void release_parent(struct step_context *ctx, const char *root) {
        _cleanup_free_ char *parent = strdup(root), *line = NULL;
        _cleanup_fclose_ FILE *f = NULL;
        bool bound = false;
        size_t n = 0, l;
        char *slash;

        if (!parent || ctx->dry_run)
                return;
        slash = strrchr(parent, '/');
        if (!slash || slash == parent)
                return;
        *slash = 0;
        l = strlen(parent);
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return;
        while (getline(&line, &n, f) > 0) {
                char mp[4096];
                if (sscanf(line, "%*u %*u %*u:%*u %*s %4095s", mp) != 1)
                        continue;
                if (strncmp(mp, parent, l) != 0)
                        continue;
                if (mp[l] == '/')
                        return; /* something is still mounted below it */
                if (mp[l] == 0)
                        bound = true;
        }
        if (bound && umount2(parent, 0) < 0)
                step_log(ctx, LOG_LEVEL_DEBUG, errno, "Cannot unmount the bind of %s: %m", parent);
}

static int journal_dir(const char *root, char **ret) {
        return asprintf(ret, "%s" JOURNAL_DIR, root) < 0 ? -ENOMEM : 0;
}

static int mount_target_check(struct step_context *ctx, const struct plan_step *step) {
        json_object *mounts;
        int r = step_arg_array(ctx, step, "mounts", &mounts);
        if (r < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(mounts); i++) {
                struct mnt m;
                if ((r = get_mount(ctx, step, mounts, i, &m)) < 0)
                        return r;
                if ((r = is_mounted(ctx, &m)) <= 0)
                        return r;
        }
        return 1;
}

static int mount_target_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *jdir = NULL;
        json_object *mounts;
        const char *root;
        struct stat a, b;
        int r;

        if ((r = step_arg_string(ctx, step, "root", &root)) < 0 || (r = step_arg_array(ctx, step, "mounts", &mounts)) < 0)
                return r;
        if (!ctx->dry_run && (r = private_parent(ctx, root)) < 0)
                return r;
        for (size_t i = 0; i < json_object_array_length(mounts); i++) {
                _cleanup_free_ char *node = NULL;
                struct mnt m;
                if ((r = get_mount(ctx, step, mounts, i, &m)) < 0 || (r = is_mounted(ctx, &m)) < 0)
                        return r;
                if (r > 0)
                        continue;
                if (ctx->dry_run) {
                        printf("would mount %s (%s) on %s\n", m.device, m.fstype, m.mountpoint);
                        continue;
                }
                r = mkdir_p(m.mountpoint, 0755);
                if (r < 0)
                        return step_error(ctx, r, "Cannot create %s: %m", m.mountpoint);
                /* after a power cut the old initramfs may have assembled
                 * the array without its /dev/md/NAME link */
                r = link_planned_name(ctx, m.device, md_plan_uuid(ctx->plan, m.device));
                if (r < 0)
                        return r;
                node = md_plan_node(ctx, m.device);
                if (!node)
                        return -ENOMEM;
                if (mount(node, m.mountpoint, m.fstype, 0, NULL) < 0)
                        return step_error(ctx, errno, "Cannot mount %s on %s: %m", node, m.mountpoint);
                step_log(ctx, LOG_LEVEL_INFO, 0, "Mounted %s on %s.", node, m.mountpoint);
        }
        if (ctx->dry_run || !ctx->journal)
                return 0;

        /* From here on every commit also lands on the new root, so that
         * after the switch the journal is found there.  After the switch
         * TARGET/var/lib/rootraid is the running root's own directory. */
        r = journal_dir(root, &jdir);
        if (r < 0)
                return r;
        r = mkdir_p(jdir, 0700);
        if (r < 0)
                return step_error(ctx, r, "Cannot create %s: %m", jdir);
        if (stat(jdir, &a) == 0 && stat(JOURNAL_DIR, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
                return 0;
        r = journal_add_location(ctx->journal, jdir);
        if (r < 0)
                return step_error(ctx, r, "Cannot keep the journal in %s: %m", jdir);
        return 0;
}

static int mount_target_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *jdir = NULL;
        json_object *mounts;
        const char *root;
        int r;

        if ((r = step_arg_string(ctx, step, "root", &root)) < 0 || (r = step_arg_array(ctx, step, "mounts", &mounts)) < 0)
                return r;
        if (ctx->journal && journal_dir(root, &jdir) >= 0)
                (void) journal_remove_location(ctx->journal, jdir); /* -ENOENT: was never one */

        for (size_t n = json_object_array_length(mounts); n > 0; n--) {
                struct mnt m;
                if ((r = get_mount(ctx, step, mounts, n - 1, &m)) < 0)
                        return r;
                if (is_mounted(ctx, &m) <= 0)
                        continue;
                if (ctx->dry_run) {
                        printf("would unmount %s\n", m.mountpoint);
                        continue;
                }
                sync();
                for (int attempt = 0;; attempt++) {
                        if (umount2(m.mountpoint, 0) >= 0)
                                break;
                        if (errno != EBUSY)
                                return step_error(ctx, errno, "Cannot unmount %s: %m", m.mountpoint);
                        if (attempt >= 10) {
                                step_log(ctx, LOG_LEVEL_WARNING, 0,
                                         "%s is still busy; detaching it lazily: it goes once the last user closes it "
                                         "(see fuser -vm %s).", m.mountpoint, m.mountpoint);
                                if (umount2(m.mountpoint, MNT_DETACH) < 0)
                                        return step_error(ctx, errno, "Cannot detach %s: %m", m.mountpoint);
                                break;
                        }
                        usleep(500 * 1000);
                }
        }
        release_parent(ctx, root);
        return 0;
}

const struct step_ops step_mount_target = {
        .kind = STEP_MOUNT_TARGET,
        .check = mount_target_check,
        .apply = mount_target_apply,
        .undo = mount_target_undo,
};
