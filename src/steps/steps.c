/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one table of step kinds.  A kind appears here once its file under
 * src/steps/ implements it; the executor refuses a plan that uses a kind
 * missing from the table before running anything. */
#include "steps/kinds.h"

const struct step_ops *const step_table[_STEP_KIND_MAX] = {
        /* KINDS: one line per implemented kind. */
        [STEP_WIPE_SIGNATURES] = &step_wipe_signatures,
        [STEP_PARTITION_DISK] = &step_partition_disk,
        [STEP_MKFS] = &step_mkfs,
        [STEP_MKSWAP] = &step_mkswap,
        [STEP_WRITE_FSTAB] = &step_write_fstab,
        [STEP_WRITE_CRYPTTAB] = &step_write_crypttab,
        [STEP_WRITE_MDADM_CONF] = &step_write_mdadm_conf,
        [STEP_MD_CREATE] = &step_md_create,
        [STEP_MD_ADD] = &step_md_add,
        [STEP_MOUNT_TARGET] = &step_mount_target,
        [STEP_WAIT_RESYNC] = &step_wait_resync,
        [STEP_COPY_LIVE] = &step_copy_live,
        [STEP_COPY_FINAL] = &step_copy_final,
        [STEP_RUN_HOOKS] = &step_run_hooks,
        [STEP_UPDATE_INITRAMFS] = &step_update_initramfs,
        [STEP_INSTALL_BOOTLOADER] = &step_install_bootloader,
        [STEP_BOOT_ONCE] = &step_boot_once,
        [STEP_REBOOT] = &step_reboot,
        [STEP_CONFIRM_BOOT] = &step_confirm_boot,
        [STEP_VERIFY] = &step_verify,
        [STEP_PV_CREATE] = &step_pv_create,
        [STEP_VG_EXTEND] = &step_vg_extend,
        [STEP_PV_MOVE] = &step_pv_move,
        [STEP_VG_REDUCE] = &step_vg_reduce,
        [STEP_LUKS_CLONE] = &step_luks_clone,
        [STEP_INTEGRITY_FORMAT] = &step_integrity_format,
        [STEP_INTEGRITY_BOOT] = &step_integrity_boot,
        [STEP_FALLBACK_INITRAMFS] = &step_fallback_initramfs,
        [STEP_SWITCH_ROOT] = &step_switch_root,
};

const struct step_ops *step_ops_find(enum step_kind kind) {
        if ((int) kind < 0 || kind >= _STEP_KIND_MAX)
                return NULL;
        return step_table[kind];
}
