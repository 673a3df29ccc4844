/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the step kinds around the new root share: where the machine runs
 * from (old root or new), markers of finished work kept in /run, the
 * chroot of the new root, the old root's GRUB directory, the check of an
 * initramfs, and the GRUB boot sector.
 *
 * The switch: every step before the plan's reboot step works on the old
 * root with the new one mounted under the target directory.  Once the
 * machine runs from the new root, that work cannot be looked at again (the
 * old root is not mounted, the tracker and /run are gone) and is behind us:
 * target_presumed_done() says so, and the checks of those steps hold. */

#include <stdbool.h>
#include <sys/types.h>

#include "steps/step.h"

#define TARGET_STATE_DIR "/run/rootraid/state"
#define TARGET_OLD_DIR "/run/rootraid/old"
/* The old root filesystem, while a rollback that runs from the new root
 * hands over to it (the reboot step's undo). */
#define TARGET_OLD_ROOT_DIR "/run/rootraid/old-root"

/* The new root's filesystem UUID, from the plan's target layout, or NULL. */
const char *target_root_fs_uuid(const struct plan *p);

/* The UUID of the filesystem mounted at path (NULL *ret when unknown). */
int target_fs_uuid_of(const char *path, char **ret_uuid);

/* >0 when / is the plan's new root filesystem, 0 when not. */
int target_running_from_new_root(const struct plan *p);

/* True when step comes before the plan's reboot step and the machine now
 * runs from the new root: its work is done and cannot be checked again. */
bool target_presumed_done(struct step_context *ctx, const struct plan_step *step);

/* For a dry run, where nothing was copied: the file that the plan's copy
 * steps will bring to path (a path under a copy step's target), i.e. the
 * same file under that step's source; when the plan keeps the root (the
 * lvm strategy), a path under mount-target's root that no copy step covers is the
 * running system's file.  -ENOENT when nothing covers path. */
int target_copy_source(const struct plan *p, const char *path, char **ret);

/* The current boot id (/proc/sys/kernel/random/boot_id). */
int target_boot_id(char **ret);

/* Runs `systemctl VERB` (reboot, soft-reboot) 5 s from now, as the
 * transient timer rootraid-reboot, so that the caller exits cleanly and an
 * SSH session sees the end of its output.  The result of systemd-run. */
int target_schedule_systemctl(const char *verb);

/* Markers under TARGET_STATE_DIR (a tmpfs: gone after a reboot, which is
 * what the steps using them want). */
int target_marker_set(struct step_context *ctx, const char *name);
bool target_marker_has(const char *name);
int target_marker_clear(struct step_context *ctx, const char *name);

/* major:minor of the filesystem mounted exactly at path, per mountinfo;
 * -ENOENT when nothing is mounted there. */
int target_mounted_dev(const char *path, dev_t *ret);

/* Binds /dev, /proc, /sys and /run into root for a chroot; teardown undoes
 * it (lazily: the binds are recursive) and accepts partial setups. */
int target_chroot_setup(struct step_context *ctx, const char *root);
void target_chroot_teardown(const char *root);

/* Runs argv in root: directly when root is "/", else through chroot(8).
 * Returns as run_argv_checked(). */
int target_run(const char *root, const char *const *argv, char **ret_stdout);

/* The old root's GRUB directory: /boot/grub while the machine runs from the
 * old root; once it runs from the new one, the old /boot (or /) filesystem
 * is mounted at TARGET_OLD_DIR and *ret_mounted set.  -ENOENT when the old
 * filesystem is gone (its UUID is no longer there). */
int target_old_grub_dir(struct step_context *ctx, char **ret_dir, bool *ret_mounted);
void target_old_umount(void);

/* Mounts the old root filesystem at TARGET_OLD_ROOT_DIR (unless mounted
 * there already).  -ENOENT when it is gone. */
int target_old_root_mount(struct step_context *ctx);
void target_old_root_umount(void);

/* Checks every initramfs of root (or the one of kernel_release) for mdadm,
 * its mdadm.conf and an ARRAY line for each UUID of arrays (a JSON array of
 * strings).  >0 all good, 0 not (then *ret_problem says what is missing,
 * caller frees), <0 error. */
int target_initramfs_check(const char *root, const char *generator, const char *kernel_release, json_object *arrays,
                           char **ret_problem);

/* >0 when the first sector of the disk node holds a GRUB boot sector. */
int target_disk_has_grub(const char *node);

/* rm -rf, staying on one filesystem. */
int target_rm_rf(const char *path);

/* The verify step's inspection (also `rootraid verify`): every problem
 * found becomes one sentence in *ret_problems (NULL when none).  Returns 0
 * when the inspection ran, whatever it found. */
int verify_run(struct step_context *ctx, const struct plan_step *step, char ***ret_problems);
