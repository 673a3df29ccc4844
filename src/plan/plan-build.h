/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Internal to the planner (plan-build.c decides, plan-emit.c writes the
 * target layout and the steps, plan-facts.c reduces the facts for the
 * fingerprint): the units of the layout and the builder's state. */

#include "plan/plan.h"
#include "util/sha256.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define MAX_UNITS 32
#define MAX_DISKS 16
#define TARGET_ROOT "/run/rootraid/target"
#define HOOKS_DIR "/etc/rootraid/hooks.d"
#define MD_CHUNK (512 * 1024)   /* mdadm's default chunk for levels 5, 6, 10 */

#define GUID_RAID      "A19D880F-05FC-4D3B-A006-743F0F84911E"
#define GUID_ESP       "C12A7328-F81F-11D2-BA4B-00A0C93EC93B"
#define GUID_BIOS_GRUB "21686148-6449-6E6F-744E-656564454649"

enum unit_kind {
        UNIT_BIOS_GRUB,
        UNIT_ESP,
        UNIT_FS,          /* a filesystem, copied file by file */
        UNIT_SWAP,
        UNIT_LUKS,        /* LUKS container cloned, filesystem inside copied */
        UNIT_PV,          /* LVM PV (on the partition, or in a LUKS container on it), data moved by pvmove */
};

struct unit {
        enum unit_kind kind;
        const struct blockdev *old;        /* partition (or whole disk) today */
        const struct blockdev *content;    /* what holds the filesystem: old, or the LUKS mapping */
        const struct mount_point *mount;   /* where that filesystem is mounted, or NULL */
        const struct lvm_vg *vg;           /* UNIT_PV */
        const struct lvm_pv *pv;
        const struct blockdev *crypt;      /* UNIT_PV inside LUKS: the dm-crypt mapping that is the PV */
        bool bootable;
        bool integrity;                    /* --integrity: members are dm-integrity mappings */
        char name[33];                     /* array name */

        uint64_t need;                     /* bytes the array must hold */
        uint64_t preferred, min;           /* member partition sizes */
        uint64_t start, size;              /* chosen */
        unsigned partno;
        unsigned level;                    /* RAID level of its array (/boot: 1) */
        uint64_t data_offset, array_size, fs_size, used;
        char md_uuid[36], fs_uuid[37], luks_uuid[37], pv_uuid[39];
};

struct builder {
        const struct facts *facts;
        const struct plan_options *opts;
        char **error;

        const struct mount_point *root_mount;
        const struct blockdev *root_dev;
        const struct blockdev *old_disk;
        const struct blockdev *disks[MAX_DISKS];   /* [0]: the old disk, then the targets */
        const char *disk_names[MAX_DISKS];         /* as the user gave them */
        size_t n_disks;
        enum partition_table_type label;
        unsigned level;
        enum strategy strategy;
        bool lvm_on_luks;                          /* lvm strategy, the PV inside a LUKS container */

        struct unit units[MAX_UNITS];
        size_t n_units;

        json_object *facts_json;
        char *fingerprint;
        struct plan_step *steps;
        size_t n_steps;
        uint64_t copy_bytes;
};

/* bios_grub and ESP partitions stay plain, one per disk; all else is on md. */
static inline bool unit_on_array(const struct unit *u) {
        return u->kind != UNIT_BIOS_GRUB && u->kind != UNIT_ESP;
}

static inline void json_object_putp(json_object **o) {
        json_object_put(*o);
}

static inline void add_str(json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}
static inline void add_u64(json_object *o, const char *k, uint64_t v) {
        json_object_object_add(o, k, json_object_new_int64((int64_t) v));
}
static inline void add_bool(json_object *o, const char *k, bool v) {
        json_object_object_add(o, k, json_object_new_boolean(v));
}

#define PATH_MAX_ID 512
#define DEV_ID(f, d) pb_dev_id((f), (d), (char[PATH_MAX_ID]) {}, PATH_MAX_ID)

/* The identifier written into the plan for d: a stable name, never sdX. */
const char *pb_dev_id(const struct facts *f, const struct blockdev *d, char *buf, size_t size);
/* Whether d is disk, on it, or stacked on it. */
bool pb_is_on(const struct facts *f, const struct blockdev *d, const struct blockdev *disk, unsigned depth);
const struct mount_point *pb_mount_of(const struct facts *f, const struct blockdev *d);
bool pb_is_swap(const struct facts *f, const struct blockdev *d);
int pb_cmp_part_start(const void *a, const void *b);

/* New identifiers derived from the fingerprint and a label naming what
 * they are for, so that a plan is a function of its facts. */
void pb_derive_uuid(const struct builder *b, const char *what, bool upper, char ret[37]);
void pb_derive_md_uuid(const struct builder *b, const char *what, char ret[36]);
void pb_derive_vfat_id(const struct builder *b, const char *what, char ret[10]);
void pb_derive_dos_id(const struct builder *b, const char *what, char ret[11]);
void pb_derive_lvm_uuid(const struct builder *b, const char *what, char ret[39]);

/* plan-emit.c: today's tree, the target layout, the steps. */
json_object *pb_source_node(const struct builder *b, const struct blockdev *d, unsigned depth);
json_object *pb_build_target(struct builder *b);
int pb_build_steps(struct builder *b, json_object *target);
