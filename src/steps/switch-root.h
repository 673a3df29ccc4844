/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Drops what switch-root left in /run for the soft-reboot (the
 * blk-availability drop-in), once the system runs from the arrays or the
 * switch is undone.  Best effort: /run is emptied by the next boot anyway. */
void switch_root_release(void);
