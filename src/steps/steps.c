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
};

const struct step_ops *step_ops_find(enum step_kind kind) {
        if ((int) kind < 0 || kind >= _STEP_KIND_MAX)
                return NULL;
        return step_table[kind];
}
