/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers of the step kinds around the new root; see target.h. */
#include <blkid.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "steps/lvm.h"
#include "steps/md.h"
#include "steps/signatures.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

static const char *json_str(json_object *o, const char *key) {
        json_object *v;
        return o && json_object_object_get_ex(o, key, &v) && v && json_object_is_type(v, json_type_string)
                       ? json_object_get_string(v)
                       : NULL;
}

const char *target_root_fs_uuid(const struct plan *p) {
        json_object *fss;

        if (!p || !p->target || !json_object_object_get_ex(p->target, "filesystems", &fss) ||
            !json_object_is_type(fss, json_type_array))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(fss); i++) {
                json_object *fs = json_object_array_get_idx(fss, i);
                if (streq_ptr(json_str(fs, "mountpoint"), "/"))
                        return json_str(fs, "uuid");
        }
        return NULL;
}

int target_fs_uuid_of(const char *path, char **ret_uuid) {
        _cleanup_free_ char *type = NULL, *uuid = NULL, *label = NULL;
        struct stat st;
        char *dev;
        int r;

        if (stat(path, &st) < 0)
                return -errno;
        dev = blkid_devno_to_devname(st.st_dev);
        if (!dev) {
                *ret_uuid = NULL;
                return 0;
        }
        r = signatures_probe_fs(dev, &type, &uuid, &label);
        free(dev);
        if (r < 0)
                return r;
        *ret_uuid = TAKE_PTR(uuid);
        return 0;
}

int target_running_from_new_root(const struct plan *p) {
        _cleanup_free_ char *uuid = NULL;
        const char *want = target_root_fs_uuid(p);
        int r;

        if (!want)
                return 0;
        r = target_fs_uuid_of("/", &uuid);
        if (r < 0)
                return r;
        if (!uuid || strcasecmp(uuid, want) != 0)
                return 0;
        /* The lvm strategy keeps the root filesystem: its UUID is the same
         * before the reboot, so ask how the machine booted. */
        return lvm_plan_keeps_root(p) ? lvm_booted_new_system(p) : 1;
}

bool target_presumed_done(struct step_context *ctx, const struct plan_step *step) {
        const struct plan *p = ctx->plan;
        size_t self = (size_t) (step - p->steps), reboot = p->n_steps;

        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].kind == STEP_REBOOT) {
                        reboot = i;
                        break;
                }
        if (self >= reboot || self >= p->n_steps)
                return false;
        if (target_running_from_new_root(p) <= 0)
                return false;
        step_log(ctx, LOG_LEVEL_DEBUG, 0, "Runs from the new root: the work of this step is behind us.");
        return true;
}

int target_copy_source(const struct plan *p, const char *path, char **ret) {
        const char *best_source = NULL, *rest = NULL;
        size_t best = 0;

        /* The longest target that is a prefix of path: a separate /boot
         * has its own copy step under the root's target. */
        for (size_t i = 0; i < p->n_steps; i++) {
                json_object *v;
                const char *source, *target, *after;
                if (p->steps[i].kind != STEP_COPY_LIVE && p->steps[i].kind != STEP_COPY_FINAL)
                        continue;
                if (!json_object_object_get_ex(p->steps[i].args, "source", &v) || !(source = json_object_get_string(v)) ||
                    !json_object_object_get_ex(p->steps[i].args, "target", &v) || !(target = json_object_get_string(v)))
                        continue;
                size_t t = strlen(target);
                while (t > 1 && target[t - 1] == '/')
                        t--;
                if (strncmp(path, target, t) != 0 || (path[t] != '/' && path[t] != 0 && !streq(target, "/")))
                        continue;
                after = path + t;
                if (t > best) {
                        best = t;
                        best_source = source;
                        rest = after;
                }
        }
        /* The lvm strategy copies no root: the target root is the running
         * root filesystem mounted a second time, so its files are the
         * running system's. */
        for (size_t i = 0; !best_source && lvm_plan_keeps_root(p) && i < p->n_steps; i++) {
                const char *root = p->steps[i].kind == STEP_MOUNT_TARGET ? json_str(p->steps[i].args, "root") : NULL;
                if (root && (rest = startswith(path, root)) && (!*rest || *rest == '/'))
                        best_source = "/";
        }
        if (!best_source)
                return -ENOENT;
        char *s = isempty(rest) ? strdup(best_source) : path_join(streq(best_source, "/") ? "" : best_source, rest);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

int target_boot_id(char **ret) {
        return read_one_line_file("/proc/sys/kernel/random/boot_id", ret);
}

int target_schedule_systemctl(const char *verb) {
        const char *argv[] = { "systemd-run", "--quiet", "--on-active=5", "--timer-property=AccuracySec=100ms",
                               "--unit=rootraid-reboot", "systemctl", verb, NULL };
        return run_argv_checked(argv, 0, NULL);
}

static char *marker_path(const char *name) {
        char *p;
        return asprintf(&p, TARGET_STATE_DIR "/%s.done", name) < 0 ? NULL : p;
}

int target_marker_set(struct step_context *ctx, const char *name) {
        _cleanup_free_ char *p = marker_path(name), *id = NULL;
        int r;

        if (!p)
                return -ENOMEM;
        if (ctx->dry_run)
                return 0;
        r = mkdir_p(TARGET_STATE_DIR, 0700);
        if (r < 0)
                return step_error(ctx, r, "Cannot create %s: %m", TARGET_STATE_DIR);
        (void) target_boot_id(&id); /* only informative */
        return step_write_file(ctx, p, strempty(id), strlen(strempty(id)), 0600);
}

bool target_marker_has(const char *name) {
        _cleanup_free_ char *p = marker_path(name);
        return p && access(p, F_OK) == 0;
}

int target_marker_clear(struct step_context *ctx, const char *name) {
        _cleanup_free_ char *p = marker_path(name);

        if (!p)
                return -ENOMEM;
        if (ctx->dry_run) {
                printf("would remove: %s\n", p);
                return 0;
        }
        if (unlink(p) < 0 && errno != ENOENT)
                return step_error(ctx, errno, "Cannot remove %s: %m", p);
        return 0;
}

int target_mounted_dev(const char *path, dev_t *ret) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        _cleanup_free_ char *line = NULL, *real = realpath(path, NULL);
        size_t n = 0;
        bool found = false;
        dev_t dev = 0;

        if (!f)
                return -errno;
        if (!real)
                return -errno;
        while (getline(&line, &n, f) > 0) {
                unsigned ma, mi;
                char mp[4096];
                /* id parent major:minor root mountpoint ... (octal escapes
                 * for spaces: our paths have none) */
                if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, mp) != 3)
                        continue;
                if (streq(mp, real)) {
                        found = true; /* the last one is the visible one */
                        dev = makedev(ma, mi);
                }
        }
        if (!found)
                return -ENOENT;
        *ret = dev;
        return 0;
}

static const struct {
        const char *what;
        unsigned long flags;
} chroot_binds[] = {
        { "dev", MS_BIND | MS_REC },
        { "proc", MS_BIND | MS_REC },
        { "sys", MS_BIND | MS_REC },
        /* not recursive: /run holds the target itself */
        { "run", MS_BIND },
};

int target_chroot_setup(struct step_context *ctx, const char *root) {
        for (size_t i = 0; i < ELEMENTSOF(chroot_binds); i++) {
                _cleanup_free_ char *src = NULL, *dst = NULL;
                dev_t d;
                if (asprintf(&src, "/%s", chroot_binds[i].what) < 0 ||
                    asprintf(&dst, "%s/%s", root, chroot_binds[i].what) < 0)
                        return -ENOMEM;
                if (ctx->dry_run) {
                        printf("would bind-mount %s on %s\n", src, dst);
                        continue;
                }
                if (target_mounted_dev(dst, &d) >= 0)
                        continue; /* left by an interrupted run */
                (void) mkdir_p(dst, 0755); /* mount() says why if it is missing */
                if (mount(src, dst, NULL, chroot_binds[i].flags, NULL) < 0) {
                        int r = -errno;
                        target_chroot_teardown(root);
                        return step_error(ctx, r, "Cannot bind-mount %s on %s: %m", src, dst);
                }
                /* Keep mounts made in the chroot from propagating back. */
                (void) mount(NULL, dst, NULL, MS_REC | MS_PRIVATE, NULL);
        }
        return 0;
}

void target_chroot_teardown(const char *root) {
        if (run_get_dry_run())
                return;
        for (size_t n = ELEMENTSOF(chroot_binds); n > 0; n--) {
                _cleanup_free_ char *dst = NULL;
                dev_t d;
                if (asprintf(&dst, "%s/%s", root, chroot_binds[n - 1].what) < 0)
                        return;
                /* Lazy: the recursive binds carry submounts (devpts,
                 * cgroups) that go with them. */
                while (target_mounted_dev(dst, &d) >= 0)
                        if (umount2(dst, MNT_DETACH) < 0)
                                break;
        }
}

int target_run(const char *root, const char *const *argv, char **ret_stdout) {
        const char *v[32];
        size_t n = 0;

        if (!root || streq(root, "/"))
                return run_argv_checked(argv, ret_stdout ? RUN_CAPTURE_STDOUT : 0, ret_stdout);
        v[n++] = "chroot";
        v[n++] = root;
        for (size_t i = 0; argv[i] && n < ELEMENTSOF(v) - 1; i++)
                v[n++] = argv[i];
        v[n] = NULL;
        return run_argv_checked(v, ret_stdout ? RUN_CAPTURE_STDOUT : 0, ret_stdout);
}

/* The device of the old filesystem mounted at mountpoint, from the plan's
 * facts, or NULL. */
static const char *old_mount_device(const struct plan *p, const char *mountpoint) {
        json_object *mounts;
        if (!p->facts || !json_object_object_get_ex(p->facts, "mounts", &mounts) ||
            !json_object_is_type(mounts, json_type_array))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(mounts); i++) {
                json_object *m = json_object_array_get_idx(mounts, i);
                if (streq_ptr(json_str(m, "target"), mountpoint))
                        return json_str(m, "device");
        }
        return NULL;
}

/* The UUID the old filesystem on device had, from the facts. */
static const char *old_device_uuid(const struct plan *p, const char *device) {
        json_object *devs;
        if (!p->facts || !json_object_object_get_ex(p->facts, "devices", &devs) ||
            !json_object_is_type(devs, json_type_array))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(devs); i++) {
                json_object *d = json_object_array_get_idx(devs, i);
                if (streq_ptr(json_str(d, "id"), device))
                        return json_str(d, "fs_uuid");
        }
        return NULL;
}

/* Mounts the old filesystem that was mounted at mountpoint (per the plan's
 * facts) on at, unless something is mounted there already.  -ENOENT when
 * the facts do not name it or its UUID is gone (overwritten: past the point
 * of no return); *ret_found false when the facts do not name it. */
static int old_fs_mount(struct step_context *ctx, const char *mountpoint, const char *at, bool *ret_found) {
        _cleanup_free_ char *type = NULL, *uuid = NULL, *label = NULL, *real = NULL;
        const char *dev = old_mount_device(ctx->plan, mountpoint), *want;
        dev_t d;

        *ret_found = dev != NULL;
        if (!dev)
                return -ENOENT;
        want = old_device_uuid(ctx->plan, dev);
        real = realpath(dev, NULL);
        if (!real || signatures_probe_fs(real, &type, &uuid, &label) < 0 || !uuid || !want ||
            strcasecmp(uuid, want) != 0)
                return -ENOENT;
        if (ctx->dry_run)
                printf("would mount %s on %s\n", real, at);
        else if (target_mounted_dev(at, &d) < 0) {
                (void) mkdir_p(at, 0700);
                if (mount(real, at, type, 0, NULL) < 0)
                        return step_error(ctx, errno, "Cannot mount the old filesystem %s (%s) on %s: %m", real, mountpoint,
                                          at);
        }
        return 0;
}

int target_old_grub_dir(struct step_context *ctx, char **ret_dir, bool *ret_mounted) {
        const char *sub = "grub";
        bool found;
        char *dir;
        int r;

        r = target_running_from_new_root(ctx->plan);
        if (r < 0 && ctx->dry_run) {
                /* A dry run shows the steps as they run before the switch. */
                step_log(ctx, LOG_LEVEL_NOTICE, r, "Cannot tell which root the machine runs from (%m); the dry run assumes the old one.");
                r = 0;
        }
        if (r < 0)
                return step_error(ctx, r, "Cannot tell which root the machine runs from: %m");
        if (r == 0) {
                dir = strdup("/boot/grub");
                if (!dir)
                        return -ENOMEM;
                *ret_dir = dir;
                *ret_mounted = false;
                return 0;
        }
        r = old_fs_mount(ctx, "/boot", TARGET_OLD_DIR, &found);
        if (!found) {
                sub = "boot/grub";
                r = old_fs_mount(ctx, "/", TARGET_OLD_DIR, &found);
        }
        if (!found)
                return step_error(ctx, ENOENT, "The plan's facts do not say where the old root was.");
        if (r < 0)
                return r;
        if (asprintf(&dir, TARGET_OLD_DIR "/%s", sub) < 0)
                return -ENOMEM;
        *ret_dir = dir;
        *ret_mounted = true;
        return 0;
}

int target_old_root_mount(struct step_context *ctx) {
        bool found;
        int r = old_fs_mount(ctx, "/", TARGET_OLD_ROOT_DIR, &found);
        if (!found)
                return step_error(ctx, ENOENT, "The plan's facts do not say where the old root was.");
        return r;
}

static void umount_all(const char *path) {
        dev_t d;
        if (run_get_dry_run())
                return;
        while (target_mounted_dev(path, &d) >= 0)
                if (umount2(path, 0) < 0 && umount2(path, MNT_DETACH) < 0)
                        break;
}

void target_old_umount(void) {
        umount_all(TARGET_OLD_DIR);
}

void target_old_root_umount(void) {
        umount_all(TARGET_OLD_ROOT_DIR);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path) < 0 ? -1 : 0;
}

int target_rm_rf(const char *path) {
        if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* Does conf (mdadm.conf text) have an ARRAY line with uuid? */
static bool conf_has_uuid(const char *conf, const char *uuid) {
        for (const char *p = conf; p && *p;) {
                const char *eol = strchr(p, '\n');
                size_t n = eol ? (size_t) (eol - p) : strlen(p);
                _cleanup_free_ char *line = strndup(p, n);
                p = eol ? eol + 1 : NULL;
                if (!line || !startswith(line, "ARRAY"))
                        continue;
                const char *u = strstr(line, "UUID=");
                if (!u)
                        u = strstr(line, "uuid=");
                if (!u)
                        continue;
                char buf[64] = {};
                sscanf(u + 5, "%63[0-9a-fA-F:.-]", buf);
                if (md_uuid_equal(buf, uuid))
                        return true;
        }
        return false;
}

static char *first_existing(const char *base, const char *const *names) {
        for (size_t i = 0; names[i]; i++) {
                char *p;
                if (asprintf(&p, "%s/%s", base, names[i]) < 0)
                        return NULL;
                if (access(p, F_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

/* Checks one image; >0 good, 0 with *ret_problem, <0 error. */
static int check_image(const char *root, const char *image, const char *generator, json_object *arrays,
                       char **ret_problem) {
        _cleanup_free_ char *conf = NULL, *tmp = NULL, *mdadm = NULL, *confpath = NULL;
        int r;

        if (streq_ptr(generator, "dracut")) {
                _cleanup_free_ char *list = NULL;
                const char *ls[] = { "lsinitrd", image, NULL };
                const char *cat[] = { "lsinitrd", "-f", "etc/mdadm.conf", image, NULL };
                r = run_argv_checked(ls, RUN_CAPTURE_STDOUT, &list);
                if (r < 0)
                        return r;
                if (!strstr(list, "sbin/mdadm"))
                        return asprintf(ret_problem, "%s has no mdadm", image) < 0 ? -ENOMEM : 0;
                r = run_argv(cat, RUN_CAPTURE_STDOUT, &conf, NULL);
                if (r < 0)
                        return r;
        } else {
                /* Unpacked on disk, in the root the image belongs to: /run
                 * is a small tmpfs, too small for an unpacked initramfs. */
                if (asprintf(&tmp, "%s/var/tmp/rootraid-initrd.XXXXXX", root) < 0)
                        return -ENOMEM;
                if (!mkdtemp(tmp))
                        return -errno;
                const char *un[] = { "unmkinitramfs", image, tmp, NULL };
                r = run_argv_checked(un, 0, NULL);
                if (r >= 0) {
                        static const char *const bins[] = { "main/usr/sbin/mdadm", "main/sbin/mdadm", "usr/sbin/mdadm",
                                                            "sbin/mdadm", NULL };
                        static const char *const confs[] = { "main/etc/mdadm/mdadm.conf", "etc/mdadm/mdadm.conf", NULL };
                        mdadm = first_existing(tmp, bins);
                        confpath = first_existing(tmp, confs);
                        if (confpath)
                                r = read_full_file(confpath, 1 << 20, &conf, NULL);
                }
                (void) target_rm_rf(tmp); /* a leftover in /var/tmp is only wasted space */
                if (r < 0)
                        return r;
                if (!mdadm)
                        return asprintf(ret_problem, "%s has no mdadm binary", image) < 0 ? -ENOMEM : 0;
                if (!confpath)
                        return asprintf(ret_problem, "%s has no etc/mdadm/mdadm.conf", image) < 0 ? -ENOMEM : 0;
        }
        for (size_t i = 0; arrays && i < json_object_array_length(arrays); i++) {
                const char *u = json_object_get_string(json_object_array_get_idx(arrays, i));
                if (!conf_has_uuid(conf, u))
                        return asprintf(ret_problem, "the mdadm.conf inside %s has no ARRAY line for UUID %s", image, u) < 0
                                       ? -ENOMEM
                                       : 0;
        }
        return 1;
}

int target_initramfs_check(const char *root, const char *generator, const char *kernel_release, json_object *arrays,
                           char **ret_problem) {
        _cleanup_free_ char *moddir = NULL;
        _cleanup_(steps_closedirp) DIR *d = NULL;
        struct dirent *de;
        unsigned checked = 0;
        int r;

        if (asprintf(&moddir, "%s/lib/modules", streq(root, "/") ? "" : root) < 0)
                return -ENOMEM;
        d = opendir(moddir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *img = NULL, *alt = NULL;
                if (de->d_name[0] == '.')
                        continue;
                if (kernel_release && !streq(kernel_release, de->d_name))
                        continue;
                if (asprintf(&img, "%s/boot/initrd.img-%s", streq(root, "/") ? "" : root, de->d_name) < 0 ||
                    asprintf(&alt, "%s/boot/initramfs-%s.img", streq(root, "/") ? "" : root, de->d_name) < 0)
                        return -ENOMEM;
                const char *image = access(img, F_OK) == 0 ? img : access(alt, F_OK) == 0 ? alt : NULL;
                if (!image) {
                        /* a kernel whose package left only modules behind */
                        char vml[4096];
                        snprintf(vml, sizeof vml, "%s/boot/vmlinuz-%s", streq(root, "/") ? "" : root, de->d_name);
                        if (access(vml, F_OK) < 0)
                                continue;
                        return asprintf(ret_problem, "kernel %s has no initramfs in %s/boot", de->d_name, root) < 0 ? -ENOMEM : 0;
                }
                r = check_image(streq(root, "/") ? "" : root, image, generator, arrays, ret_problem);
                if (r <= 0)
                        return r;
                checked++;
        }
        if (checked == 0)
                return asprintf(ret_problem, "no initramfs found in %s/boot", root) < 0 ? -ENOMEM : 0;
        return 1;
}

int target_disk_has_grub(const char *node) {
        _cleanup_close_ int fd = open(node, O_RDONLY | O_CLOEXEC);
        unsigned char b[512];

        if (fd < 0)
                return -errno;
        if (pread(fd, b, sizeof b, 0) != (ssize_t) sizeof b)
                return -EIO;
        if (b[510] != 0x55 || b[511] != 0xaa)
                return 0;
        /* boot.img carries the string "GRUB " for its error messages. */
        return memmem(b, 440, "GRUB", 4) != NULL;
}
