/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* LUKS header work for the luks-clone step, kept apart from the step so the
 * loop test can run it on loop devices (the host has no device-mapper):
 * reading a container's UUID, cloning a header with libcryptsetup, erasing
 * it again, and finding a key that opens the clone.  Nothing here prints;
 * failures come back as a negative errno and, where given, a sentence in
 * *ret_error (caller frees). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The UUID of the LUKS1 or LUKS2 header on dev, and its data offset in
 * bytes (either may be NULL).  -ENOENT when dev carries no LUKS header
 * that loads (also when dev does not exist). */
int luks_read_header(const char *dev, char **ret_uuid, uint64_t *ret_data_offset);

/* Copies the LUKS header (and so every keyslot) of source onto dev with
 * libcryptsetup (crypt_header_backup into a private temporary file,
 * crypt_header_restore onto dev), then gives it the UUID uuid.  Refuses
 * (-ENOSPC) when dev cannot hold the header's data offset plus min_payload
 * bytes of encrypted data.  Overwrites whatever dev carried.  When dev
 * already carries a header with uuid, does nothing.  Returns 0 or a
 * negative errno. */
int luks_header_clone(const char *source, const char *dev, const char *uuid, uint64_t min_payload, char **ret_error);

/* Zeroes the LUKS header area (everything before the data offset, so the
 * keyslots are gone too) of dev when its header's UUID is one of uuids (a
 * NULL-terminated list); another UUID is refused (-EEXIST), no header is
 * success.  Opens dev with O_EXCL: a device in use gives -EBUSY. */
int luks_header_erase(const char *dev, const char *const *uuids, char **ret_error);

/* The volume key of the active dm-crypt mapping name, read from its
 * device-mapper table (the DM_TABLE_STATUS ioctl, as `dmsetup table
 * --showkeys`).  -ENOKEY when the table holds no key but a reference to a
 * kernel keyring key (LUKS2's default since cryptsetup 2.0): such a key
 * cannot be read back by anyone.  -ENXIO when no such mapping exists.  The
 * caller wipes and frees *ret_key. */
int luks_mapping_volume_key(const char *name, char **ret_key, size_t *ret_key_size, char **ret_error);

/* The key in the parameters of a dm-crypt table line ("<cipher> <key>
 * <iv_offset> <device> <offset> ..."), as bytes: -ENOKEY when the key is a
 * kernel keyring reference (":<size>:<type>:<description>"), -EBADMSG when
 * it is not hex.  The caller wipes and frees *ret_key. */
int luks_crypt_table_key(const char *params, char **ret_key, size_t *ret_key_size);

/* The key file of crypttab entry name in the crypttab file at path, with its
 * keyfile-offset= and keyfile-size= options: -ENOENT when the entry is
 * missing or names no key file ("none", "-", a keyscript). */
int luks_crypttab_keyfile(const char *path, const char *name, char **ret_keyfile, uint64_t *ret_offset,
                          uint64_t *ret_size);

/* The initramfs of the new root (initramfs-tools with cryptsetup-initramfs)
 * must unlock the cloned container.  Its hook finds the crypttab entry of
 * the root by the name of the dm-crypt mapping under the mounted root; in
 * the chroot that is the temporary name (open_as), which crypttab does not
 * know, so the entry and its key file would be left out of the image.
 * luks_initramfs_overlay() bind-mounts over ROOT/etc/crypttab a copy in
 * which the entries of the plan's crypts carry the cryptsetup-initramfs
 * option "initramfs" (include this entry whatever is mounted), for the
 * generator run only: the file on disk is not changed, and a later
 * regeneration on the migrated system finds the entry by its own name.
 * With clones, each such entry is followed by one that opens the clone as
 * well, under its open_as name, by the plan's UUID, with the same key file
 * and options: fallback-initramfs makes the running system's images open
 * both containers (the volume group spans them while pvmove runs).
 * Returns 1 when the overlay is in place, 0 when nothing needed it (no
 * crypts in the plan, no crypttab), or a negative errno with *ret_error.
 * luks_initramfs_overlay_end() removes it (also one left by a crash). */
struct plan;
int luks_initramfs_overlay(const struct plan *p, const char *root, bool clones, char **ret_error);
void luks_initramfs_overlay_end(const char *root);

/* Checks every initramfs-tools image of root (or the one of
 * kernel_release) for the plan's crypts: cryptroot/crypttab has each
 * entry with the clone's UUID, and the key file the entry names is inside
 * the image (an unattended boot needs it).  >0 all good (also when the plan
 * has no crypts), 0 with *ret_problem, <0 error.  With clones, the entries
 * looked for are the ones of the overlay's clone lines (open_as names). */
int luks_initramfs_check(const struct plan *p, const char *root, const char *kernel_release, bool clones,
                         char **ret_problem);

/* The node of the mapping of the plan's LUKS clone that device
 * ("/dev/mapper/<open_as>") names, when that node is missing: after the
 * switch the clone is opened under its crypttab name, so the mapping whose
 * dm uuid (in sysfs_block, normally "/sys/block") is CRYPT-LUKSn-<the
 * plan's UUID>-* is "/dev/mapper/<its name>".  A copy of device otherwise
 * (not a plan crypt, still present, or no such mapping); NULL on OOM. */
char *luks_plan_node(const struct plan *p, const char *sysfs_block, const char *device);
