/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* libblkid helpers for the step kinds that remove or look for signatures
 * (wipe-signatures, the undo of partition-disk, mkfs and mkswap). */

#include <stdbool.h>
#include <stdint.h>

/* Lists (wipe false) or removes (wipe true) every signature libblkid knows
 * (filesystems, RAID and LVM superblocks, partition tables, with their
 * backup copies), as `wipefs -a` does with blkid_do_wipe(): first inside
 * each partition of the table found on dev, then on dev itself.  With
 * dry_run, nothing is written.  *ret_found (may be NULL) receives one
 * "TYPE at offset N" per signature (the offset from the start of dev).
 * Returns the number of signatures found, or a negative errno; a device in
 * use (mounted, held by md/dm) gives -EBUSY, as wiping needs O_EXCL. */
int signatures_scan(const char *dev, bool wipe, bool dry_run, char ***ret_found);

/* What libblkid reads on dev (no partition table lookups): TYPE, UUID and
 * LABEL of the filesystem or swap area, each NULL when absent.  Returns 0,
 * also when nothing is found (then *ret_type is NULL). */
int signatures_probe_fs(const char *dev, char **ret_type, char **ret_uuid, char **ret_label);

/* Makes the kernel's partitions of dev (and so /dev/DEVpN) follow the table
 * on disk: BLKRRPART, then, as partx does, BLKPG to remove partitions that
 * differ and add missing ones (BLKRRPART alone is refused while a partition
 * is open, and is a silent no-op in some containers).  Returns 0 or a
 * negative errno (-EBUSY when a partition to remove is in use). */
int signatures_reread_partitions(const char *dev);

/* Waits for udev to finish the events of a partition change, so that the
 * /dev/disk/by-* links of new partitions exist (`udevadm settle`; without
 * udev, as in a container, this returns at once).  Best effort. */
void signatures_settle(void);

/* Waits until dev exists (udev creates links and nodes a little after the
 * kernel), at most timeout_ms.  Returns 0, or -ENOENT when it never came. */
int signatures_wait_for_device(const char *dev, unsigned timeout_ms);

/* >0 when the kernel's partitions of dev are those of the table on disk,
 * 0 when not, or a negative errno. */
int signatures_kernel_partitions_match(const char *dev);

struct step_context;

/* For mkfs and mkswap: >0 when dev carries a filesystem of type with uuid
 * (and label, when not NULL), 0 when it carries something else or nothing
 * (logged at debug level), <0 on error (recorded with step_error()). */
int signatures_check_fs(struct step_context *ctx, const char *dev, const char *type, const char *uuid, const char *label);

/* Their undo: removes the signatures from dev when it carries the
 * filesystem with uuid the step made; nothing on dev is success; any other
 * filesystem is refused (-EEXIST), since rootraid did not make it. */
int signatures_undo_fs(struct step_context *ctx, const char *dev, const char *uuid);
