/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plan's JSON format, written once as tables.  The loader validates
 * every document against these tables (field names, types, required
 * fields, allowed values, patterns), and format_schema() turns the same
 * tables into plans/rootraid-plan.schema.json, so the schema that users and
 * the exec helper read is the format that the loader enforces.
 *
 * Patterns are restricted to the common subset of POSIX ERE (regcomp) and
 * ECMA-262 (JSON Schema): anchors, bracket classes, {n,m}, groups and '|'. */
#include <inttypes.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>

#include "plan/plan.h"
#include "plan/plan-format.h"
#include "util/macro.h"

/* ---- patterns ---- */

#define P_UUID      "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
#define P_GUID      "^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$"
#define P_MD_UUID   "^[0-9a-f]{8}:[0-9a-f]{8}:[0-9a-f]{8}:[0-9a-f]{8}$"
#define P_DISK_ID   "^(0x[0-9a-f]{8}|[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})$"
#define P_PART_TYPE "^(0x[0-9a-f]{2}|[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})$"
#define P_NEW_FS_UUID "^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9A-F]{4}-[0-9A-F]{4})$"
#define P_LVM_UUID  "^[A-Za-z0-9]{6}(-[A-Za-z0-9]{4}){5}-[A-Za-z0-9]{6}$"
#define P_NAME      "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$"
#define P_STEP_ID   "^[a-z0-9][a-z0-9.-]{0,63}$"
#define P_FINGERPRINT "^sha256:[0-9a-f]{64}$"
#define P_TIME      "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
#define P_ABS_PATH  "^/"
#define P_DEV       "^/dev/[^ ]+$"
#define P_MD_DEV    "^/dev/md/[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$"
/* A new PV: the array, or the clone of a LUKS container on it (LVM on LUKS). */
#define P_NEW_PV    "^/dev/(md/[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}|mapper/rootraid-[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})$"
#define P_FS_SOURCE "^(UUID|PARTUUID|LABEL)=[^ ]+$"
/* Kernel names that change across boots are never written into a plan. */
#define P_UNSTABLE  "^/dev/(sd[a-z]+|hd[a-z]+|vd[a-z]+|xvd[a-z]+|nvme[0-9]+n[0-9]+(p[0-9]+)?|mmcblk[0-9]+(p[0-9]+)?)[0-9]*$"

/* ---- value lists ---- */

static const char *const v_strategy[] = { "copy", "lvm", "luks", NULL };
static const char *const v_firmware[] = { "bios", "uefi", NULL };
static const char *const v_boot_loader[] = { "none", "grub-pc", "grub-efi", "other", NULL };
static const char *const v_loader[] = { "grub-pc", "grub-efi", NULL };
static const char *const v_initramfs[] = { "none", "initramfs-tools", "dracut", NULL };
static const char *const v_generator[] = { "initramfs-tools", "dracut", NULL };
static const char *const v_blockdev_type[] = { "disk", "partition", "md", "crypt", "lvm", "dm-other", "loop", "other", NULL };
static const char *const v_table[] = { "none", "dos", "gpt", NULL };
static const char *const v_label[] = { "dos", "gpt", NULL };
static const char *const v_disk_role[] = { "old", "new", NULL };
static const char *const v_part_use[] = { "bios-grub", "esp", "raid", NULL };
static const char *const v_metadata[] = { "1.2", NULL };
static const char *const v_bitmap[] = { "internal", "none", NULL };
static const char *const v_layout[] = { "n2", "left-symmetric", NULL };
static const char *const v_content[] = { "filesystem", "swap", "luks", "lvm-pv", NULL };
static const char *const v_fstype[] = { "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "swap", NULL };
static const char *const v_mkfs_type[] = { "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", NULL };
static const char *const v_phase[] = { "before-copy", "before-final-sync", "after-switch", "after-readd", NULL };
static const char *const v_check[] = {
        "partition-table", "no-signatures", "array", "array-member", "array-in-sync",
        "filesystem", "swap", "luks", "mounted", "tree-copied", "hooks-ran",
        "file-entries", "initramfs-has-arrays", "bootloader", "boot-entry",
        "booted-from", "pv", "vg-has-pv", "vg-lacks-pv", "rebooted", "verified",
        "integrity", "integrity-boot", "fallback-initramfs", NULL,
};
static const char *const v_integrity_alg[] = { "crc32c", NULL };
static const char *const v_integrity_boot[] = { "files", "initramfs", "integritytab", NULL };
static const int64_t i_integrity_sector[] = { 512, 4096, -1 };
static const int64_t i_integrity_tag[] = { 4, -1 };
static const int64_t i_levels[] = { 1, 5, 6, 10, -1 };
static const int64_t i_raid_levels[] = { 1, 5, 6, 10, -1 };

/* ---- field helpers ---- */

#define STR(n, d, ...)   { .name = n, .type = FIELD_STRING, .flags = F_REQUIRED, .doc = d, __VA_ARGS__ }
#define STRN(n, d, ...)  { .name = n, .type = FIELD_STRING, .flags = F_REQUIRED | F_NULLABLE, .doc = d, __VA_ARGS__ }
#define UINT(n, d, ...)  { .name = n, .type = FIELD_UINT, .flags = F_REQUIRED, .doc = d, __VA_ARGS__ }
#define BOOL(n, d)       { .name = n, .type = FIELD_BOOL, .flags = F_REQUIRED, .doc = d }
#define OBJ(n, t, d)     { .name = n, .type = FIELD_OBJECT, .flags = F_REQUIRED, .doc = d, .sub = &(t) }
#define OBJN(n, t, d)    { .name = n, .type = FIELD_OBJECT, .flags = F_REQUIRED | F_NULLABLE, .doc = d, .sub = &(t) }
#define ARR(n, t, d, ...) { .name = n, .type = FIELD_ARRAY, .flags = F_REQUIRED, .doc = d, .item = FIELD_OBJECT, .sub = &(t), __VA_ARGS__ }
#define ARRS(n, d, ...)  { .name = n, .type = FIELD_ARRAY, .flags = F_REQUIRED, .doc = d, .item = FIELD_STRING, __VA_ARGS__ }
#define END              { .name = NULL }

#define DISK_REF(n, d)   STR(n, d, .pattern = P_DEV, .not_pattern = P_UNSTABLE, .ref = REF_DISK)
#define DEV(n, d)        STR(n, d, .pattern = P_DEV, .not_pattern = P_UNSTABLE)

/* ---- facts: what the plan depends on (the fingerprint covers them) ---- */

static const struct format_table t_fact_device = {
        "fact-device", "A block device involved in the migration, as inspected.",
        (const struct format_field[]) {
                STR("id", "Stable identifier (/dev/disk/by-id/..., never /dev/sdX).", .pattern = P_DEV, .not_pattern = P_UNSTABLE),
                STR("type", "Kind of block device.", .values = v_blockdev_type),
                UINT("size", "Size in bytes."),
                UINT("logical_sector_size", "Logical sector size in bytes."),
                UINT("physical_sector_size", "Physical sector size in bytes."),
                STR("table", "Partition table type on this device.", .values = v_table),
                STRN("table_id", "Disk identifier of the partition table."),
                STRN("fstype", "Content type reported by libblkid."),
                STRN("fs_uuid", "UUID of that content."),
                ARRS("signatures", "Every signature found on the device, as TYPE@OFFSET."),
                ARRS("holders", "Stable identifiers of the devices stacked on it."),
                END,
        },
};

static const struct format_table t_fact_mount = {
        "fact-mount", "A mount the migration depends on.",
        (const struct format_field[]) {
                STR("target", "Mount point.", .pattern = P_ABS_PATH),
                STRN("device", "Stable identifier of the mounted device."),
                STR("fstype", "Filesystem type."),
                STR("fs_root", "Root of the mount within the filesystem (\"/\" unless a subvolume or bind)."),
                END,
        },
};

static const struct format_table t_fact_swap = {
        "fact-swap", "An active swap area.",
        (const struct format_field[]) {
                STR("device", "Stable identifier, or the path of a swap file."),
                UINT("size", "Size in bytes."),
                END,
        },
};

static const struct format_table t_fact_pv = {
        "fact-pv", "A physical volume of a volume group.",
        (const struct format_field[]) {
                STR("device", "Stable identifier of the PV's device."),
                STR("uuid", "PV UUID."),
                END,
        },
};

static const struct format_table t_fact_vg = {
        "fact-vg", "An LVM volume group the root depends on.",
        (const struct format_field[]) {
                STR("name", "VG name."),
                STR("uuid", "VG UUID."),
                ARR("pvs", t_fact_pv, "Its physical volumes."),
                END,
        },
};

static const struct format_table t_fact_luks = {
        "fact-luks", "A LUKS container the root depends on.",
        (const struct format_field[]) {
                STR("device", "Stable identifier of the container's device."),
                STR("uuid", "LUKS UUID."),
                UINT("version", "LUKS version (1 or 2).", .min = 1, .max = 2),
                END,
        },
};

static const struct format_table t_facts = {
        "facts", "The inspected facts the plan depends on; the fingerprint is the SHA-256 of their canonical JSON (keys sorted, no whitespace).",
        (const struct format_field[]) {
                STR("firmware", "Firmware the machine booted with.", .values = v_firmware),
                STR("boot_loader", "Boot loader in use.", .values = v_boot_loader),
                STR("initramfs", "Initramfs generator.", .values = v_initramfs),
                ARR("devices", t_fact_device, "Source disk with everything on it, and the target disks."),
                ARR("mounts", t_fact_mount, "Mounts of /, /boot, /boot/efi and every filesystem migrated."),
                ARR("swaps", t_fact_swap, "Active swap areas."),
                ARR("lvm", t_fact_vg, "Volume groups under the root."),
                ARR("luks", t_fact_luks, "LUKS containers under the root."),
                END,
        },
};

/* ---- source: today's layout as a tree ---- */

extern const struct format_table t_source_node;
const struct format_table t_source_node = {
        "source-node", "A device of today's layout and what is stacked on it.",
        (const struct format_field[]) {
                STR("device", "Stable identifier.", .pattern = P_DEV, .not_pattern = P_UNSTABLE),
                STR("type", "Kind of block device.", .values = v_blockdev_type),
                UINT("size", "Size in bytes."),
                STRN("fstype", "Content type."),
                STRN("uuid", "Content UUID."),
                STRN("label", "Content label."),
                STRN("mountpoint", "Where it is mounted (or \"[SWAP]\")."),
                UINT("used", "Bytes in use (0 when unknown)."),
                ARR("children", t_source_node, "Devices stacked on this one (partitions, mappings, LVs)."),
                END,
        },
};

static const struct format_table t_source = {
        "source", "Today's layout.",
        (const struct format_field[]) {
                DEV("disk", "Stable identifier of the disk the system runs from."),
                ARR("tree", t_source_node, "The disk and everything stacked on it, then each target disk as it is today."),
                END,
        },
};

/* ---- target: the layout after the migration ---- */

static const struct format_table t_partition = {
        "partition", "A partition to be created.",
        (const struct format_field[]) {
                UINT("partno", "Partition number (1-based).", .min = 1, .max = 128),
                UINT("start", "Offset in bytes (multiple of 1 MiB)."),
                UINT("size", "Size in bytes (multiple of 1 MiB)."),
                STR("type", "GPT type GUID (upper case) or MBR type code (0xfd RAID, 0xef ESP).", .pattern = P_PART_TYPE),
                STR("use", "What it holds.", .values = v_part_use),
                STRN("name", "GPT partition name (null on MBR)."),
                STRN("uuid", "GPT partition UUID (null on MBR, where PARTUUID is DISKID-NN).", .pattern = P_GUID),
                BOOL("bootable", "MBR active flag / GPT legacy BIOS bootable."),
                STRN("array", "For use \"raid\": the array this partition is a member of.", .ref = REF_ARRAY),
                STRN("filesystem", "For use \"esp\": the filesystem made on it.", .ref = REF_FILESYSTEM),
                END,
        },
};

static const struct format_table t_disk = {
        "disk", "A disk of the target layout; every disk, the old one included, ends with the same partition table.",
        (const struct format_field[]) {
                DEV("device", "Stable identifier."),
                STR("role", "\"old\": the disk the system runs from, which joins last; \"new\": a target disk.", .values = v_disk_role),
                UINT("size", "Size in bytes."),
                STR("label", "Partition table type.", .values = v_label),
                STR("disk_id", "Disk identifier to write: GPT GUID or MBR 0xNNNNNNNN.", .pattern = P_DISK_ID),
                ARR("partitions", t_partition, "Partitions in order."),
                END,
        },
};

static const struct format_table t_member = {
        "member", "A member slot of an array: a partition named by disk and number.",
        (const struct format_field[]) {
                DISK_REF("disk", "Stable identifier of the disk (a target.disks[].device)."),
                UINT("partno", "Partition number on that disk.", .min = 1, .max = 128),
                BOOL("missing", "True for the old disk's slot: given as \"missing\" to mdadm --create, added by md-add after the switch."),
                { .name = "integrity", .type = FIELD_STRING, .flags = 0, .pattern = P_NAME,
                  .doc = "With --integrity: the partition carries a dm-integrity layer opened as /dev/mapper/NAME, and that mapping, not the partition, is the md member." },
                END,
        },
};

static const struct format_table t_array = {
        "array", "An md array to be created.",
        (const struct format_field[]) {
                STR("name", "Array name (mdadm --name, /dev/md/NAME).", .pattern = P_NAME),
                STR("device", "/dev/md/NAME.", .pattern = P_MD_DEV),
                STR("uuid", "Array UUID, mdadm style, passed to mdadm --create --uuid.", .pattern = P_MD_UUID),
                UINT("level", "RAID level.", .int_values = i_raid_levels),
                STR("metadata", "Superblock format.", .values = v_metadata),
                STR("bitmap", "Write-intent bitmap.", .values = v_bitmap),
                UINT("chunk", "Chunk size in bytes (0 for RAID 1)."),
                STRN("layout", "mdadm --layout (n2 for RAID 10, left-symmetric for 5/6, null for 1).", .values = v_layout),
                UINT("data_offset", "Bytes before the data on each member (mdadm --data-offset), computed as mdadm 4 would."),
                UINT("member_size", "Size of each member partition in bytes."),
                UINT("size", "Usable size of the array in bytes."),
                STR("content", "What goes on the array.", .values = v_content),
                ARR("members", t_member, "Member slots in mdadm order.", .min_items = 2),
                END,
        },
};

static const struct format_table t_filesystem = {
        "filesystem", "A filesystem (or swap area) to be created.",
        (const struct format_field[]) {
                STR("name", "Identifier within the plan.", .pattern = P_NAME),
                STR("type", "Filesystem type.", .values = v_fstype),
                STR("uuid", "New UUID (mkfs -U / mkswap -U); for vfat the volume id XXXX-XXXX as blkid shows it (mkfs.vfat -i XXXXXXXX).", .pattern = P_NEW_FS_UUID),
                STRN("label", "Label, the same as the old filesystem's."),
                STRN("mountpoint", "Where it is mounted in the migrated system (null for swap and secondary ESPs)."),
                STR("device", "Device it is made on (stable path).", .pattern = P_DEV, .not_pattern = P_UNSTABLE),
                STRN("array", "Array it sits on directly.", .ref = REF_ARRAY),
                STRN("crypt", "LUKS mapping it sits in.", .ref = REF_CRYPT),
                STRN("source_uuid", "UUID of the filesystem it replaces."),
                UINT("size", "Size it will have in bytes."),
                UINT("copy_bytes", "Data the copy moves onto it (0 for swap)."),
                END,
        },
};

static const struct format_table t_crypt = {
        "crypt", "A LUKS container to be cloned onto an array.",
        (const struct format_field[]) {
                STR("name", "crypttab name, kept from today's mapping.", .pattern = P_NAME),
                STR("array", "Array it is created on.", .ref = REF_ARRAY),
                STR("device", "Device of that array.", .pattern = P_MD_DEV),
                STR("uuid", "New LUKS UUID.", .pattern = P_UUID),
                STR("source_uuid", "UUID of the LUKS container it is cloned from."),
                DEV("source_device", "Stable identifier of that container's device."),
                STR("open_as", "Mapping name used during the migration.", .pattern = P_NAME),
                END,
        },
};

static const struct format_table t_vg = {
        "volume-group", "A volume group that moves onto an array.",
        (const struct format_field[]) {
                STR("name", "VG name.", .pattern = P_NAME),
                STR("uuid", "VG UUID."),
                STR("pv_array", "Array that becomes its new PV.", .ref = REF_ARRAY),
                STR("pv_uuid", "UUID of the new PV (pvcreate --uuid).", .pattern = P_LVM_UUID),
                DEV("old_pv_device", "Stable identifier of the PV that leaves."),
                STR("old_pv_uuid", "UUID of the PV that leaves."),
                END,
        },
};

static const struct format_table t_target = {
        "target", "The layout after the migration.",
        (const struct format_field[]) {
                ARR("disks", t_disk, "Every disk, the old one first.", .min_items = 2),
                ARR("arrays", t_array, "Arrays.", .min_items = 1),
                ARR("filesystems", t_filesystem, "Filesystems and swap areas."),
                ARR("crypts", t_crypt, "LUKS containers (luks strategy)."),
                ARR("volume_groups", t_vg, "Volume groups (lvm strategy)."),
                END,
        },
};

/* ---- steps ---- */

static const struct format_table t_check = {
        "check", "One condition that holds once the step is done; re-checked on resume. partition-table: disk TARGET has the planned table with disk id VALUE. no-signatures: nothing on disk TARGET. array: array TARGET exists with UUID VALUE. array-member: partition VALUE is a member of TARGET. array-in-sync: TARGET is complete and idle. filesystem / swap / luks: device TARGET holds it with UUID VALUE. mounted: the target tree is mounted at TARGET. tree-copied: TARGET holds the tree of VALUE. hooks-ran: phase TARGET ran. file-entries: file TARGET holds the planned entries. initramfs-has-arrays: every initramfs in TARGET holds mdadm and the arrays. bootloader: disk TARGET carries boot loader VALUE. boot-entry: one-time entry TARGET is set. rebooted: the boot id changed since the step started. booted-from: / is the filesystem with UUID VALUE. pv: device TARGET is a PV with UUID VALUE. vg-has-pv / vg-lacks-pv: VG TARGET has / lacks PV VALUE. verified: the end state verified. integrity: device TARGET carries a dm-integrity superblock and is open as mapping VALUE. integrity-boot: the boot chain part TARGET (files, initramfs, integritytab) opens the volumes. fallback-initramfs: every initramfs in TARGET (the running system's /boot) is kept as it was and regenerated to open the LUKS clones too.",
        (const struct format_field[]) {
                STR("check", "What is checked.", .values = v_check),
                STR("target", "What it is checked on (device, path, array, phase)."),
                STRN("value", "Expected value (UUID, device, ...), if any."),
                END,
        },
};

static const struct format_table t_establishes = {
        "establishes", "The state a step leaves behind.",
        (const struct format_field[]) {
                STR("state", "One sentence for people."),
                ARR("checks", t_check, "Conditions, all of which hold once the step is done."),
                END,
        },
};

static const struct format_table t_step = {
        "step", "One step of the migration; args depend on kind (see $defs/args-KIND).",
        (const struct format_field[]) {
                STR("id", "Unique within the plan.", .pattern = P_STEP_ID),
                STR("kind", "Step kind.", .values = step_kind_table),
                STR("description", "One sentence for people."),
                { .name = "args", .type = FIELD_ARGS, .flags = F_REQUIRED, .doc = "Arguments; their format depends on kind." },
                BOOL("reversible", "Whether rollback can undo it."),
                STRN("undo", "How it is undone, for people; null exactly when not reversible."),
                OBJ("establishes", t_establishes, "The state it leaves behind."),
                BOOL("writes_old_disk", "Writes the disk the system came from; the first such step is the point of no return."),
                END,
        },
};

static const struct format_table t_host = {
        "host", "The machine the plan was made for.",
        (const struct format_field[]) {
                STR("hostname", "Host name."),
                STRN("machine_id", "/etc/machine-id."),
                END,
        },
};

const struct format_table format_plan = {
        "plan", "A rootraid migration plan.",
        (const struct format_field[]) {
                UINT("format_version", "Format version of this document.", .min = 1, .max = 1),
                STR("tool_version", "rootraid version that wrote it."),
                STR("created", "Creation time, UTC (SOURCE_DATE_EPOCH when set).", .pattern = P_TIME),
                OBJ("host", t_host, "The machine."),
                STR("fingerprint", "sha256: of the canonical JSON of facts.", .pattern = P_FINGERPRINT),
                STR("strategy", "copy: plain partitions; lvm: root on LVM; luks: root on LUKS.", .values = v_strategy),
                UINT("level", "RAID level of the arrays.", .int_values = i_levels),
                UINT("copy_bytes", "Data the copy steps move, in bytes."),
                STRN("point_of_no_return", "id of the first step with writes_old_disk, or null.", .ref = REF_STEP),
                OBJ("facts", t_facts, "Facts the plan depends on."),
                OBJ("source", t_source, "Today's layout."),
                OBJ("target", t_target, "The layout after the migration."),
                ARR("steps", t_step, "The steps, in order.", .min_items = 1),
                END,
        },
};

/* ---- args of each step kind ---- */

static const struct format_table t_signature = {
        "signature", "A signature to remove.",
        (const struct format_field[]) {
                STR("type", "libblkid type (\"gpt\", \"ext4\", \"linux_raid_member\", ...)."),
                UINT("offset", "Byte offset of its magic."),
                END,
        },
};

static const struct format_table a_wipe_signatures = {
        "args-wipe-signatures", "Remove every signature libblkid finds on a target disk and on its partitions (blkid_do_wipe, as wipefs -a on each). The list is what planning found, offsets counted from the start of the disk; the fingerprint covers them, so a plan whose target changed since is refused before this step runs.",
        (const struct format_field[]) {
                DISK_REF("disk", "Target disk."),
                ARR("signatures", t_signature, "Signatures found when planning (on the disk itself).", .min_items = 1),
                END,
        },
};

static const struct format_table a_partition_disk = {
        "args-partition-disk", "Write a new partition table (libfdisk) exactly as described (label, disk id, each partition's number, start, size, type, GPT name and UUID, bootable flag), then remove any signature found inside each new partition (wipefs -a), so that no stale superblock survives in an array member. On the old disk this is the point of no return.",
        (const struct format_field[]) {
                DISK_REF("disk", "Disk to partition."),
                STR("label", "Table type.", .values = v_label),
                STR("disk_id", "Disk identifier to set.", .pattern = P_DISK_ID),
                UINT("sector_size", "Logical sector size assumed when planning (refuse if it differs)."),
                ARR("partitions", t_partition, "Partitions.", .min_items = 1),
                END,
        },
};

static const struct format_table a_md_create = {
        "args-md-create", "mdadm --create --run --metadata=1.2 --bitmap=internal --uuid --name --level --raid-devices --data-offset [--chunk --layout], members in order, the old disk's slot as \"missing\".",
        (const struct format_field[]) {
                STR("array", "Target array name.", .ref = REF_ARRAY),
                STR("device", "/dev/md/NAME.", .pattern = P_MD_DEV),
                STR("uuid", "Array UUID.", .pattern = P_MD_UUID),
                STR("name", "mdadm --name.", .pattern = P_NAME),
                { .name = "homehost", .type = FIELD_STRING, .flags = F_NULLABLE,
                  .doc = "mdadm --homehost: the host name, so the superblock names the array HOSTNAME:NAME as mdadm.conf does (optional)." },
                UINT("level", "RAID level.", .int_values = i_raid_levels),
                STR("metadata", "Superblock format.", .values = v_metadata),
                STR("bitmap", "Bitmap.", .values = v_bitmap),
                UINT("chunk", "Chunk size in bytes (0: none, RAID 1)."),
                STRN("layout", "mdadm --layout, or null.", .values = v_layout),
                UINT("data_offset", "mdadm --data-offset in bytes (a multiple of 1 MiB)."),
                UINT("raid_devices", "Number of member slots.", .min = 2, .max = 64),
                ARR("members", t_member, "Member slots in order.", .min_items = 2),
                END,
        },
};

static const struct format_table a_mkfs = {
        "args-mkfs", "Make a filesystem: mkfs.TYPE with the UUID and label given (-U/-L; mkfs.vfat -i/-n; mkfs.xfs -m uuid= -L).",
        (const struct format_field[]) {
                STR("filesystem", "Target filesystem name.", .ref = REF_FILESYSTEM),
                DEV("device", "Device to format."),
                STR("type", "Filesystem type.", .values = v_mkfs_type),
                STR("uuid", "UUID to give it.", .pattern = P_NEW_FS_UUID),
                STRN("label", "Label, or null."),
                END,
        },
};

static const struct format_table a_mkswap = {
        "args-mkswap", "mkswap -U UUID [-L LABEL] DEVICE.",
        (const struct format_field[]) {
                STR("filesystem", "Target filesystem name (type swap).", .ref = REF_FILESYSTEM),
                DEV("device", "Device."),
                STR("uuid", "UUID.", .pattern = P_UUID),
                STRN("label", "Label, or null."),
                END,
        },
};

static const struct format_table t_mount = {
        "mount", "A mount under the target root.",
        (const struct format_field[]) {
                STR("filesystem", "Target filesystem name.", .ref = REF_FILESYSTEM),
                DEV("device", "Device to mount."),
                STR("mountpoint", "Absolute path to mount it on (under root).", .pattern = P_ABS_PATH),
                STR("fstype", "Filesystem type.", .values = v_mkfs_type),
                END,
        },
};

static const struct format_table a_mount_target = {
        "args-mount-target", "Mount the new filesystems, parents first (mkdir -p each mount point).",
        (const struct format_field[]) {
                STR("root", "Directory the new root is mounted on (/run/rootraid/target).", .pattern = P_ABS_PATH),
                ARR("mounts", t_mount, "Mounts in order.", .min_items = 1),
                END,
        },
};

static const struct format_table a_copy = {
        "args-copy", "Copy one filesystem's tree (private bind mount of source, so hidden files under mount points come too) into target; copy-live tracks changes, copy-final copies what changed.",
        (const struct format_field[]) {
                STR("filesystem", "Target filesystem name.", .ref = REF_FILESYSTEM),
                STR("source", "Mount point of the live filesystem.", .pattern = P_ABS_PATH),
                STR("target", "Directory it is copied into.", .pattern = P_ABS_PATH),
                UINT("bytes", "Bytes in use when planned."),
                BOOL("one_file_system", "Do not cross into other mounts."),
                END,
        },
};

static const struct format_table a_run_hooks = {
        "args-run-hooks", "Run the executables of one phase's hook directory in lexical order; any failure stops the migration.",
        (const struct format_field[]) {
                STR("phase", "Phase.", .values = v_phase),
                STR("directory", "Hook directory.", .pattern = P_ABS_PATH),
                END,
        },
};

static const struct format_table t_fstab_entry = {
        "fstab-entry", "One fstab entry to rewrite; options, dump and pass are kept.",
        (const struct format_field[]) {
                STR("filesystem", "Target filesystem name.", .ref = REF_FILESYSTEM),
                STR("mountpoint", "Mount point (\"none\" for swap): the entry is found by it, and swap by old_uuid.", .pattern = "^(/|none$)"),
                STR("fstype", "Filesystem type.", .values = v_fstype),
                STRN("old_uuid", "UUID of the filesystem the entry names today."),
                STR("new_source", "New first field.", .pattern = P_FS_SOURCE),
                { .name = "add_options", .type = FIELD_STRING, .flags = F_NULLABLE, .pattern = "^[a-z][a-z0-9.=-]*(,[a-z][a-z0-9.=-]*)*$",
                  .doc = "Mount options the entry gets if it lacks them (optional): nofail for an ESP, which is on one disk of several." },
                END,
        },
};

static const struct format_table a_write_fstab = {
        "args-write-fstab", "Rewrite fstab with libmount, atomically; a copy of the old file is kept for undo.",
        (const struct format_field[]) {
                STR("path", "fstab to write.", .pattern = P_ABS_PATH),
                ARR("entries", t_fstab_entry, "Entries.", .min_items = 1),
                END,
        },
};

static const struct format_table t_crypttab_entry = {
        "crypttab-entry", "One crypttab entry to rewrite; key file and options are kept.",
        (const struct format_field[]) {
                STR("name", "Mapping name (first field).", .pattern = P_NAME),
                STR("crypt", "Target crypt name.", .ref = REF_CRYPT),
                STR("old_uuid", "LUKS UUID it names today."),
                STR("new_source", "New second field.", .pattern = P_FS_SOURCE),
                END,
        },
};

static const struct format_table a_write_crypttab = {
        "args-write-crypttab", "Rewrite crypttab atomically; a copy of the old file is kept for undo.",
        (const struct format_field[]) {
                STR("path", "crypttab to write.", .pattern = P_ABS_PATH),
                ARR("entries", t_crypttab_entry, "Entries.", .min_items = 1),
                END,
        },
};

static const struct format_table t_conf_array = {
        "mdadm-conf-array", "An ARRAY line.",
        (const struct format_field[]) {
                STR("array", "Target array name.", .ref = REF_ARRAY),
                STR("device", "/dev/md/NAME.", .pattern = P_MD_DEV),
                STR("uuid", "UUID.", .pattern = P_MD_UUID),
                STR("name", "The array's name as its superblock holds it: HOSTNAME:NAME, or NAME alone when that would not fit mdadm's 32 bytes.", .pattern = "^[^ ]+$"),
                STR("metadata", "Superblock format.", .values = v_metadata),
                END,
        },
};

static const struct format_table a_write_mdadm_conf = {
        "args-write-mdadm-conf", "Write mdadm.conf: keep existing lines except ARRAY lines for these UUIDs, add one ARRAY line per array, set MAILADDR when given.",
        (const struct format_field[]) {
                STR("path", "mdadm.conf to write.", .pattern = P_ABS_PATH),
                STRN("mailaddr", "MAILADDR, kept from today's configuration (null: root)."),
                ARR("arrays", t_conf_array, "Arrays.", .min_items = 1),
                END,
        },
};

static const struct format_table a_update_initramfs = {
        "args-update-initramfs", "Regenerate the initramfs inside root (chroot with /dev /proc /sys bound), then verify it contains mdadm and an mdadm.conf listing every array UUID.",
        (const struct format_field[]) {
                STR("root", "Root directory of the system whose initramfs is built.", .pattern = P_ABS_PATH),
                STR("generator", "Generator.", .values = v_generator),
                STRN("kernel_release", "Kernel release to build for; null: every installed kernel."),
                ARRS("arrays", "UUIDs of the arrays the initramfs must assemble.", .min_items = 1),
                END,
        },
};

static const struct format_table t_esp = {
        "esp", "The ESP on the disk a boot loader is installed to.",
        (const struct format_field[]) {
                STR("filesystem", "Target filesystem name of the ESP.", .ref = REF_FILESYSTEM),
                DEV("device", "Its device."),
                STR("uuid", "Its UUID.", .pattern = P_NEW_FS_UUID),
                STR("mountpoint", "Where it is mounted for the installation (relative to root).", .pattern = P_ABS_PATH),
                END,
        },
};

static const struct format_table a_install_bootloader = {
        "args-install-bootloader", "Install GRUB on one disk (grub-pc: grub-install DISK; grub-efi: copy the primary ESP's content, grub-install --efi-directory --bootloader-id --no-nvram and one efibootmgr entry per disk), then regenerate grub.cfg keeping GRUB_CMDLINE_LINUX.",
        (const struct format_field[]) {
                STR("root", "Root of the system the loader belongs to (chroot), / once switched.", .pattern = P_ABS_PATH),
                STR("loader", "Boot loader.", .values = v_loader),
                DISK_REF("disk", "Disk to install on."),
                OBJN("esp", t_esp, "For grub-efi: that disk's ESP; null for grub-pc."),
                STRN("bootloader_id", "EFI directory / boot entry name, or null."),
                BOOL("update_config", "Regenerate grub.cfg (update-grub / grub-mkconfig) too."),
                END,
        },
};

static const struct format_table a_boot_once = {
        "args-boot-once", "Arrange that the next boot, and only that one, starts the new root (GRUB: a menu entry added on the running system plus grub-reboot; UEFI: efibootmgr --bootnext); a failed boot falls back to the old root.",
        (const struct format_field[]) {
                STR("root", "Mounted new root, for its kernels and initramfs.", .pattern = P_ABS_PATH),
                STR("loader", "Boot loader.", .values = v_loader),
                STR("entry_id", "Menu entry id / boot entry label.", .pattern = "^[A-Za-z0-9_.-]+$"),
                STR("title", "Menu entry title."),
                STR("root_fs_uuid", "UUID of the new root filesystem (root=UUID=)."),
                STR("boot_fs_uuid", "UUID of the filesystem holding the new /boot."),
                STR("root_device", "Device of the new root (array, mapping or LV).", .pattern = P_DEV),
                STR("cmdline", "Kernel options kept from today's command line (without root= and BOOT_IMAGE=)."),
                ARRS("arrays", "UUIDs of the arrays to assemble at boot."),
                END,
        },
};

static const struct format_table a_switch_root = {
        "args-switch-root", "Move the running system onto the new root without a reboot: bind-mount it on /run/nextroot and run systemctl soft-reboot (systemd 254 or later), which stops every service and starts them again from there. Cannot be undone once done: the services write to the arrays from then on.",
        (const struct format_field[]) {
                STR("root", "Mounted new root.", .pattern = P_ABS_PATH),
                END,
        },
};

static const struct format_table a_reboot = {
        "args-reboot", "Reboot the machine (systemctl reboot); the executor resumes after the boot.",
        (const struct format_field[]) {
                STR("reason", "Why, for people."),
                { .name = "after_switch", .type = FIELD_BOOL,
                  .doc = "After switch-root (optional): do not reboot, wait for the administrator's reboot, and count only a boot whose kernel command line names the new root." },
                END,
        },
};

static const struct format_table a_confirm_boot = {
        "args-confirm-boot", "Check the running root is the new one, then make the new boot entry the default.",
        (const struct format_field[]) {
                STR("root_fs_uuid", "UUID the running / must have."),
                STR("root_device", "Device / must be on.", .pattern = P_DEV),
                STR("loader", "Boot loader.", .values = v_loader),
                BOOL("make_default", "Make the new entry the default."),
                END,
        },
};

static const struct format_table a_md_add = {
        "args-md-add", "mdadm --add DEVICE PARTITION: the old disk's partition fills its missing slot.",
        (const struct format_field[]) {
                STR("array", "Target array name.", .ref = REF_ARRAY),
                STR("device", "/dev/md/NAME.", .pattern = P_MD_DEV),
                STR("uuid", "UUID.", .pattern = P_MD_UUID),
                OBJ("member", t_member, "The member added (missing is true: it was the missing slot)."),
                END,
        },
};

static const struct format_table t_array_ref = {
        "array-ref", "An array.",
        (const struct format_field[]) {
                STR("array", "Target array name.", .ref = REF_ARRAY),
                STR("device", "/dev/md/NAME.", .pattern = P_MD_DEV),
                STR("uuid", "UUID.", .pattern = P_MD_UUID),
                END,
        },
};

static const struct format_table a_wait_resync = {
        "args-wait-resync", "Wait until every array listed is in sync (sync_action idle, no degraded members), reporting progress.",
        (const struct format_field[]) {
                ARR("arrays", t_array_ref, "Arrays.", .min_items = 1),
                END,
        },
};

static const struct format_table a_verify = {
        "args-verify", "Check the end state: arrays complete and in sync, mdadm.conf and fstab/crypttab match the UUIDs, initramfs holds mdadm and the arrays, the boot loader is on every disk.",
        (const struct format_field[]) {
                ARR("arrays", t_array_ref, "Arrays.", .min_items = 1),
                STR("fstab", "fstab path.", .pattern = P_ABS_PATH),
                STR("mdadm_conf", "mdadm.conf path.", .pattern = P_ABS_PATH),
                STR("loader", "Boot loader.", .values = v_loader),
                ARRS("bootloader_disks", "Stable identifiers of every disk that must carry the boot loader.", .min_items = 2),
                END,
        },
};

static const struct format_table a_pv_create = {
        "args-pv-create", "pvcreate --uuid PV_UUID --norestorefile DEVICE.",
        (const struct format_field[]) {
                STR("array", "Target array name.", .ref = REF_ARRAY),
                STR("device", "The new PV: /dev/md/NAME, or the LUKS clone on it (/dev/mapper/rootraid-NAME).", .pattern = P_NEW_PV),
                STR("pv_uuid", "PV UUID.", .pattern = P_LVM_UUID),
                END,
        },
};

static const struct format_table a_vg_extend = {
        "args-vg-extend", "vgextend VG DEVICE.",
        (const struct format_field[]) {
                STR("vg", "Target volume group name.", .ref = REF_VG),
                STR("device", "The new PV: the array, or the LUKS clone on it.", .pattern = P_NEW_PV),
                END,
        },
};

static const struct format_table a_pv_move = {
        "args-pv-move", "pvmove FROM TO, live; interrupted moves are continued with pvmove (no arguments).",
        (const struct format_field[]) {
                STR("vg", "Target volume group name.", .ref = REF_VG),
                DEV("from", "The old PV."),
                STR("to", "The new PV: the array, or the LUKS clone on it.", .pattern = P_NEW_PV),
                END,
        },
};

static const struct format_table a_vg_reduce = {
        "args-vg-reduce", "vgreduce VG DEVICE, then pvremove DEVICE when pvremove is true.",
        (const struct format_field[]) {
                STR("vg", "Target volume group name.", .ref = REF_VG),
                DEV("device", "The old PV."),
                BOOL("pvremove", "Also remove the PV label."),
                END,
        },
};

static const struct format_table a_luks_clone = {
        "args-luks-clone", "Clone the LUKS header of source onto device with a new UUID (keyslots and passphrases kept; data offset unchanged), then open it as open_as with the volume key of the active mapping source_mapping.",
        (const struct format_field[]) {
                STR("crypt", "Target crypt name.", .ref = REF_CRYPT),
                DEV("source", "Device of today's LUKS container."),
                STR("source_mapping", "Name of its active mapping.", .pattern = P_NAME),
                STR("device", "Array to clone onto.", .pattern = P_MD_DEV),
                STR("uuid", "New LUKS UUID.", .pattern = P_UUID),
                STR("open_as", "Mapping name for the new container during the migration.", .pattern = P_NAME),
                END,
        },
};

static const struct format_table a_integrity_format = {
        "args-integrity-format", "Write a standalone dm-integrity superblock (libcryptsetup, CRYPT_INTEGRITY: internal hash, journal) on the member's partition unless it carries one with these parameters, then open it as /dev/mapper/NAME, recalculating the tags in the background (no wipe).",
        (const struct format_field[]) {
                STR("array", "Target array name the mapping becomes a member of.", .ref = REF_ARRAY),
                STR("name", "Mapping name (/dev/mapper/NAME).", .pattern = P_NAME),
                OBJ("member", t_member, "The partition, by disk and number."),
                DEV("device", "The partition's stable path (by-partuuid), as the boot chain names it."),
                STR("algorithm", "Integrity algorithm.", .values = v_integrity_alg),
                UINT("tag_size", "Bytes of checksum per sector.", .int_values = i_integrity_tag),
                UINT("sector_size", "dm-integrity sector size in bytes (the md member's logical sector size).", .int_values = i_integrity_sector),
                END,
        },
};

static const struct format_table t_integrity_volume = {
        "integrity-volume", "A dm-integrity volume the boot chain opens.",
        (const struct format_field[]) {
                STR("name", "Mapping name.", .pattern = P_NAME),
                DEV("device", "Stable path of the partition (by-partuuid)."),
                END,
        },
};

static const struct format_table a_integrity_boot = {
        "args-integrity-boot", "files: write the initramfs-tools hook, the local-top/local-block script and /etc/rootraid/integrity.conf into root, so the initramfs opens every integrity volume before mdadm assembles; initramfs: check that every initramfs in root/boot holds them; integritytab: write /etc/integritytab in root for systemd-integritysetup.",
        (const struct format_field[]) {
                STR("root", "Root of the system to configure.", .pattern = P_ABS_PATH),
                STR("what", "Which part of the boot chain.", .values = v_integrity_boot),
                ARR("volumes", t_integrity_volume, "Every volume, the old disk's included.", .min_items = 1),
                END,
        },
};

static const struct format_table a_fallback_initramfs = {
        "args-fallback-initramfs", "LVM inside LUKS: keep every initramfs in the running system's /boot as IMAGE.rootraid-orig, regenerate them (update-initramfs -u -k all) with a crypttab that also opens each LUKS clone under its open_as name, and check them for mdadm, lvm and that entry; undo renames the originals back.",
        (const struct format_field[]) {
                STR("generator", "Generator.", .values = v_generator),
                END,
        },
};

static const struct format_table *const args_tables[_STEP_KIND_MAX] = {
        [STEP_PARTITION_DISK] = &a_partition_disk,
        [STEP_WIPE_SIGNATURES] = &a_wipe_signatures,
        [STEP_MD_CREATE] = &a_md_create,
        [STEP_MKFS] = &a_mkfs,
        [STEP_MKSWAP] = &a_mkswap,
        [STEP_MOUNT_TARGET] = &a_mount_target,
        [STEP_COPY_LIVE] = &a_copy,
        [STEP_RUN_HOOKS] = &a_run_hooks,
        [STEP_COPY_FINAL] = &a_copy,
        [STEP_WRITE_FSTAB] = &a_write_fstab,
        [STEP_WRITE_CRYPTTAB] = &a_write_crypttab,
        [STEP_WRITE_MDADM_CONF] = &a_write_mdadm_conf,
        [STEP_UPDATE_INITRAMFS] = &a_update_initramfs,
        [STEP_INSTALL_BOOTLOADER] = &a_install_bootloader,
        [STEP_BOOT_ONCE] = &a_boot_once,
        [STEP_REBOOT] = &a_reboot,
        [STEP_CONFIRM_BOOT] = &a_confirm_boot,
        [STEP_MD_ADD] = &a_md_add,
        [STEP_WAIT_RESYNC] = &a_wait_resync,
        [STEP_VERIFY] = &a_verify,
        [STEP_PV_CREATE] = &a_pv_create,
        [STEP_VG_EXTEND] = &a_vg_extend,
        [STEP_PV_MOVE] = &a_pv_move,
        [STEP_VG_REDUCE] = &a_vg_reduce,
        [STEP_LUKS_CLONE] = &a_luks_clone,
        [STEP_INTEGRITY_FORMAT] = &a_integrity_format,
        [STEP_INTEGRITY_BOOT] = &a_integrity_boot,
        [STEP_FALLBACK_INITRAMFS] = &a_fallback_initramfs,
        [STEP_SWITCH_ROOT] = &a_switch_root,
};

const struct format_table *format_args_table(int kind) {
        if (kind < 0 || kind >= _STEP_KIND_MAX)
                return NULL;
        return args_tables[kind];
}

/* ---- validation ---- */

static const char *json_type_name(json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_null:    return "null";
        case json_type_boolean: return "boolean";
        case json_type_double:  return "number";
        case json_type_int:     return "integer";
        case json_type_object:  return "object";
        case json_type_array:   return "array";
        case json_type_string:  return "string";
        }
        return "unknown";
}

static int fail(char **ret_error, const char *path, const char *format, ...) _printf_(3, 4);
static int fail(char **ret_error, const char *path, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        if (!ret_error)
                return -EBADMSG;
        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg || asprintf(ret_error, "%s: %s", *path ? path : "(document)", msg) < 0)
                return -ENOMEM;
        return -EBADMSG;
}

/* Compiled patterns, by the address of their string: the tables are static,
 * so the cache never needs more entries than there are distinct patterns. */
static bool pattern_match(const char *pattern, const char *s) {
        static struct {
                const char *pattern;
                regex_t re;
        } cache[48];
        static size_t n_cache;
        size_t i;

        for (i = 0; i < n_cache; i++)
                if (cache[i].pattern == pattern)
                        break;
        if (i == n_cache) {
                if (n_cache >= ELEMENTSOF(cache))
                        abort(); /* a programming error: raise the cache size */
                if (regcomp(&cache[i].re, pattern, REG_EXTENDED | REG_NOSUB) != 0)
                        abort(); /* a programming error in the tables above */
                cache[i].pattern = pattern;
                n_cache++;
        }
        return regexec(&cache[i].re, s, 0, NULL, 0) == 0;
}

static int validate_value(json_object *v, const struct format_field *f, enum field_type type,
                          const char *path, char **ret_error);

static int validate_string(json_object *v, const struct format_field *f, const char *path, char **ret_error) {
        const char *s = json_object_get_string(v);
        size_t len = (size_t) json_object_get_string_len(v);

        if (strlen(s) != len)
                return fail(ret_error, path, "string contains a NUL byte");
        if (f->values) {
                bool ok = false;
                for (const char *const *p = f->values; *p; p++)
                        if (streq(*p, s))
                                ok = true;
                if (!ok) {
                        if (streq(f->name, "kind"))
                                return fail(ret_error, path, "unknown step kind \"%s\"", s);
                        return fail(ret_error, path, "unknown value \"%s\"", s);
                }
        }
        if (f->pattern && !pattern_match(f->pattern, s))
                return fail(ret_error, path, "\"%s\" does not match %s", s, f->pattern);
        if (f->not_pattern && pattern_match(f->not_pattern, s))
                return fail(ret_error, path, "\"%s\" is a kernel name that can change across boots; use a stable identifier", s);
        return 0;
}

static int validate_value(json_object *v, const struct format_field *f, enum field_type type,
                          const char *path, char **ret_error) {
        if (!v || json_object_is_type(v, json_type_null)) {
                if (f->flags & F_NULLABLE && type == f->type)
                        return 0;
                return fail(ret_error, path, "expected %s, got null",
                            type == FIELD_STRING ? "string" : type == FIELD_UINT ? "integer" :
                            type == FIELD_BOOL ? "boolean" : type == FIELD_ARRAY ? "array" : "object");
        }

        switch (type) {
        case FIELD_STRING:
                if (!json_object_is_type(v, json_type_string))
                        return fail(ret_error, path, "expected string, got %s", json_type_name(v));
                return validate_string(v, f, path, ret_error);

        case FIELD_UINT: {
                if (!json_object_is_type(v, json_type_int))
                        return fail(ret_error, path, "expected integer, got %s", json_type_name(v));
                /* json-c keeps integers above INT64_MAX as uint64 and
                 * reads them back here as INT64_MAX: out of range. */
                int64_t i = json_object_get_int64(v);
                if (i < 0)
                        return fail(ret_error, path, "expected an integer >= 0, got %" PRIi64, i);
                if (i == INT64_MAX)
                        return fail(ret_error, path, "integer out of range");
                if (f->int_values) {
                        bool ok = false;
                        for (const int64_t *p = f->int_values; *p >= 0; p++)
                                if (*p == i)
                                        ok = true;
                        if (!ok)
                                return fail(ret_error, path, "unsupported value %" PRIi64, i);
                }
                if (streq(f->name, "format_version") && (i < f->min || i > f->max))
                        return fail(ret_error, path, "unsupported format version %" PRIi64 ": this rootraid reads version %" PRIi64
                                    "; use the rootraid that wrote the plan, or plan again", i, f->max);
                if (f->max > 0 && (i < f->min || i > f->max))
                        return fail(ret_error, path, "%" PRIi64 " is out of range %" PRIi64 "..%" PRIi64, i, f->min, f->max);
                return 0;
        }

        case FIELD_BOOL:
                if (!json_object_is_type(v, json_type_boolean))
                        return fail(ret_error, path, "expected boolean, got %s", json_type_name(v));
                return 0;

        case FIELD_OBJECT:
                if (!json_object_is_type(v, json_type_object))
                        return fail(ret_error, path, "expected object, got %s", json_type_name(v));
                return format_validate(v, f->sub, path, ret_error);

        case FIELD_ARRAY: {
                if (!json_object_is_type(v, json_type_array))
                        return fail(ret_error, path, "expected array, got %s", json_type_name(v));
                size_t n = json_object_array_length(v);
                if (n < f->min_items)
                        return fail(ret_error, path, "expected at least %u item%s, got %zu",
                                    f->min_items, f->min_items == 1 ? "" : "s", n);
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s[%zu]", path, i) < 0)
                                return -ENOMEM;
                        /* Items are never null, whatever the array's own flags. */
                        struct format_field item = *f;
                        item.flags &= ~F_NULLABLE;
                        item.type = f->item;
                        int r = validate_value(json_object_array_get_idx(v, i), &item, f->item, p, ret_error);
                        if (r < 0)
                                return r;
                }
                return 0;
        }

        case FIELD_ARGS:
                /* Checked by format_validate() once the kind is known. */
                if (!json_object_is_type(v, json_type_object))
                        return fail(ret_error, path, "expected object, got %s", json_type_name(v));
                return 0;
        }
        return -EINVAL;
}

int format_validate(json_object *v, const struct format_table *t, const char *path, char **ret_error) {
        int r;

        if (!json_object_is_type(v, json_type_object))
                return fail(ret_error, path, "expected object, got %s", v ? json_type_name(v) : "null");

        /* Unknown fields first: a misspelt field would otherwise be reported
         * as a missing one. */
        json_object_object_foreach(v, key, val) {
                (void) val;
                bool known = false;
                for (const struct format_field *f = t->fields; f->name; f++)
                        if (streq(f->name, key))
                                known = true;
                if (!known) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s%s%s", path, *path ? "." : "", key) < 0)
                                return -ENOMEM;
                        return fail(ret_error, p, "unknown field");
                }
        }

        for (const struct format_field *f = t->fields; f->name; f++) {
                _cleanup_free_ char *p = NULL;
                json_object *fv;

                if (asprintf(&p, "%s%s%s", path, *path ? "." : "", f->name) < 0)
                        return -ENOMEM;
                if (!json_object_object_get_ex(v, f->name, &fv)) {
                        if (f->flags & F_REQUIRED)
                                return fail(ret_error, p, "missing required field");
                        continue;
                }
                r = validate_value(fv, f, f->type, p, ret_error);
                if (r < 0)
                        return r;

                if (f->type == FIELD_ARGS) {
                        json_object *kind;
                        if (!json_object_object_get_ex(v, "kind", &kind))
                                continue; /* reported as missing by its own entry */
                        const struct format_table *at = format_args_table(step_kind_from_string(json_object_get_string(kind)));
                        if (!at)
                                continue; /* an unknown kind was reported by its own entry */
                        r = format_validate(fv, at, p, ret_error);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

/* ---- schema ---- */

static json_object *json_strings(const char *const *l, bool with_null) {
        json_object *a = json_object_new_array();
        for (; *l; l++)
                json_object_array_add(a, json_object_new_string(*l));
        if (with_null)
                json_object_array_add(a, NULL);
        return a;
}

static void schema_add_table(json_object *defs, const struct format_table *t);

static json_object *schema_type(const struct format_field *f, enum field_type type, bool nullable, json_object *defs) {
        json_object *o = json_object_new_object();

        switch (type) {
        case FIELD_STRING:
                if (nullable) {
                        json_object *a = json_object_new_array();
                        json_object_array_add(a, json_object_new_string("string"));
                        json_object_array_add(a, json_object_new_string("null"));
                        json_object_object_add(o, "type", a);
                } else
                        json_object_object_add(o, "type", json_object_new_string("string"));
                if (f->values)
                        json_object_object_add(o, "enum", json_strings(f->values, nullable));
                if (f->pattern)
                        json_object_object_add(o, "pattern", json_object_new_string(f->pattern));
                if (f->not_pattern) {
                        json_object *n = json_object_new_object();
                        json_object_object_add(n, "pattern", json_object_new_string(f->not_pattern));
                        json_object_object_add(o, "not", n);
                }
                break;
        case FIELD_UINT:
                json_object_object_add(o, "type", json_object_new_string("integer"));
                if (f->int_values) {
                        json_object *a = json_object_new_array();
                        for (const int64_t *p = f->int_values; *p >= 0; p++)
                                json_object_array_add(a, json_object_new_int64(*p));
                        json_object_object_add(o, "enum", a);
                } else if (f->max > 0) {
                        json_object_object_add(o, "minimum", json_object_new_int64(f->min));
                        json_object_object_add(o, "maximum", json_object_new_int64(f->max));
                } else {
                        json_object_object_add(o, "minimum", json_object_new_int64(0));
                        json_object_object_add(o, "maximum", json_object_new_int64(INT64_MAX - 1));
                }
                break;
        case FIELD_BOOL:
                json_object_object_add(o, "type", json_object_new_string("boolean"));
                break;
        case FIELD_OBJECT: {
                _cleanup_free_ char *ref = NULL;
                schema_add_table(defs, f->sub);
                if (asprintf(&ref, "#/$defs/%s", f->sub->name) < 0)
                        abort();
                if (nullable) {
                        json_object *a = json_object_new_array(), *r = json_object_new_object(), *n = json_object_new_object();
                        json_object_object_add(r, "$ref", json_object_new_string(ref));
                        json_object_object_add(n, "type", json_object_new_string("null"));
                        json_object_array_add(a, n);
                        json_object_array_add(a, r);
                        json_object_object_add(o, "anyOf", a);
                } else
                        json_object_object_add(o, "$ref", json_object_new_string(ref));
                break;
        }
        case FIELD_ARRAY:
                json_object_object_add(o, "type", json_object_new_string("array"));
                json_object_object_add(o, "items", schema_type(f, f->item, false, defs));
                if (f->min_items > 0)
                        json_object_object_add(o, "minItems", json_object_new_int(f->min_items));
                break;
        case FIELD_ARGS:
                json_object_object_add(o, "type", json_object_new_string("object"));
                break;
        }
        return o;
}

static void schema_add_table(json_object *defs, const struct format_table *t) {
        json_object *o, *props, *req;

        if (json_object_object_get_ex(defs, t->name, NULL))
                return;
        o = json_object_new_object();
        /* Added before recursing, so recursive tables (source-node) end. */
        json_object_object_add(defs, t->name, o);
        json_object_object_add(o, "description", json_object_new_string(t->doc));
        json_object_object_add(o, "type", json_object_new_string("object"));
        json_object_object_add(o, "additionalProperties", json_object_new_boolean(false));
        req = json_object_new_array();
        props = json_object_new_object();
        for (const struct format_field *f = t->fields; f->name; f++) {
                json_object *p = schema_type(f, f->type, f->flags & F_NULLABLE, defs);
                json_object_object_add(p, "description", json_object_new_string(f->doc));
                json_object_object_add(props, f->name, p);
                if (f->flags & F_REQUIRED)
                        json_object_array_add(req, json_object_new_string(f->name));
        }
        json_object_object_add(o, "required", req);
        json_object_object_add(o, "properties", props);

        if (t == &t_step) {
                /* args: one if/then per kind. */
                json_object *all = json_object_new_array();
                /* undo is null exactly when reversible is false. */
                for (int rev = 0; rev < 2; rev++) {
                        json_object *cond = json_object_new_object(), *ifo = json_object_new_object(),
                                *ifp = json_object_new_object(), *rc = json_object_new_object(),
                                *then = json_object_new_object(), *thenp = json_object_new_object(),
                                *u = json_object_new_object();
                        json_object_object_add(rc, "const", json_object_new_boolean(rev));
                        json_object_object_add(ifp, "reversible", rc);
                        json_object_object_add(ifo, "properties", ifp);
                        json_object_object_add(cond, "if", ifo);
                        json_object_object_add(u, "type", json_object_new_string(rev ? "string" : "null"));
                        json_object_object_add(thenp, "undo", u);
                        json_object_object_add(then, "properties", thenp);
                        json_object_object_add(cond, "then", then);
                        json_object_array_add(all, cond);
                }
                for (int k = 0; k < _STEP_KIND_MAX; k++) {
                        const struct format_table *at = format_args_table(k);
                        _cleanup_free_ char *ref = NULL;
                        json_object *cond = json_object_new_object(), *ifo = json_object_new_object(),
                                *ifp = json_object_new_object(), *kc = json_object_new_object(),
                                *then = json_object_new_object(), *thenp = json_object_new_object(),
                                *ar = json_object_new_object();

                        schema_add_table(defs, at);
                        if (asprintf(&ref, "#/$defs/%s", at->name) < 0)
                                abort();
                        json_object_object_add(kc, "const", json_object_new_string(step_kind_to_string(k)));
                        json_object_object_add(ifp, "kind", kc);
                        json_object_object_add(ifo, "properties", ifp);
                        json_object_object_add(cond, "if", ifo);
                        json_object_object_add(ar, "$ref", json_object_new_string(ref));
                        json_object_object_add(thenp, "args", ar);
                        json_object_object_add(then, "properties", thenp);
                        json_object_object_add(cond, "then", then);
                        json_object_array_add(all, cond);
                }
                json_object_object_add(o, "allOf", all);
        }
}

int format_schema(json_object **ret) {
        json_object *s = json_object_new_object(), *defs = json_object_new_object();

        if (!s || !defs) {
                json_object_put(s);
                json_object_put(defs);
                return -ENOMEM;
        }
        json_object_object_add(s, "$schema", json_object_new_string("https://json-schema.org/draft/2020-12/schema"));
        json_object_object_add(s, "$id", json_object_new_string("https://rootraid.invalid/plans/rootraid-plan.schema.json"));
        json_object_object_add(s, "title", json_object_new_string("rootraid migration plan"));
        json_object_object_add(s, "description", json_object_new_string(
                "Generated from src/plan/plan-format.c (the tables the loader validates with); "
                "regenerate with tests/unit/plan/test-plan-schema --write. Beyond this schema the loader "
                "also checks: step ids are unique; "
                "every reference (array, filesystem, crypt, vg, disk, partno, point_of_no_return) names "
                "something the target layout or the steps define; point_of_no_return is the first step "
                "with writes_old_disk; the fingerprint is the SHA-256 of the canonical facts."));
        json_object_object_add(s, "$ref", json_object_new_string("#/$defs/plan"));
        json_object_object_add(s, "$defs", defs);
        schema_add_table(defs, &format_plan);
        *ret = s;
        return 0;
}

/* ---- canonical JSON ---- */

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(const char *const *) a, *(const char *const *) b);
}

static bool canonical_append(FILE *f, json_object *v) {
        switch (json_object_get_type(v)) {
        case json_type_object: {
                size_t n = (size_t) json_object_object_length(v), i = 0;
                _cleanup_free_ const char **keys = calloc(n + 1, sizeof(char *));
                if (!keys)
                        return false;
                json_object_object_foreach(v, key, val) {
                        (void) val;
                        keys[i++] = key;
                }
                qsort(keys, n, sizeof(char *), cmp_str);
                fputc('{', f);
                for (i = 0; i < n; i++) {
                        json_object *s = json_object_new_string(keys[i]), *member;
                        if (!s)
                                return false;
                        fprintf(f, "%s%s:", i ? "," : "",
                                json_object_to_json_string_ext(s, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
                        json_object_put(s);
                        json_object_object_get_ex(v, keys[i], &member);
                        if (!canonical_append(f, member))
                                return false;
                }
                fputc('}', f);
                return true;
        }
        case json_type_array:
                fputc('[', f);
                for (size_t i = 0; i < json_object_array_length(v); i++) {
                        if (i)
                                fputc(',', f);
                        if (!canonical_append(f, json_object_array_get_idx(v, i)))
                                return false;
                }
                fputc(']', f);
                return true;
        default:
                fputs(v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE) : "null", f);
                return true;
        }
}

char *json_canonical(json_object *v) {
        char *buf = NULL;
        size_t size = 0;
        FILE *f = open_memstream(&buf, &size);
        bool ok;

        if (!f)
                return NULL;
        ok = canonical_append(f, v);
        if (fclose(f) != 0 || !ok) {
                free(buf);
                return NULL;
        }
        return buf;
}

int plan_schema(json_object **ret) {
        return format_schema(ret);
}
