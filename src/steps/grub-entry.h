/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The one-time boot entry of boot-once and the default set by
 * confirm-boot live in the OLD root's GRUB directory, in custom.cfg, which
 * Debian's grub.cfg sources at its end (41_custom).  Each is a section
 * between "### BEGIN rootraid-NAME ###" and "### END rootraid-NAME ###"
 * lines, so the rest of the file is kept.  The first change saves the
 * original as custom.cfg.rootraid-orig (or notes that there was none), and
 * removing the last section puts the original back byte for byte. */

#include <stdbool.h>

#include "steps/step.h"

/* Replaces (content non-NULL) or removes (NULL) section name of
 * GRUBDIR/custom.cfg. */
int grub_custom_set(struct step_context *ctx, const char *grubdir, const char *name, const char *content);

/* >0 when GRUBDIR/custom.cfg has section name with exactly content. */
int grub_custom_has(const char *grubdir, const char *name, const char *content);

/* >0 and the body of section name of GRUBDIR/custom.cfg in *ret_content
 * (caller frees), 0 when there is none. */
int grub_custom_get(const char *grubdir, const char *name, char **ret_content);

/* Renders the boot-once step's menu entry from its arguments and the
 * kernels in its root.  Caller frees *ret. */
int grub_entry_render(struct step_context *ctx, const struct plan_step *boot_once, char **ret);

/* The plan's boot-once step (for confirm-boot), or NULL. */
const struct plan_step *grub_boot_once_step(const struct plan *p);
