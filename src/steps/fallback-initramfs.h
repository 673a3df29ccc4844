/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* fallback-initramfs keeps the running system's images as
 * /boot/initrd.img-KVER.rootraid-orig; copy-boot then brings those copies
 * into the new /boot too, where nothing needs them.  Removes every such
 * file from ROOT/boot (update-initramfs does, for the new root).  0 or a
 * negative errno (the last failure). */
int fallback_initramfs_forget(const char *root);
