/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The step kinds implemented so far, one file each; steps.c lists them in
 * the table. */

#include "steps/step.h"

extern const struct step_ops step_wipe_signatures;
extern const struct step_ops step_partition_disk;
extern const struct step_ops step_mkfs;
extern const struct step_ops step_mkswap;
extern const struct step_ops step_write_fstab;
extern const struct step_ops step_write_crypttab;
extern const struct step_ops step_write_mdadm_conf;
extern const struct step_ops step_md_create;
extern const struct step_ops step_md_add;
extern const struct step_ops step_mount_target;
extern const struct step_ops step_wait_resync;
extern const struct step_ops step_copy_live;
extern const struct step_ops step_copy_final;
extern const struct step_ops step_run_hooks;
extern const struct step_ops step_update_initramfs;
extern const struct step_ops step_install_bootloader;
extern const struct step_ops step_boot_once;
extern const struct step_ops step_reboot;
extern const struct step_ops step_confirm_boot;
extern const struct step_ops step_verify;
extern const struct step_ops step_pv_create;
extern const struct step_ops step_vg_extend;
extern const struct step_ops step_pv_move;
extern const struct step_ops step_vg_reduce;
extern const struct step_ops step_luks_clone;
extern const struct step_ops step_integrity_format;
extern const struct step_ops step_integrity_boot;
extern const struct step_ops step_fallback_initramfs;
extern const struct step_ops step_switch_root;
