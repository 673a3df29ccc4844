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
