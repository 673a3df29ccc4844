/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Where a boot entry rootraid adds goes in the firmware's BootOrder, from
 * the listing `efibootmgr` prints (BootCurrent, BootOrder, one BootXXXX
 * line per entry).  The entry labelled LABEL goes right after the entry
 * the machine booted from (BootCurrent), or last when that one is not in
 * BootOrder: the firmware keeps starting the disk it started, whose GRUB
 * holds the one-time boot, and falls through to the new disks only when
 * that disk no longer boots.  ("efibootmgr -c" puts a new entry first,
 * which would skip the one-time boot and its way back to the old root.)
 * Returns 1 with *ret_order (caller frees) when BootOrder must change, 0
 * when the entry is already in place, -ENOENT when no entry has LABEL, and
 * -EBADMSG when the listing has no BootXXXX lines at all.  *ret_num gets
 * the entry's number (4 hex digits) when non-NULL and the entry exists. */
int efi_boot_order_place(const char *listing, const char *label, char **ret_num, char **ret_order);
