/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The model of a machine's storage stack, as inspect reads it and plan
 * consumes it.  Everything here is a plain fact about the machine; no
 * decision is taken in this file.  Sizes are in bytes.  Device references
 * between objects use kernel names ("sda", "sda1", "md0", "dm-0"), which are
 * only valid for the inspected boot: the plan translates them into stable
 * identifiers (blockdev.stable_id) before anything is written down. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/macro.h"

enum firmware {
        FIRMWARE_BIOS,
        FIRMWARE_UEFI,
        _FIRMWARE_MAX,
        _FIRMWARE_INVALID = -EINVAL,
};

enum boot_loader {
        BOOT_LOADER_NONE,
        BOOT_LOADER_GRUB_PC,    /* GRUB for BIOS (grub-pc / grub2-pc) */
        BOOT_LOADER_GRUB_EFI,   /* GRUB for UEFI (grub-efi-amd64, shim) */
        BOOT_LOADER_OTHER,      /* systemd-boot, syslinux, ...: refused */
        _BOOT_LOADER_MAX,
        _BOOT_LOADER_INVALID = -EINVAL,
};

enum initramfs_generator {
        INITRAMFS_NONE,
        INITRAMFS_TOOLS,        /* Debian's initramfs-tools */
        INITRAMFS_DRACUT,
        _INITRAMFS_MAX,
        _INITRAMFS_INVALID = -EINVAL,
};

enum blockdev_type {
        BLOCKDEV_DISK,          /* whole disk: sd, vd, nvme, xvd, loop with partitions */
        BLOCKDEV_PARTITION,
        BLOCKDEV_MD,            /* md array (or md partition) */
        BLOCKDEV_CRYPT,         /* dm-crypt (LUKS) mapping */
        BLOCKDEV_LVM,           /* dm linear/striped LV */
        BLOCKDEV_DM_OTHER,      /* multipath, integrity, ...: refused as a stack */
        BLOCKDEV_LOOP,          /* loop without partitions */
        BLOCKDEV_OTHER,
        _BLOCKDEV_TYPE_MAX,
        _BLOCKDEV_TYPE_INVALID = -EINVAL,
};

enum partition_table_type {
        PARTITION_TABLE_NONE,
        PARTITION_TABLE_DOS,
        PARTITION_TABLE_GPT,
        _PARTITION_TABLE_MAX,
        _PARTITION_TABLE_INVALID = -EINVAL,
};

/* What a partition is used for, from its type (GPT GUID or MBR code). */
enum partition_role {
        PARTITION_ROLE_DATA,     /* Linux filesystem and anything else */
        PARTITION_ROLE_ESP,      /* EFI system partition */
        PARTITION_ROLE_BIOS_GRUB,/* BIOS boot partition (GPT) */
        PARTITION_ROLE_SWAP,
        PARTITION_ROLE_RAID,
        PARTITION_ROLE_LVM,
        PARTITION_ROLE_EXTENDED, /* MBR extended container */
        _PARTITION_ROLE_MAX,
        _PARTITION_ROLE_INVALID = -EINVAL,
};

struct partition {
        unsigned partno;         /* 1-based, as in sda1 */
        uint64_t start;          /* bytes from the start of the disk */
        uint64_t size;
        char *type;              /* GPT type GUID (upper case) or MBR code "0x83" */
        enum partition_role role;
        char *name;              /* GPT partition name, or NULL */
        char *uuid;              /* PARTUUID */
        bool bootable;           /* MBR active flag / GPT legacy BIOS bootable */
        char *kname;             /* kernel name of the partition device, if present */
};

struct partition_table {
        enum partition_table_type type;
        char *id;                /* disk identifier: GPT GUID or MBR "0x1234abcd" */
        unsigned sector_size;    /* logical */
        uint64_t first_usable;   /* bytes */
        uint64_t last_usable;    /* bytes, inclusive end of usable area */
        uint64_t grain;          /* alignment libfdisk uses, bytes */
        struct partition *partitions;
        size_t n_partitions;
};

/* One signature found by libblkid probing (superblock or partition table).
 * Used to refuse overwriting a disk that is not blank. */
struct signature {
        char *type;              /* "ext4", "gpt", "dos", "linux_raid_member", "crypto_LUKS", "LVM2_member", ... */
        uint64_t offset;         /* where libblkid found its magic */
};

struct md_array {
        char *level;             /* "raid1", ... */
        char *uuid;              /* mdadm style UUID */
        char *metadata;          /* "1.2" */
        char **members;          /* kernel names of the member devices */
        unsigned raid_disks;
        bool degraded;
};

struct luks_info {
        int version;             /* 1 or 2 */
        char *uuid;
        uint64_t data_offset;    /* bytes */
        char *cipher;            /* "aes-xts-plain64" */
        unsigned key_size;       /* bits */
        char *active_name;       /* dm name of the open mapping, or NULL */
        char *active_kname;      /* kernel name of the mapping ("dm-0"), or NULL */
};

struct blockdev {
        char *kname;             /* "sda", "sda1", "md0", "dm-0" */
        char *devnode;           /* "/dev/sda", "/dev/mapper/vg-root" */
        enum blockdev_type type;
        dev_t devnum;
        uint64_t size;
        unsigned logical_sector_size;
        unsigned physical_sector_size;
        bool read_only;
        bool removable;
        bool rotational;

        /* Stable identity.  stable_id is what the plan uses: a
         * /dev/disk/by-id/ path (wwn- preferred), else by-path, else
         * by-partuuid / by-uuid for partitions. */
        char *stable_id;
        char **links;            /* every /dev/disk/by-* link that points here */
        char *wwn, *serial, *model, *vendor;

        /* Stacking, from sysfs holders/ and slaves/ (kernel names). */
        char *parent;            /* for a partition: the disk's kname */
        unsigned partno;
        char **holders;
        char **slaves;

        /* Content, from libblkid. */
        char *fstype;            /* "ext4", "xfs", "swap", "crypto_LUKS", "LVM2_member", "linux_raid_member", "vfat", ... */
        char *fs_uuid;
        char *fs_label;
        char *part_uuid;         /* PARTUUID */
        char *part_label;
        uint64_t fs_size;        /* filesystem size when known (else 0) */
        uint64_t fs_used;        /* bytes in use when mounted (statvfs), else 0 */
        struct signature *signatures;
        size_t n_signatures;

        struct partition_table *table;  /* disks: libfdisk's view, or NULL */
        struct md_array *md;             /* BLOCKDEV_MD */
        struct luks_info *luks;          /* a LUKS container (the underlying device) */
        char *dm_name;                   /* dm devices: /dev/mapper name */
        char *dm_uuid;                   /* "CRYPT-LUKS2-...", "LVM-..." */
};

struct mount_point {
        char *target;            /* "/", "/boot", "/boot/efi", "/home" */
        char *source;            /* "/dev/sda1" as the kernel shows it */
        char *fstype;
        char *options;           /* VFS + fs options */
        char *fs_root;           /* root of the mount within the fs ("/" unless bind/subvolume) */
        dev_t devnum;            /* st_dev of the mount */
        char *kname;             /* blockdev kname resolved from devnum, or NULL (tmpfs, nfs) */
};

struct fstab_entry {
        char *source;            /* as written: "UUID=...", "/dev/sda1", "LABEL=..." */
        char *target;
        char *fstype;
        char *options;
        int freq, passno;
        char *kname;             /* resolved blockdev, or NULL when unresolved */
};

struct crypttab_entry {
        char *name;
        char *source;            /* "UUID=..." or a device path */
        char *keyfile;           /* "none" or a path */
        char *options;
        char *kname;             /* resolved underlying blockdev, or NULL */
};

struct swap_area {
        char *source;            /* from /proc/swaps */
        char *kname;
        uint64_t size;
        bool is_file;
};

struct lvm_pv {
        char *name;              /* "/dev/sda3" */
        char *kname;
        char *vg;
        char *uuid;
        uint64_t size, free;
};

struct lvm_lv {
        char *name;              /* "root" */
        char *vg;
        char *path;              /* "/dev/vg/root" */
        char *kname;             /* "dm-1" when active */
        uint64_t size;
};

struct lvm_vg {
        char *name;
        char *uuid;
        uint64_t size, free;
        uint64_t extent_size;
};

struct facts {
        char *sysroot;           /* NULL for the live system */

        /* Identity of the host. */
        char *hostname;
        char *machine_id;
        char *os_id;             /* "debian" */
        char *os_version_id;     /* "12" */
        char *kernel_release;    /* uname -r, or the fixture's */

        /* Boot. */
        enum firmware firmware;
        enum boot_loader boot_loader;
        enum initramfs_generator initramfs;
        char *cmdline;           /* /proc/cmdline */
        char *grub_cmdline_linux;/* GRUB_CMDLINE_LINUX from /etc/default/grub */
        char *grub_install_devices; /* debconf grub-pc/install_devices, if known */
        char *mdadm_mailaddr;    /* MAILADDR in mdadm.conf, if any */

        struct blockdev *devices;
        size_t n_devices;
        struct mount_point *mounts;
        size_t n_mounts;
        struct fstab_entry *fstab;
        size_t n_fstab;
        struct crypttab_entry *crypttab;
        size_t n_crypttab;
        struct swap_area *swaps;
        size_t n_swaps;
        struct lvm_pv *pvs;
        size_t n_pvs;
        struct lvm_vg *vgs;
        size_t n_vgs;
        struct lvm_lv *lvs;
        size_t n_lvs;
};

DECLARE_STRING_TABLE(firmware, enum firmware);
DECLARE_STRING_TABLE(boot_loader, enum boot_loader);
DECLARE_STRING_TABLE(initramfs_generator, enum initramfs_generator);
DECLARE_STRING_TABLE(blockdev_type, enum blockdev_type);
DECLARE_STRING_TABLE(partition_table_type, enum partition_table_type);
DECLARE_STRING_TABLE(partition_role, enum partition_role);

/* Frees everything; accepts NULL; returns NULL. */
struct facts *facts_free(struct facts *f);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct facts *, facts_free);
#define _cleanup_facts_free_ _cleanup_(facts_freep)

/* Look-ups; return NULL when absent.  Pointers stay owned by the facts. */
struct blockdev *facts_find_kname(const struct facts *f, const char *kname);
/* Accepts "/dev/sda", "sda", a /dev/disk/by-* link, or a stable_id. */
struct blockdev *facts_find_device(const struct facts *f, const char *name);
struct mount_point *facts_find_mount(const struct facts *f, const char *target);
/* The whole disk a device sits on, following slaves down to the bottom
 * (first disk found); NULL when there is none. */
struct blockdev *facts_disk_of(const struct facts *f, const struct blockdev *d);

/* Destructors of the parts, for code that builds facts (inspect).  Each
 * accepts NULL; blockdev_done() frees what the device owns, not the struct. */
struct partition_table *partition_table_free(struct partition_table *t);
struct md_array *md_array_free(struct md_array *m);
struct luks_info *luks_info_free(struct luks_info *l);
void blockdev_done(struct blockdev *d);

/* The device with this device number, or NULL. */
struct blockdev *facts_find_devnum(const struct facts *f, dev_t devnum);

/* A complete dump of the facts as a new JSON object (every field, NULL
 * strings as JSON null, device numbers as "major:minor", enums by their
 * string-table names).  The plan keeps it as its "source".  Returns 0 and
 * *ret (caller puts it), or -ENOMEM / -EINVAL. */
int facts_to_json(const struct facts *f, json_object **ret);
