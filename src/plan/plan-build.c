/* SPDX-License-Identifier: GPL-2.0-or-later */
/* From facts and options to a plan.
 *
 * 1. Refusals: the options, the root's storage stack, then every target
 *    disk.  Nothing is computed for a machine we would refuse.
 * 2. Units: each partition of the old disk becomes one unit of the target
 *    layout: a bios_grub or ESP partition on every disk (not on md), or an
 *    md array holding a copied filesystem, a swap area, a cloned LUKS
 *    container or an LVM PV.  A whole-disk filesystem becomes one array.
 * 3. Layout: every disk, the old one included (it gets the same table once
 *    the system runs from the arrays), receives the same partitions in the
 *    old order, 1 MiB aligned.  Partitions keep their old size when that
 *    fits on the smallest disk; otherwise copied filesystems shrink to what
 *    their data needs plus a margin; when even that does not fit, the
 *    smallest disk is too small by a computed amount.  md 1.2 takes a data
 *    offset computed as mdadm 4 does (super1.c) and passed explicitly, so
 *    the sizes here are the sizes mdadm will use.
 * 4. Steps, in the runbook order (see plans/rootraid-plan.schema.json).
 *
 * Everything new (array, filesystem, LUKS and PV UUIDs, disk ids) is
 * derived from the fingerprint of the facts, so the same machine and
 * options always give the same plan, and a resumed step can recognise its
 * own work by its UUID. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "plan/plan.h"
#include "plan/plan-internal.h"
#include "util/sha256.h"
#include "util/strutil.h"

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
        UNIT_PV,          /* LVM PV, data moved by pvmove */
};

struct unit {
        enum unit_kind kind;
        const struct blockdev *old;        /* partition (or whole disk) today */
        const struct blockdev *content;    /* what holds the filesystem: old, or the LUKS mapping */
        const struct mount_point *mount;   /* where that filesystem is mounted, or NULL */
        const struct lvm_vg *vg;           /* UNIT_PV */
        const struct lvm_pv *pv;
        bool bootable;
        char name[33];                     /* array name */

        uint64_t need;                     /* bytes the array must hold */
        uint64_t preferred, min;           /* member partition sizes */
        uint64_t start, size;              /* chosen */
        unsigned partno;
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

        struct unit units[MAX_UNITS];
        size_t n_units;

        json_object *facts_json;
        char *fingerprint;
        struct plan_step *steps;
        size_t n_steps;
        uint64_t copy_bytes;
};

/* bios_grub and ESP partitions stay plain, one per disk; all else is on md. */
static bool unit_on_array(const struct unit *u) {
        return u->kind != UNIT_BIOS_GRUB && u->kind != UNIT_ESP;
}

static int refuse(struct builder *b, int r, const char *format, ...) _printf_(3, 4);
static int refuse(struct builder *b, int r, const char *format, ...) {
        va_list ap;

        if (b->error) {
                free(*b->error);
                va_start(ap, format);
                if (vasprintf(b->error, format, ap) < 0)
                        *b->error = NULL;
                va_end(ap);
        }
        return r;
}

/* ---- names ---- */

/* The identifier written into the plan: a stable name, never sdX.  A
 * partition without its own by-id link is named as udev names it below its
 * disk's (…-partN). */
static const char *dev_id(const struct facts *f, const struct blockdev *d, char *buf, size_t size) {
        if (!d)
                return NULL;
        if (d->stable_id)
                return d->stable_id;
        if (d->type == BLOCKDEV_PARTITION) {
                const struct blockdev *disk = facts_find_kname(f, d->parent);
                if (disk && disk->stable_id && startswith(disk->stable_id, "/dev/disk/by-id/")) {
                        snprintf(buf, size, "%s-part%u", disk->stable_id, d->partno);
                        return buf;
                }
        }
        if (d->dm_name) {
                snprintf(buf, size, "/dev/mapper/%s", d->dm_name);
                return buf;
        }
        return d->devnode;
}

#define DEV_ID(f, d) dev_id((f), (d), (char[PATH_MAX_ID]) {}, PATH_MAX_ID)
#define PATH_MAX_ID 512

/* True for names the kernel hands out in probe order. */
static bool unstable_name(const char *s) {
        const char *k = s ? startswith(s, "/dev/") : NULL;
        if (!k)
                return true;
        return startswith(k, "sd") || startswith(k, "hd") || startswith(k, "vd") ||
               startswith(k, "xvd") || startswith(k, "nvme") || startswith(k, "mmcblk");
}

/* ---- derived identifiers ---- */

static void derive(const struct builder *b, const char *what, uint8_t ret[SHA256_DIGEST_SIZE]) {
        struct sha256_ctx c;

        sha256_init(&c);
        sha256_update(&c, b->fingerprint, strlen(b->fingerprint));
        sha256_update(&c, "\n", 1);
        sha256_update(&c, what, strlen(what));
        sha256_final(&c, ret);
}

/* RFC 4122 version 4 layout (random-looking, from the hash). */
static void derive_uuid(const struct builder *b, const char *what, bool upper, char ret[37]) {
        uint8_t d[SHA256_DIGEST_SIZE];

        derive(b, what, d);
        d[6] = (d[6] & 0x0f) | 0x40;
        d[8] = (d[8] & 0x3f) | 0x80;
        snprintf(ret, 37, upper ?
                 "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X" :
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
}

static void derive_md_uuid(const struct builder *b, const char *what, char ret[36]) {
        uint8_t d[SHA256_DIGEST_SIZE];

        derive(b, what, d);
        snprintf(ret, 36, "%02x%02x%02x%02x:%02x%02x%02x%02x:%02x%02x%02x%02x:%02x%02x%02x%02x",
                 d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
}

static void derive_vfat_id(const struct builder *b, const char *what, char ret[10]) {
        uint8_t d[SHA256_DIGEST_SIZE];

        derive(b, what, d);
        snprintf(ret, 10, "%02X%02X-%02X%02X", d[0], d[1], d[2], d[3]);
}

static void derive_dos_id(const struct builder *b, const char *what, char ret[11]) {
        uint8_t d[SHA256_DIGEST_SIZE];

        derive(b, what, d);
        /* A zero id means "none" to some tools. */
        snprintf(ret, 11, "0x%02x%02x%02x%02x", d[0] | 1, d[1], d[2], d[3]);
}

/* LVM's format: 32 characters of [A-Za-z0-9] grouped 6-4-4-4-4-4-6. */
static void derive_lvm_uuid(const struct builder *b, const char *what, char ret[39]) {
        static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        static const unsigned groups[] = { 6, 4, 4, 4, 4, 4, 6 };
        uint8_t d[SHA256_DIGEST_SIZE];
        size_t o = 0, i = 0;

        derive(b, what, d);
        for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
                if (g)
                        ret[o++] = '-';
                for (unsigned k = 0; k < groups[g]; k++)
                        ret[o++] = chars[d[i++] % 62];
        }
        ret[o] = 0;
}

/* ---- md geometry ---- */

/* The data offset mdadm 4 chooses for metadata 1.2 on a member of devsize
 * bytes (super1.c, validate_geometry1 and choose_bm_space): room for the
 * superblock, the internal bitmap and up to 128 MiB of reshape headroom
 * (about 0.1% of the device), rounded up to 1 MiB.  We pass it explicitly
 * with --data-offset, so the plan's sizes hold whatever mdadm version runs
 * the step. */
uint64_t plan_md_data_offset(uint64_t devsize, uint64_t chunk) {
        uint64_t sectors = devsize / 512, bmspace, headroom = 128 * 1024 * 2, off;
        uint64_t chunk_kib = chunk / 1024;

        if (sectors < 64 * 2)
                bmspace = 0;
        else if (sectors - 64 * 2 >= UINT64_C(200) * 1024 * 1024 * 2)
                bmspace = 128 * 2;
        else if (sectors - 4 * 2 > UINT64_C(8) * 1024 * 1024 * 2)
                bmspace = 64 * 2;
        else
                bmspace = 4 * 2;
        while ((headroom << 10) > sectors && (chunk_kib == 0 || headroom / 2 >= chunk_kib * 2 * 2))
                headroom >>= 1;
        off = 12 * 2 + bmspace + headroom;
        off = DIV_ROUND_UP(off, 2048) * 2048;
        return off * 512;
}

static unsigned data_disks(unsigned level, unsigned n) {
        switch (level) {
        case 5:  return n - 1;
        case 6:  return n - 2;
        case 10: return n;      /* halved by the caller: two copies (n2) */
        default: return 1;
        }
}

/* Usable bytes of an array whose members are member bytes. */
uint64_t plan_md_array_size(unsigned level, unsigned n, uint64_t member) {
        uint64_t chunk = level == 1 ? 0 : MD_CHUNK;
        uint64_t off = plan_md_data_offset(member, chunk);
        if (member <= off)
                return 0;
        /* Component size rounded down: to the chunk, or to 1 MiB for RAID 1
         * (mdadm rounds to less; 1 MiB keeps the plan conservative). */
        uint64_t comp = (member - off) / MAX(chunk, MIB) * MAX(chunk, MIB);
        uint64_t size = comp * data_disks(level, n);
        return level == 10 ? size / 2 / MAX(chunk, 1) * MAX(chunk, 1) : size;
}

/* Smallest member size (a multiple of 1 MiB) giving an array of at least
 * need bytes. */
static uint64_t member_for(unsigned level, unsigned n, uint64_t need) {
        uint64_t dd = data_disks(level, n), per = level == 10 ? DIV_ROUND_UP(need * 2, dd) : DIV_ROUND_UP(need, dd);
        uint64_t m = DIV_ROUND_UP(per, MIB) * MIB;
        m += plan_md_data_offset(m, level == 1 ? 0 : MD_CHUNK);
        while (plan_md_array_size(level, n, m) < need)
                m += MIB;
        return m;
}

/* ---- facts for the fingerprint ---- */

static bool is_on(const struct facts *f, const struct blockdev *d, const struct blockdev *disk, unsigned depth) {
        if (!d || !disk || depth > 16)
                return false;
        if (d == disk)
                return true;
        if (d->type == BLOCKDEV_PARTITION && streq_ptr(d->parent, disk->kname))
                return true;
        for (char **s = d->slaves; s && *s; s++)
                if (is_on(f, facts_find_kname(f, *s), disk, depth + 1))
                        return true;
        if (d->type == BLOCKDEV_PARTITION)
                return is_on(f, facts_find_kname(f, d->parent), disk, depth + 1);
        return false;
}

static json_object *jstr(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

static int cmp_json_id(const void *a, const void *b) {
        json_object *x = *(json_object *const *) a, *y = *(json_object *const *) b, *xi, *yi;
        json_object_object_get_ex(x, "id", &xi);
        json_object_object_get_ex(y, "id", &yi);
        return strcmp(json_object_get_string(xi), json_object_get_string(yi));
}

static bool involved(const struct facts *f, const struct blockdev *d, const struct blockdev *const *disks, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (is_on(f, d, disks[i], 0))
                        return true;
        return false;
}

/* The facts a plan depends on, for the disks given (disks[0] the old one):
 * every device on them and stacked on them, the mounts and swaps on them,
 * the boot setup, and the LVM/LUKS identities under the root.  Sizes in
 * use are left out: they change all the time and the copy re-reads them. */
int plan_facts_json(const struct facts *f, const struct blockdev *const *disks, size_t n_disks, json_object **ret) {
        json_object *o = json_object_new_object(), *devs = json_object_new_array(), *mounts = json_object_new_array(),
                *swaps = json_object_new_array(), *lvm = json_object_new_array(), *luks = json_object_new_array();
        char buf[PATH_MAX_ID];

        if (!o || !devs || !mounts || !swaps || !lvm || !luks) {
                json_object_put(o); json_object_put(devs); json_object_put(mounts);
                json_object_put(swaps); json_object_put(lvm); json_object_put(luks);
                return -ENOMEM;
        }
        json_object_object_add(o, "firmware", jstr(firmware_to_string(f->firmware)));
        json_object_object_add(o, "boot_loader", jstr(boot_loader_to_string(f->boot_loader)));
        json_object_object_add(o, "initramfs", jstr(initramfs_generator_to_string(f->initramfs)));

        for (size_t i = 0; i < f->n_devices; i++) {
                const struct blockdev *d = &f->devices[i];
                if (!involved(f, d, disks, n_disks))
                        continue;
                json_object *e = json_object_new_object(), *sigs = json_object_new_array(), *holders = json_object_new_array();
                json_object_object_add(e, "id", jstr(dev_id(f, d, buf, sizeof buf)));
                json_object_object_add(e, "type", jstr(blockdev_type_to_string(d->type)));
                json_object_object_add(e, "size", json_object_new_int64((int64_t) d->size));
                json_object_object_add(e, "logical_sector_size", json_object_new_int64(d->logical_sector_size));
                json_object_object_add(e, "physical_sector_size", json_object_new_int64(d->physical_sector_size));
                json_object_object_add(e, "table", jstr(partition_table_type_to_string(d->table ? d->table->type : PARTITION_TABLE_NONE)));
                json_object_object_add(e, "table_id", jstr(d->table ? d->table->id : NULL));
                json_object_object_add(e, "fstype", jstr(d->fstype));
                json_object_object_add(e, "fs_uuid", jstr(d->fs_uuid));
                for (size_t s = 0; s < d->n_signatures; s++) {
                        char sig[256];
                        snprintf(sig, sizeof sig, "%s@%" PRIu64, strna(d->signatures[s].type), d->signatures[s].offset);
                        json_object_array_add(sigs, json_object_new_string(sig));
                }
                json_object_object_add(e, "signatures", sigs);
                for (char **h = d->holders; h && *h; h++) {
                        const struct blockdev *hd = facts_find_kname(f, *h);
                        char hb[PATH_MAX_ID];
                        const char *hid = hd ? dev_id(f, hd, hb, sizeof hb) : NULL;
                        json_object_array_add(holders, json_object_new_string(hid ? hid : *h));
                }
                json_object_object_add(e, "holders", holders);
                json_object_array_add(devs, e);
        }
        /* Sorted by id: the order inspect enumerates in is not a fact. */
        json_object_array_sort(devs, cmp_json_id);
        json_object_object_add(o, "devices", devs);

        for (size_t i = 0; i < f->n_mounts; i++) {
                const struct mount_point *m = &f->mounts[i];
                const struct blockdev *d = m->kname ? facts_find_kname(f, m->kname) : NULL;
                bool boot = streq_ptr(m->target, "/") || streq_ptr(m->target, "/boot") || streq_ptr(m->target, "/boot/efi");
                if (!boot && !(d && involved(f, d, disks, n_disks)))
                        continue;
                json_object *e = json_object_new_object();
                json_object_object_add(e, "target", jstr(m->target));
                json_object_object_add(e, "device", jstr(d ? dev_id(f, d, buf, sizeof buf) : m->source));
                json_object_object_add(e, "fstype", jstr(strempty(m->fstype)));
                json_object_object_add(e, "fs_root", jstr(m->fs_root ? m->fs_root : "/"));
                json_object_array_add(mounts, e);
        }
        json_object_object_add(o, "mounts", mounts);

        for (size_t i = 0; i < f->n_swaps; i++) {
                const struct swap_area *s = &f->swaps[i];
                const struct blockdev *d = s->kname ? facts_find_kname(f, s->kname) : NULL;
                json_object *e = json_object_new_object();
                json_object_object_add(e, "device", jstr(d ? dev_id(f, d, buf, sizeof buf) : strempty(s->source)));
                json_object_object_add(e, "size", json_object_new_int64((int64_t) s->size));
                json_object_array_add(swaps, e);
        }
        json_object_object_add(o, "swaps", swaps);

        for (size_t i = 0; i < f->n_vgs; i++) {
                const struct lvm_vg *vg = &f->vgs[i];
                json_object *pvs = json_object_new_array();
                bool relevant = false;
                for (size_t j = 0; j < f->n_pvs; j++) {
                        const struct lvm_pv *pv = &f->pvs[j];
                        if (!streq_ptr(pv->vg, vg->name))
                                continue;
                        const struct blockdev *d = facts_find_kname(f, pv->kname);
                        if (d && involved(f, d, disks, n_disks))
                                relevant = true;
                        json_object *e = json_object_new_object();
                        json_object_object_add(e, "device", jstr(d ? dev_id(f, d, buf, sizeof buf) : strempty(pv->name)));
                        json_object_object_add(e, "uuid", jstr(strempty(pv->uuid)));
                        json_object_array_add(pvs, e);
                }
                if (!relevant) {
                        json_object_put(pvs);
                        continue;
                }
                json_object *e = json_object_new_object();
                json_object_object_add(e, "name", jstr(strempty(vg->name)));
                json_object_object_add(e, "uuid", jstr(strempty(vg->uuid)));
                json_object_object_add(e, "pvs", pvs);
                json_object_array_add(lvm, e);
        }
        json_object_object_add(o, "lvm", lvm);

        for (size_t i = 0; i < f->n_devices; i++) {
                const struct blockdev *d = &f->devices[i];
                if (!d->luks || !involved(f, d, disks, n_disks))
                        continue;
                json_object *e = json_object_new_object();
                json_object_object_add(e, "device", jstr(dev_id(f, d, buf, sizeof buf)));
                json_object_object_add(e, "uuid", jstr(strempty(d->luks->uuid)));
                json_object_object_add(e, "version", json_object_new_int(d->luks->version));
                json_object_array_add(luks, e);
        }
        json_object_object_add(o, "luks", luks);

        *ret = o;
        return 0;
}

/* ---- refusals ---- */

static const char *disk_label(const struct builder *b, size_t i, char *buf, size_t size) {
        char idb[PATH_MAX_ID];
        const char *id = dev_id(b->facts, b->disks[i], idb, sizeof idb);
        if (b->disk_names[i] && !streq_ptr(b->disk_names[i], id))
                snprintf(buf, size, "%s (%s)", b->disk_names[i], strna(id));
        else
                snprintf(buf, size, "%s", strna(id));
        return buf;
}

static int check_root(struct builder *b) {
        const struct facts *f = b->facts;
        const struct mount_point *m = facts_find_mount(f, "/");
        const struct blockdev *d;

        if (!m)
                return refuse(b, -EOPNOTSUPP, "No filesystem is mounted at /: cannot tell what to migrate.");
        b->root_mount = m;
        if (m->fstype && (startswith(m->fstype, "nfs") || streq(m->fstype, "cifs") || streq(m->fstype, "smb3")))
                return refuse(b, -EOPNOTSUPP, "The root filesystem is %s from %s, a network filesystem: there is no local disk to mirror.",
                              m->fstype, strna(m->source));
        if (streq_ptr(m->fstype, "zfs"))
                return refuse(b, -EOPNOTSUPP, "The root filesystem is ZFS (%s): ZFS has its own mirroring (zpool attach); rootraid does not put ZFS on md.",
                              strna(m->source));
        d = m->kname ? facts_find_kname(f, m->kname) : NULL;
        if (!d)
                return refuse(b, -EOPNOTSUPP, "The root filesystem (%s on %s) is not on a block device rootraid can see.",
                              strna(m->fstype), strna(m->source));
        if (streq_ptr(m->fstype, "btrfs") && m->fs_root && !streq(m->fs_root, "/"))
                return refuse(b, -EOPNOTSUPP, "The root filesystem is btrfs subvolume %s on %s: copying would lose the subvolume layout and snapshots; "
                              "use btrfs's own RAID 1 (btrfs device add; btrfs balance -dconvert=raid1 -mconvert=raid1) instead.",
                              m->fs_root, strna(m->source));
        b->root_dev = d;

        /* Walk down the stack from the root device. */
        const struct blockdev *cur = d;
        for (unsigned depth = 0; cur && depth < 16; depth++) {
                if (cur->type == BLOCKDEV_MD)
                        return refuse(b, -EALREADY, "The root filesystem is already on md array /dev/%s (%s): nothing to migrate. "
                                      "To add a disk to it, use mdadm --add.", cur->kname, strna(cur->md ? cur->md->level : NULL));
                if (cur->type == BLOCKDEV_DM_OTHER)
                        return refuse(b, -EOPNOTSUPP, "The root is on device-mapper device %s (%s), which is not LUKS or LVM "
                                      "(multipath or another target): not supported.", strna(cur->dm_name), strna(cur->dm_uuid));
                if (cur->type == BLOCKDEV_OTHER)
                        return refuse(b, -EOPNOTSUPP, "The root is on %s, a kind of block device rootraid does not know.", cur->kname);
                if (cur->type == BLOCKDEV_DISK || cur->type == BLOCKDEV_LOOP || cur->type == BLOCKDEV_PARTITION)
                        break;
                if (!cur->slaves || !cur->slaves[0])
                        return refuse(b, -EOPNOTSUPP, "Cannot find the device under %s.", cur->kname);
                if (cur->slaves[1])
                        return refuse(b, -EOPNOTSUPP, "The root's %s spans several devices (%s, %s, ...): only a single disk can be migrated.",
                                      cur->kname, cur->slaves[0], cur->slaves[1]);
                cur = facts_find_kname(f, cur->slaves[0]);
        }

        if (d->type == BLOCKDEV_CRYPT) {
                const struct blockdev *under = d->slaves ? facts_find_kname(f, d->slaves[0]) : NULL;
                if (!under || under->type != BLOCKDEV_PARTITION)
                        return refuse(b, -EOPNOTSUPP, "The root's LUKS container is on %s, not on a partition: not supported.",
                                      under ? under->kname : "an unknown device");
                b->strategy = STRATEGY_LUKS;
        } else if (d->type == BLOCKDEV_LVM) {
                const struct blockdev *under = d->slaves ? facts_find_kname(f, d->slaves[0]) : NULL;
                if (under && under->type == BLOCKDEV_CRYPT)
                        return refuse(b, -EOPNOTSUPP, "The root is on LVM on LUKS (%s): not supported yet.", strna(under->dm_name));
                if (!under || under->type != BLOCKDEV_PARTITION)
                        return refuse(b, -EOPNOTSUPP, "The root's volume group is on %s, not on partitions: not supported.",
                                      under ? under->kname : "an unknown device");
                b->strategy = STRATEGY_LVM;
        } else if (d->type == BLOCKDEV_PARTITION || d->type == BLOCKDEV_DISK || d->type == BLOCKDEV_LOOP)
                b->strategy = STRATEGY_COPY;
        else
                return refuse(b, -EOPNOTSUPP, "The root is on %s (%s), which rootraid does not support.",
                              d->kname, strna(blockdev_type_to_string(d->type)));

        b->old_disk = facts_disk_of(f, d);
        if (!b->old_disk)
                return refuse(b, -EOPNOTSUPP, "Cannot find the disk the root filesystem is on.");
        b->disks[0] = b->old_disk;
        b->n_disks = 1;

        if (f->boot_loader != BOOT_LOADER_GRUB_PC && f->boot_loader != BOOT_LOADER_GRUB_EFI)
                return refuse(b, -EOPNOTSUPP, "The boot loader is %s: rootraid installs GRUB (grub-pc or grub-efi) on every disk and supports only GRUB.",
                              strna(boot_loader_to_string(f->boot_loader)));
        if ((f->firmware == FIRMWARE_UEFI) != (f->boot_loader == BOOT_LOADER_GRUB_EFI))
                return refuse(b, -EOPNOTSUPP, "The machine booted with %s firmware but uses %s: fix the boot setup first.",
                              strna(firmware_to_string(f->firmware)), strna(boot_loader_to_string(f->boot_loader)));
        if (f->initramfs == INITRAMFS_NONE)
                return refuse(b, -EOPNOTSUPP, "No initramfs generator (initramfs-tools or dracut) is installed: the root on md needs one to assemble the arrays.");
        if (!b->old_disk->table && f->firmware == FIRMWARE_UEFI)
                return refuse(b, -EOPNOTSUPP, "The root filesystem fills %s without a partition table, and the machine boots with UEFI: "
                              "the ESP is elsewhere, which rootraid cannot mirror.", DEV_ID(f, b->old_disk));
        return 0;
}

static int check_target(struct builder *b, size_t i) {
        const struct facts *f = b->facts;
        const struct blockdev *t = b->disks[i];
        char name[PATH_MAX_ID * 2];

        disk_label(b, i, name, sizeof name);
        if (t->type != BLOCKDEV_DISK && t->type != BLOCKDEV_LOOP)
                return refuse(b, -EINVAL, "%s is a %s, not a whole disk: name the disk itself.",
                              name, strna(blockdev_type_to_string(t->type)));
        if (t == b->old_disk || is_on(f, b->root_dev, t, 0))
                return refuse(b, -EBUSY, "%s is the disk the running system is on (it holds the root filesystem): "
                              "name the new, empty disks only; the current disk joins the arrays at the end by itself.", name);
        for (size_t j = 0; j < f->n_mounts; j++) {
                const struct mount_point *m = &f->mounts[j];
                const struct blockdev *d = m->kname ? facts_find_kname(f, m->kname) : NULL;
                if (d && is_on(f, d, t, 0))
                        return refuse(b, -EBUSY, "%s holds the filesystem mounted at %s (%s): unmount it (and remove it from fstab) before using this disk.",
                                      name, strna(m->target), d->kname);
        }
        for (size_t j = 0; j < f->n_swaps; j++) {
                const struct blockdev *d = f->swaps[j].kname ? facts_find_kname(f, f->swaps[j].kname) : NULL;
                if (d && is_on(f, d, t, 0))
                        return refuse(b, -EBUSY, "%s holds active swap %s: swapoff it (and remove it from fstab) before using this disk.",
                                      name, strna(f->swaps[j].source));
        }
        for (size_t j = 0; j < f->n_devices; j++) {
                const struct blockdev *d = &f->devices[j];
                if (!(d == t || (d->type == BLOCKDEV_PARTITION && streq_ptr(d->parent, t->kname))))
                        continue;
                if (d->holders && d->holders[0])
                        return refuse(b, -EBUSY, "%s is in use: %s is held by %s (an md array, LUKS mapping or LVM volume); stop it before using this disk.",
                                      name, d->kname, d->holders[0]);
        }
        /* A PV without allocated extents has no holders, but its VG still
         * counts on it. */
        for (size_t j = 0; j < f->n_pvs; j++) {
                const struct blockdev *d = f->pvs[j].kname ? facts_find_kname(f, f->pvs[j].kname) : NULL;
                if (d && is_on(f, d, t, 0))
                        return refuse(b, -EBUSY, "%s is in use: %s is a physical volume of volume group %s; vgreduce it first.",
                                      name, d->kname, strna(f->pvs[j].vg));
        }
        if (t->read_only)
                return refuse(b, -EBUSY, "%s is read-only.", name);

        if (b->opts->wipe)
                return 0;
        /* Name every signature, so the administrator knows what --wipe
         * would destroy. */
        _cleanup_free_ char *list = NULL;
        size_t list_size = 0, n = 0;
        FILE *l = open_memstream(&list, &list_size);
        if (!l)
                return -ENOMEM;
        for (size_t j = 0; j < f->n_devices; j++) {
                const struct blockdev *d = &f->devices[j];
                if (!(d == t || (d->type == BLOCKDEV_PARTITION && streq_ptr(d->parent, t->kname))))
                        continue;
                for (size_t s = 0; s < d->n_signatures; s++)
                        fprintf(l, "%s%s%s%s%s", n++ ? ", " : "", strna(d->signatures[s].type),
                                d != t ? " (on " : "", d != t ? d->kname : "", d != t ? ")" : "");
                if (d->n_signatures == 0 && (d->fstype || (d == t && d->table)))
                        fprintf(l, "%s%s", n++ ? ", " : "", d->fstype ? d->fstype : "a partition table");
        }
        if (fclose(l) != 0)
                return -ENOMEM;
        if (n > 0)
                return refuse(b, -EEXIST, "%s is not blank, it carries %s: %s. Check it holds nothing you need, then plan again with --wipe.",
                              name, n == 1 ? "a signature" : "signatures", list);
        return 0;
}

static int check_options(struct builder *b) {
        const struct plan_options *o = b->opts;
        const struct facts *f = b->facts;
        size_t n = strv_length(o->disks);

        b->level = o->level ? o->level : 1;
        if (b->level != 1 && b->level != 5 && b->level != 6 && b->level != 10)
                return refuse(b, -EINVAL, "RAID level %u is not supported: use 1, 5, 6 or 10.", b->level);
        if (n == 0)
                return refuse(b, -EINVAL, "No target disk given: name each new disk with --disk.");
        if (n + 1 > MAX_DISKS)
                return refuse(b, -EINVAL, "Too many disks: at most %d.", MAX_DISKS - 1);
        for (size_t i = 0; i < n; i++) {
                const struct blockdev *d = facts_find_device(f, o->disks[i]);
                if (!d)
                        return refuse(b, -ENOENT, "Disk %s does not exist (or is not a block device).", o->disks[i]);
                for (size_t j = 0; j < i; j++)
                        if (facts_find_device(f, o->disks[j]) == d)
                                return refuse(b, -EINVAL, "Disk %s is named twice (as %s and %s): name each disk once.",
                                              DEV_ID(f, d), o->disks[j], o->disks[i]);
        }
        return 0;
}

static int check_count(struct builder *b) {
        static const unsigned min_disks[11] = { [1] = 2, [5] = 3, [6] = 4, [10] = 4 };
        size_t total = strv_length(b->opts->disks) + 1;

        if (total < min_disks[b->level])
                return refuse(b, -EINVAL, "RAID %u needs at least %u disks counting the current one; %zu given (%zu new + the current disk): add %zu more with --disk.",
                              b->level, min_disks[b->level], total, total - 1, min_disks[b->level] - total);
        return 0;
}

/* ---- units ---- */

static const struct mount_point *mount_of(const struct facts *f, const struct blockdev *d) {
        const struct mount_point *best = NULL;
        for (size_t i = 0; i < f->n_mounts; i++) {
                const struct mount_point *m = &f->mounts[i];
                if (!streq_ptr(m->kname, d->kname))
                        continue;
                /* The shortest path wins: "/" over a bind mount of it elsewhere. */
                if (!best || strlen(m->target) < strlen(best->target))
                        best = m;
        }
        return best;
}

static bool is_swap(const struct facts *f, const struct blockdev *d) {
        for (size_t i = 0; i < f->n_swaps; i++)
                if (streq_ptr(f->swaps[i].kname, d->kname))
                        return true;
        return streq_ptr(d->fstype, "swap");
}

static void unit_name(struct builder *b, struct unit *u, const char *base) {
        char n[33];
        size_t o = 0;

        for (const char *p = base; *p && o < 24; p++)
                n[o++] = (char) ((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' ? *p :
                                 *p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : '-');
        n[o] = 0;
        if (!*n)
                strcpy(n, "data");
        /* Unique among the units so far. */
        snprintf(u->name, sizeof u->name, "%s", n);
        for (unsigned k = 2;; k++) {
                bool clash = false;
                for (size_t i = 0; i < b->n_units; i++)
                        if (&b->units[i] != u && streq(b->units[i].name, u->name))
                                clash = true;
                if (!clash)
                        break;
                snprintf(u->name, sizeof u->name, "%s%u", n, k);
        }
}

static uint64_t fs_need(const struct blockdev *content, uint64_t fallback) {
        uint64_t used = content->fs_used, size = content->fs_size ? content->fs_size : fallback;
        if (used == 0)
                return size;    /* unknown: keep the whole size */
        /* Data plus 10% plus 256 MiB for the journal and metadata of a new
         * filesystem, but never more than the old filesystem's size: what
         * fitted there fits in the same size again. */
        return MIN(used + used / 10 + 256 * MIB, MAX(size, used));
}

static bool supported_fs(const char *t) {
        static const char *const ok[] = { "ext2", "ext3", "ext4", "xfs", "btrfs", "vfat" };
        for (size_t i = 0; t && i < ELEMENTSOF(ok); i++)
                if (streq(t, ok[i]))
                        return true;
        return false;
}

static int add_unit(struct builder *b, const struct blockdev *p) {
        const struct facts *f = b->facts;
        const struct partition *pe = NULL;
        struct unit *u;

        if (b->n_units >= MAX_UNITS)
                return refuse(b, -EOPNOTSUPP, "Too many partitions on %s.", DEV_ID(f, b->old_disk));
        if (p->type == BLOCKDEV_PARTITION && b->old_disk->table)
                for (size_t i = 0; i < b->old_disk->table->n_partitions; i++)
                        if (b->old_disk->table->partitions[i].partno == p->partno)
                                pe = &b->old_disk->table->partitions[i];

        u = &b->units[b->n_units];
        *u = (struct unit) { .old = p, .content = p, .bootable = pe && pe->bootable };
        u->preferred = p->size / MIB * MIB;
        const struct mount_point *m = mount_of(f, p);

        if (pe && pe->role == PARTITION_ROLE_EXTENDED)
                return 0;
        if (pe && pe->role == PARTITION_ROLE_BIOS_GRUB) {
                u->kind = UNIT_BIOS_GRUB;
                u->preferred = u->min = MAX(DIV_ROUND_UP(p->size, MIB) * MIB, MIB);
                snprintf(u->name, sizeof u->name, "bios-grub");
        } else if ((pe && pe->role == PARTITION_ROLE_ESP) || (m && streq(m->target, "/boot/efi"))) {
                u->kind = UNIT_ESP;
                u->mount = m;
                u->preferred = u->min = DIV_ROUND_UP(p->size, MIB) * MIB;
                u->used = p->fs_used;
                snprintf(u->name, sizeof u->name, "esp");
        } else if (m) {
                if (m->fstype && (streq(m->fstype, "btrfs") && m->fs_root && !streq(m->fs_root, "/")))
                        return refuse(b, -EOPNOTSUPP, "%s is mounted at %s as btrfs subvolume %s: btrfs subvolumes are not supported.",
                                      p->kname, m->target, m->fs_root);
                if (!supported_fs(p->fstype))
                        return refuse(b, -EOPNOTSUPP, "%s is mounted at %s with filesystem type %s, which rootraid cannot re-create (ext2/3/4, xfs, btrfs, vfat).",
                                      DEV_ID(f, p), m->target, strna(p->fstype));
                u->kind = UNIT_FS;
                u->mount = m;
                u->used = p->fs_used;
                u->need = fs_need(p, p->size);
                unit_name(b, u, streq(m->target, "/") ? "root" : m->target + 1);
        } else if (is_swap(f, p)) {
                u->kind = UNIT_SWAP;
                u->need = p->size - MIN(p->size, 2 * MIB);
                unit_name(b, u, "swap");
        } else if (streq_ptr(p->fstype, "crypto_LUKS")) {
                const struct blockdev *map = p->holders && p->holders[0] ? facts_find_kname(f, p->holders[0]) : NULL;
                if (!map || map != b->root_dev || !p->luks)
                        return refuse(b, -EOPNOTSUPP, "%s is a LUKS container that does not hold the root filesystem: only a LUKS root is supported.",
                                      DEV_ID(f, p));
                if (!supported_fs(map->fstype))
                        return refuse(b, -EOPNOTSUPP, "The LUKS container %s holds %s, which rootraid cannot re-create (ext2/3/4, xfs, btrfs).",
                                      DEV_ID(f, p), strna(map->fstype));
                u->kind = UNIT_LUKS;
                u->content = map;
                u->mount = b->root_mount;
                u->used = map->fs_used;
                u->need = p->luks->data_offset + fs_need(map, p->size - MIN(p->size, p->luks->data_offset));
                unit_name(b, u, "root");
        } else if (streq_ptr(p->fstype, "LVM2_member")) {
                const struct lvm_pv *pv = NULL;
                for (size_t i = 0; i < f->n_pvs; i++)
                        if (streq_ptr(f->pvs[i].kname, p->kname))
                                pv = &f->pvs[i];
                const struct lvm_lv *root_lv = NULL;
                for (size_t i = 0; i < f->n_lvs; i++)
                        if (streq_ptr(f->lvs[i].kname, b->root_dev->kname))
                                root_lv = &f->lvs[i];
                if (!pv || !root_lv || !streq_ptr(pv->vg, root_lv->vg))
                        return refuse(b, -EOPNOTSUPP, "%s is an LVM physical volume of a volume group other than the root's: not supported.",
                                      DEV_ID(f, p));
                for (size_t i = 0; i < f->n_vgs; i++)
                        if (streq_ptr(f->vgs[i].name, pv->vg))
                                u->vg = &f->vgs[i];
                if (!u->vg)
                        return refuse(b, -EOPNOTSUPP, "Volume group %s of %s is not in the LVM report.", strna(pv->vg), p->kname);
                u->kind = UNIT_PV;
                u->pv = pv;
                uint64_t ext = u->vg->extent_size ? u->vg->extent_size : 4 * MIB;
                /* Allocated extents plus the PV's own metadata area (1 MiB). */
                u->need = DIV_ROUND_UP(pv->size - MIN(pv->size, pv->free), ext) * ext + ext + MIB;
                u->used = pv->size - MIN(pv->size, pv->free);
                unit_name(b, u, "pv");
        } else if (p->holders && p->holders[0]) {
                return refuse(b, -EOPNOTSUPP, "%s on the current disk is held by %s, which rootraid cannot migrate.", p->kname, p->holders[0]);
        } else if (p->fstype) {
                return refuse(b, -EOPNOTSUPP, "%s on the current disk holds an unmounted %s filesystem (UUID %s): it would be lost when the disk joins the arrays. "
                              "Mount it so that it is migrated, or move its data away and delete the partition.",
                              DEV_ID(f, p), p->fstype, strna(p->fs_uuid));
        } else
                return 0; /* empty partition: nothing to keep */

        u->min = u->min ? u->min : u->preferred;
        b->n_units++;
        return 0;
}

static int cmp_part_start(const void *a, const void *b) {
        const struct blockdev *x = *(const struct blockdev *const *) a, *y = *(const struct blockdev *const *) b;
        return x->partno < y->partno ? -1 : x->partno > y->partno;
}

static int collect_units(struct builder *b) {
        const struct facts *f = b->facts;
        const struct blockdev *parts[MAX_UNITS * 2];
        size_t n = 0;
        int r;

        if (!b->old_disk->table) {
                /* A whole-disk filesystem: one array, on a new partition. */
                if (b->root_dev != b->old_disk)
                        return refuse(b, -EOPNOTSUPP, "%s has no partition table but the root is not on it directly.", DEV_ID(f, b->old_disk));
                r = add_unit(b, b->old_disk);
                if (r < 0)
                        return r;
                b->label = f->firmware == FIRMWARE_UEFI ? PARTITION_TABLE_GPT : PARTITION_TABLE_DOS;
                b->units[0].bootable = true;
                return 0;
        }
        b->label = b->old_disk->table->type;

        for (size_t i = 0; i < f->n_devices && n < ELEMENTSOF(parts); i++)
                if (f->devices[i].type == BLOCKDEV_PARTITION && streq_ptr(f->devices[i].parent, b->old_disk->kname))
                        parts[n++] = &f->devices[i];
        qsort(parts, n, sizeof(parts[0]), cmp_part_start);
        for (size_t i = 0; i < n; i++) {
                r = add_unit(b, parts[i]);
                if (r < 0)
                        return r;
        }

        bool have_root = false, have_esp = false, have_bios_grub = false;
        for (size_t i = 0; i < b->n_units; i++) {
                have_root = have_root || (b->units[i].mount && streq(b->units[i].mount->target, "/")) || b->units[i].kind == UNIT_PV;
                have_esp = have_esp || b->units[i].kind == UNIT_ESP;
                have_bios_grub = have_bios_grub || b->units[i].kind == UNIT_BIOS_GRUB;
        }
        if (!have_root)
                return refuse(b, -EOPNOTSUPP, "Cannot find the partition holding the root filesystem on %s.", DEV_ID(f, b->old_disk));
        if (f->firmware == FIRMWARE_UEFI && !have_esp)
                return refuse(b, -EOPNOTSUPP, "The machine boots with UEFI but %s has no EFI system partition: the ESP is elsewhere, which rootraid cannot mirror.",
                              DEV_ID(f, b->old_disk));
        if (f->firmware == FIRMWARE_BIOS && b->label == PARTITION_TABLE_GPT && !have_bios_grub)
                return refuse(b, -EOPNOTSUPP, "%s has a GPT but no BIOS boot partition (bios_grub): GRUB cannot be embedded on the new disks. "
                              "Add a 1 MiB bios_grub partition first.", DEV_ID(f, b->old_disk));
        if (b->label == PARTITION_TABLE_DOS && b->n_units > 4)
                return refuse(b, -EOPNOTSUPP, "The layout needs %zu partitions, more than the 4 primary partitions of an MBR disk.", b->n_units);
        return 0;
}

/* ---- layout ---- */

static uint64_t disk_avail(const struct builder *b, const struct blockdev *d) {
        /* From 1 MiB to the last whole MiB, leaving GPT's backup header
         * (33 sectors) room at the end. */
        uint64_t end = d->size - MIN(d->size, b->label == PARTITION_TABLE_GPT ? 33 * (uint64_t) MAX(d->logical_sector_size, 512u) : 0);
        end = end / MIB * MIB;
        return end > MIB ? end - MIB : 0;
}

static int layout(struct builder *b) {
        unsigned n = (unsigned) b->n_disks;
        uint64_t avail = UINT64_MAX, sum_pref = 0, sum_min = 0;
        size_t smallest = 0;
        char buf[PATH_MAX_ID * 2];

        for (size_t i = 0; i < b->n_disks; i++) {
                uint64_t a = disk_avail(b, b->disks[i]);
                if (a < avail) {
                        avail = a;
                        smallest = i;
                }
        }

        for (size_t i = 0; i < b->n_units; i++) {
                struct unit *u = &b->units[i];
                if (!unit_on_array(u))
                        continue;
                uint64_t m = member_for(b->level, n, u->need);
                if (b->old_disk == u->old)      /* whole disk: as large as fits */
                        u->preferred = avail;
                u->min = u->kind == UNIT_FS || u->kind == UNIT_LUKS ? m : MAX(m, u->kind == UNIT_SWAP ? u->preferred : m);
                u->preferred = MAX(u->preferred, u->min);
        }
        for (size_t i = 0; i < b->n_units; i++) {
                sum_pref += b->units[i].preferred;
                sum_min += b->units[i].min;
        }

        if (sum_min > avail) {
                uint64_t short_by = DIV_ROUND_UP(sum_min - avail, MIB);
                return refuse(b, -ENOSPC, "%s is too small by %" PRIu64 " MiB: the arrays need %" PRIu64 " MiB on every disk "
                              "(the data in use with a margin, plus md metadata), it has %" PRIu64 " MiB usable.%s",
                              disk_label(b, smallest, buf, sizeof buf), short_by, DIV_ROUND_UP(sum_min, MIB), avail / MIB,
                              smallest == 0 ? " (This is the current disk: free space on it first.)" : " Use a larger disk.");
        }

        if (sum_pref <= avail) {
                for (size_t i = 0; i < b->n_units; i++)
                        b->units[i].size = b->units[i].preferred;
        } else {
                /* Shrink the copied filesystems (and the PV, which only
                 * needs its allocated extents) to their minimum and give
                 * what is left to the largest of them. */
                size_t largest = SIZE_MAX;
                for (size_t i = 0; i < b->n_units; i++) {
                        struct unit *u = &b->units[i];
                        u->size = u->min;
                        if ((u->kind == UNIT_FS || u->kind == UNIT_LUKS || u->kind == UNIT_PV) &&
                            (largest == SIZE_MAX || u->preferred > b->units[largest].preferred))
                                largest = i;
                }
                if (largest != SIZE_MAX)
                        b->units[largest].size += (avail - sum_min) / MIB * MIB;
        }

        uint64_t pos = MIB;
        unsigned partno = 1;
        for (size_t i = 0; i < b->n_units; i++) {
                struct unit *u = &b->units[i];
                u->start = pos;
                u->partno = partno++;
                pos += u->size;
                if (u->kind == UNIT_BIOS_GRUB || u->kind == UNIT_ESP) {
                        u->fs_size = u->size;
                        continue;
                }
                uint64_t chunk = b->level == 1 ? 0 : MD_CHUNK;
                u->data_offset = plan_md_data_offset(u->size, chunk);
                u->array_size = plan_md_array_size(b->level, n, u->size);
                u->fs_size = u->array_size - (u->kind == UNIT_LUKS ? MIN(u->array_size, u->old->luks->data_offset) : 0);
                if (u->array_size < u->need)
                        return refuse(b, -ENOSPC, "Internal sizing error: array %s would hold %" PRIu64 " bytes, needs %" PRIu64 ".",
                                      u->name, u->array_size, u->need);
        }
        return 0;
}

/* ---- JSON helpers ---- */

static void add_str(json_object *o, const char *k, const char *v) {
        json_object_object_add(o, k, v ? json_object_new_string(v) : NULL);
}
static void add_u64(json_object *o, const char *k, uint64_t v) {
        json_object_object_add(o, k, json_object_new_int64((int64_t) v));
}
static void add_bool(json_object *o, const char *k, bool v) {
        json_object_object_add(o, k, json_object_new_boolean(v));
}

static const char *part_type(const struct builder *b, enum unit_kind k) {
        if (b->label == PARTITION_TABLE_GPT)
                return k == UNIT_BIOS_GRUB ? GUID_BIOS_GRUB : k == UNIT_ESP ? GUID_ESP : GUID_RAID;
        return k == UNIT_ESP ? "0xef" : "0xfd";
}

struct disk_ids {
        char disk_id[37];
        char part_uuid[MAX_UNITS][37];
};

static void disk_ids(const struct builder *b, size_t d, struct disk_ids *ret) {
        char what[PATH_MAX_ID + 32], idb[PATH_MAX_ID];
        const char *id = dev_id(b->facts, b->disks[d], idb, sizeof idb);

        snprintf(what, sizeof what, "disk:%s", id);
        if (b->label == PARTITION_TABLE_GPT)
                derive_uuid(b, what, true, ret->disk_id);
        else
                derive_dos_id(b, what, ret->disk_id);
        for (size_t i = 0; i < b->n_units; i++) {
                snprintf(what, sizeof what, "partition:%s:%u", id, b->units[i].partno);
                derive_uuid(b, what, true, ret->part_uuid[i]);
        }
}

/* The stable path of a partition the plan creates. */
static void part_path(const struct builder *b, const struct disk_ids *ids, size_t unit, char ret[128]) {
        if (b->label == PARTITION_TABLE_GPT) {
                char lower[37];
                for (size_t i = 0; i < 37; i++)
                        lower[i] = (char) (ids->part_uuid[unit][i] >= 'A' && ids->part_uuid[unit][i] <= 'F' ?
                                           ids->part_uuid[unit][i] - 'A' + 'a' : ids->part_uuid[unit][i]);
                snprintf(ret, 128, "/dev/disk/by-partuuid/%s", lower);
        } else
                snprintf(ret, 128, "/dev/disk/by-partuuid/%s-%02x", ids->disk_id + 2, b->units[unit].partno);
}

static json_object *partitions_json(const struct builder *b, const struct disk_ids *ids, size_t disk) {
        json_object *a = json_object_new_array();
        char fsname[48];

        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                json_object *p = json_object_new_object();
                add_u64(p, "partno", u->partno);
                add_u64(p, "start", u->start);
                add_u64(p, "size", u->size);
                add_str(p, "type", part_type(b, u->kind));
                add_str(p, "use", u->kind == UNIT_BIOS_GRUB ? "bios-grub" : u->kind == UNIT_ESP ? "esp" : "raid");
                add_str(p, "name", b->label == PARTITION_TABLE_GPT ? u->name : NULL);
                add_str(p, "uuid", b->label == PARTITION_TABLE_GPT ? ids->part_uuid[i] : NULL);
                add_bool(p, "bootable", b->label == PARTITION_TABLE_DOS && u->bootable);
                add_str(p, "array", u->kind == UNIT_BIOS_GRUB || u->kind == UNIT_ESP ? NULL : u->name);
                snprintf(fsname, sizeof fsname, "esp%zu", disk);
                add_str(p, "filesystem", u->kind == UNIT_ESP ? fsname : NULL);
                json_object_array_add(a, p);
        }
        return a;
}

static json_object *members_json(const struct builder *b, const struct unit *u) {
        json_object *a = json_object_new_array();
        char idb[PATH_MAX_ID];

        for (size_t d = 0; d < b->n_disks; d++) {
                json_object *m = json_object_new_object();
                add_str(m, "disk", dev_id(b->facts, b->disks[d], idb, sizeof idb));
                add_u64(m, "partno", u->partno);
                add_bool(m, "missing", d == 0);
                json_object_array_add(a, m);
        }
        return a;
}

static const char *md_layout(unsigned level) {
        return level == 10 ? "n2" : level == 5 || level == 6 ? "left-symmetric" : NULL;
}

/* args of partition-disk for disk d. */
static json_object *partition_args(const struct builder *b, const struct disk_ids *ids, size_t d) {
        json_object *args = json_object_new_object();
        char idb[PATH_MAX_ID];

        add_str(args, "disk", dev_id(b->facts, b->disks[d], idb, sizeof idb));
        add_str(args, "label", partition_table_type_to_string(b->label));
        add_str(args, "disk_id", ids[d].disk_id);
        add_u64(args, "sector_size", MAX(b->disks[d]->logical_sector_size, 512u));
        json_object_object_add(args, "partitions", partitions_json(b, &ids[d], d));
        return args;
}

/* The ESP of disk d for install-bootloader, or NULL without one.  The first
 * new disk's ESP is the one the new root mounts at /boot/efi; the others
 * are mounted aside while GRUB is installed on them. */
static json_object *esp_args(const struct builder *b, const struct disk_ids *ids, size_t d) {
        char fsn[16], what[32], vid[10], dev[128];

        for (size_t i = 0; i < b->n_units; i++) {
                if (b->units[i].kind != UNIT_ESP)
                        continue;
                json_object *esp = json_object_new_object();
                snprintf(fsn, sizeof fsn, "esp%zu", d);
                add_str(esp, "filesystem", fsn);
                part_path(b, &ids[d], i, dev);
                add_str(esp, "device", dev);
                snprintf(what, sizeof what, "vfat:esp%zu", d);
                derive_vfat_id(b, what, vid);
                add_str(esp, "uuid", vid);
                add_str(esp, "mountpoint", d == 1 ? "/boot/efi" : "/run/rootraid/esp");
                return esp;
        }
        return NULL;
}

/* ---- source tree ---- */

static json_object *source_node(const struct builder *b, const struct blockdev *d, unsigned depth) {
        const struct facts *f = b->facts;
        json_object *o = json_object_new_object(), *children = json_object_new_array();
        char idb[PATH_MAX_ID];
        const struct mount_point *m = mount_of(f, d);

        add_str(o, "device", dev_id(f, d, idb, sizeof idb));
        add_str(o, "type", blockdev_type_to_string(d->type));
        add_u64(o, "size", d->size);
        add_str(o, "fstype", d->fstype);
        add_str(o, "uuid", d->fs_uuid);
        add_str(o, "label", d->fs_label);
        add_str(o, "mountpoint", m ? m->target : is_swap(f, d) && d->fstype ? "[SWAP]" : NULL);
        add_u64(o, "used", d->fs_used);

        if (depth < 8) {
                const struct blockdev *kids[64];
                size_t n = 0;
                for (size_t i = 0; i < f->n_devices && n < ELEMENTSOF(kids); i++) {
                        const struct blockdev *c = &f->devices[i];
                        if (c->type == BLOCKDEV_PARTITION && streq_ptr(c->parent, d->kname))
                                kids[n++] = c;
                }
                qsort(kids, n, sizeof(kids[0]), cmp_part_start);
                for (char **h = d->holders; h && *h && n < ELEMENTSOF(kids); h++) {
                        const struct blockdev *c = facts_find_kname(f, *h);
                        if (c)
                                kids[n++] = c;
                }
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(children, source_node(b, kids[i], depth + 1));
        }
        json_object_object_add(o, "children", children);
        return o;
}

/* ---- steps ---- */

static json_object *est_new(const char *state) {
        json_object *o = json_object_new_object();
        add_str(o, "state", state);
        json_object_object_add(o, "checks", json_object_new_array());
        return o;
}

static void est_check(json_object *est, const char *check, const char *target, const char *value) {
        json_object *checks, *c = json_object_new_object();
        json_object_object_get_ex(est, "checks", &checks);
        add_str(c, "check", check);
        add_str(c, "target", target);
        add_str(c, "value", value);
        json_object_array_add(checks, c);
}

static int add_step(struct builder *b, const char *id, enum step_kind kind, json_object *args, json_object *est,
                    bool writes_old, const char *undo, const char *format, ...) _printf_(8, 9);
static int add_step(struct builder *b, const char *id, enum step_kind kind, json_object *args, json_object *est,
                    bool writes_old, const char *undo, const char *format, ...) {
        struct plan_step *n, *s;
        va_list ap;
        int r;

        n = realloc(b->steps, (b->n_steps + 1) * sizeof(struct plan_step));
        if (!n) {
                json_object_put(args);
                json_object_put(est);
                return -ENOMEM;
        }
        b->steps = n;
        s = &b->steps[b->n_steps];
        *s = (struct plan_step) {
                .id = strdup(id),
                .kind = kind,
                .args = args,
                .establishes = est,
                .reversible = undo != NULL,
                .undo = undo ? strdup(undo) : NULL,
                .writes_old_disk = writes_old,
        };
        va_start(ap, format);
        r = vasprintf(&s->description, format, ap);
        va_end(ap);
        b->n_steps++;
        if (r < 0 || !s->id || (undo && !s->undo))
                return -ENOMEM;
        return 0;
}

static const struct unit *unit_mounted_at(const struct builder *b, const char *target) {
        for (size_t i = 0; i < b->n_units; i++)
                if (b->units[i].mount && streq(b->units[i].mount->target, target) && b->units[i].kind != UNIT_PV)
                        return &b->units[i];
        return NULL;
}

static int cmp_units_by_mount(const void *a, const void *b) {
        const struct unit *x = *(const struct unit *const *) a, *y = *(const struct unit *const *) b;
        return strcmp(x->mount->target, y->mount->target);
}

/* Units with a filesystem to copy, parents first (sorted by path: "/"
 * sorts before "/boot", "/boot" before "/boot/efi"). */
static size_t copy_units(const struct builder *b, const struct unit **ret) {
        size_t n = 0;
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if ((u->kind == UNIT_FS || u->kind == UNIT_LUKS || u->kind == UNIT_ESP) && u->mount)
                        ret[n++] = u;
        }
        qsort(ret, n, sizeof(ret[0]), cmp_units_by_mount);
        return n;
}

static const char *fs_name(const struct unit *u) {
        return u->kind == UNIT_ESP ? "esp1" : u->name;
}

static void target_path(const char *mountpoint, char ret[512]) {
        snprintf(ret, 512, "%s%s", TARGET_ROOT, streq(mountpoint, "/") ? "" : mountpoint);
}

static char *cmdline_kept(const char *cmdline) {
        _cleanup_free_ char *copy = strdup(strempty(cmdline));
        char *out = calloc(1, strlen(strempty(cmdline)) + 1), *save = NULL;

        if (!copy || !out) {
                free(out);
                return NULL;
        }
        for (char *w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
                if (startswith(w, "BOOT_IMAGE=") || startswith(w, "root=") || streq(w, "ro") || streq(w, "rw") ||
                    startswith(w, "initrd="))
                        continue;
                if (*out)
                        strcat(out, " ");
                strcat(out, w);
        }
        return out;
}

static int build_steps(struct builder *b, json_object *target) {
        const struct facts *f = b->facts;
        char id[96], idb[PATH_MAX_ID], idb2[PATH_MAX_ID], path[512], dev[128];
        json_object *args, *est;
        struct disk_ids ids[MAX_DISKS];
        const char *loader = f->boot_loader == BOOT_LOADER_GRUB_EFI ? "grub-efi" : "grub-pc";
        int r;

        for (size_t d = 0; d < b->n_disks; d++)
                disk_ids(b, d, &ids[d]);

        json_object *arrays_conf = json_object_new_array();
        json_object *arrays_ref = json_object_new_array();
        json_object *array_uuids = json_object_new_array();
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (!unit_on_array(u))
                        continue;
                json_object *c = json_object_new_object(), *rf = json_object_new_object();
                snprintf(dev, sizeof dev, "/dev/md/%s", u->name);
                add_str(c, "array", u->name);
                add_str(c, "device", dev);
                add_str(c, "uuid", u->md_uuid);
                snprintf(path, sizeof path, "%s:%s", strempty(f->hostname), u->name);
                add_str(c, "name", path);
                add_str(c, "metadata", "1.2");
                json_object_array_add(arrays_conf, c);
                add_str(rf, "array", u->name);
                add_str(rf, "device", dev);
                add_str(rf, "uuid", u->md_uuid);
                json_object_array_add(arrays_ref, rf);
                json_object_array_add(array_uuids, json_object_new_string(u->md_uuid));
        }

        /* 1. The new disks: wipe (with --wipe), partition. */
        for (size_t d = 1; d < b->n_disks; d++) {
                const struct blockdev *disk = b->disks[d];
                const char *did = dev_id(f, disk, idb, sizeof idb);
                json_object *sigs = json_object_new_array();
                for (size_t j = 0; j < f->n_devices; j++) {
                        const struct blockdev *x = &f->devices[j];
                        if (!(x == disk || (x->type == BLOCKDEV_PARTITION && streq_ptr(x->parent, disk->kname))))
                                continue;
                        for (size_t s = 0; s < x->n_signatures; s++) {
                                json_object *o = json_object_new_object();
                                add_str(o, "type", strna(x->signatures[s].type));
                                /* Offsets on the disk, whichever device they were found on. */
                                uint64_t base = 0;
                                if (x != disk && x->type == BLOCKDEV_PARTITION && disk->table)
                                        for (size_t k = 0; k < disk->table->n_partitions; k++)
                                                if (disk->table->partitions[k].partno == x->partno)
                                                        base = disk->table->partitions[k].start;
                                add_u64(o, "offset", base + x->signatures[s].offset);
                                json_object_array_add(sigs, o);
                        }
                }
                if (json_object_array_length(sigs) > 0) {
                        args = json_object_new_object();
                        add_str(args, "disk", did);
                        json_object_object_add(args, "signatures", sigs);
                        est = est_new("No signature is left on the disk.");
                        est_check(est, "no-signatures", did, NULL);
                        snprintf(id, sizeof id, "wipe-disk%zu", d);
                        r = add_step(b, id, STEP_WIPE_SIGNATURES, args, est, false, NULL,
                                     "Erase the %zu old signature%s on %s (--wipe was given).",
                                     json_object_array_length(sigs), json_object_array_length(sigs) == 1 ? "" : "s", did);
                        if (r < 0)
                                return r;
                } else
                        json_object_put(sigs);

                args = partition_args(b, ids, d);
                est = est_new("The disk carries the planned partition table.");
                est_check(est, "partition-table", did, ids[d].disk_id);
                snprintf(id, sizeof id, "partition-disk%zu", d);
                r = add_step(b, id, STEP_PARTITION_DISK, args, est, false, "Erase the new partition table.",
                             "Write %s partition table with %zu partition%s on new disk %s.",
                             b->label == PARTITION_TABLE_GPT ? "a GPT" : "an MBR", b->n_units, b->n_units == 1 ? "" : "s", did);
                if (r < 0)
                        return r;
        }

        /* 2. Arrays, degraded, the old disk's slot missing. */
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (!unit_on_array(u))
                        continue;
                snprintf(dev, sizeof dev, "/dev/md/%s", u->name);
                args = json_object_new_object();
                add_str(args, "array", u->name);
                add_str(args, "device", dev);
                add_str(args, "uuid", u->md_uuid);
                add_str(args, "name", u->name);
                add_u64(args, "level", b->level);
                add_str(args, "metadata", "1.2");
                add_str(args, "bitmap", "internal");
                add_u64(args, "chunk", b->level == 1 ? 0 : MD_CHUNK);
                add_str(args, "layout", md_layout(b->level));
                add_u64(args, "data_offset", u->data_offset);
                add_u64(args, "raid_devices", b->n_disks);
                json_object_object_add(args, "members", members_json(b, u));
                est = est_new("The array exists, degraded, with every new disk's partition.");
                est_check(est, "array", dev, u->md_uuid);
                snprintf(id, sizeof id, "create-%s", u->name);
                r = add_step(b, id, STEP_MD_CREATE, args, est, false, "Stop the array and erase its members' superblocks.",
                             "Create RAID %u array %s (%zu slots, the current disk's slot missing until the end).",
                             b->level, dev, b->n_disks);
                if (r < 0)
                        return r;
        }

        /* 3. LVM: the array becomes a PV and takes the data, live. */
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (u->kind != UNIT_PV)
                        continue;
                const char *old_pv = dev_id(f, u->old, idb, sizeof idb);
                snprintf(dev, sizeof dev, "/dev/md/%s", u->name);

                args = json_object_new_object();
                add_str(args, "array", u->name);
                add_str(args, "device", dev);
                add_str(args, "pv_uuid", u->pv_uuid);
                est = est_new("The array is an LVM physical volume.");
                est_check(est, "pv", dev, u->pv_uuid);
                snprintf(id, sizeof id, "pvcreate-%s", u->name);
                if ((r = add_step(b, id, STEP_PV_CREATE, args, est, false, "pvremove the array.",
                                  "Make array %s an LVM physical volume.", dev)) < 0)
                        return r;

                args = json_object_new_object();
                add_str(args, "vg", u->vg->name);
                add_str(args, "device", dev);
                est = est_new("The volume group includes the array.");
                est_check(est, "vg-has-pv", u->vg->name, dev);
                snprintf(id, sizeof id, "vgextend-%s", u->vg->name);
                if ((r = add_step(b, id, STEP_VG_EXTEND, args, est, false, "vgreduce the array out of the volume group.",
                                  "Add %s to volume group %s.", dev, u->vg->name)) < 0)
                        return r;

                char size[FORMAT_BYTES_MAX];
                args = json_object_new_object();
                add_str(args, "vg", u->vg->name);
                add_str(args, "from", old_pv);
                add_str(args, "to", dev);
                est = est_new("No extent of the volume group is left on the old physical volume.");
                est_check(est, "vg-has-pv", u->vg->name, dev);
                snprintf(id, sizeof id, "pvmove-%s", u->vg->name);
                if ((r = add_step(b, id, STEP_PV_MOVE, args, est, false, "pvmove the extents back to the old physical volume.",
                                  "Move the %s in use in volume group %s from %s onto %s, live (pvmove).",
                                  format_bytes(size, sizeof size, u->used), u->vg->name, old_pv, dev)) < 0)
                        return r;

                args = json_object_new_object();
                add_str(args, "vg", u->vg->name);
                add_str(args, "device", old_pv);
                add_bool(args, "pvremove", true);
                est = est_new("The old physical volume has left the volume group.");
                est_check(est, "vg-lacks-pv", u->vg->name, old_pv);
                snprintf(id, sizeof id, "vgreduce-%s", u->vg->name);
                if ((r = add_step(b, id, STEP_VG_REDUCE, args, est, false, "pvcreate the old PV again with its UUID and vgextend it back.",
                                  "Remove %s from volume group %s.", old_pv, u->vg->name)) < 0)
                        return r;
        }

        /* 4. LUKS: clone the header onto the array and open it. */
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (u->kind != UNIT_LUKS)
                        continue;
                char open_as[64];
                snprintf(dev, sizeof dev, "/dev/md/%s", u->name);
                snprintf(open_as, sizeof open_as, "rootraid-%s", u->content->dm_name);
                args = json_object_new_object();
                add_str(args, "crypt", u->content->dm_name);
                add_str(args, "source", dev_id(f, u->old, idb, sizeof idb));
                add_str(args, "source_mapping", u->content->dm_name);
                add_str(args, "device", dev);
                add_str(args, "uuid", u->luks_uuid);
                add_str(args, "open_as", open_as);
                est = est_new("The array carries a LUKS header with the old keyslots and is open.");
                est_check(est, "luks", dev, u->luks_uuid);
                snprintf(id, sizeof id, "luks-clone-%s", u->name);
                if ((r = add_step(b, id, STEP_LUKS_CLONE, args, est, false, "Close the new mapping and erase the header from the array.",
                                  "Clone the LUKS header of %s onto %s (same passphrases and key files, new UUID) and open it as %s.",
                                  u->content->dm_name, dev, open_as)) < 0)
                        return r;
        }

        /* 5. Filesystems and swap. */
        json_object *tfs;
        json_object_object_get_ex(target, "filesystems", &tfs);
        for (size_t k = 0; k < json_object_array_length(tfs); k++) {
                json_object *fs = json_object_array_get_idx(tfs, k), *v;
                const char *type, *fdev, *fname, *fuuid, *flabel;
                json_object_object_get_ex(fs, "type", &v); type = json_object_get_string(v);
                json_object_object_get_ex(fs, "device", &v); fdev = json_object_get_string(v);
                json_object_object_get_ex(fs, "name", &v); fname = json_object_get_string(v);
                json_object_object_get_ex(fs, "uuid", &v); fuuid = json_object_get_string(v);
                json_object_object_get_ex(fs, "label", &v); flabel = v ? json_object_get_string(v) : NULL;
                json_object_object_get_ex(fs, "source_uuid", &v);
                bool existing = v && json_object_get_string(v) && streq(json_object_get_string(v), fuuid);
                if (existing)
                        continue;       /* the lvm strategy's root: it moves, it is not made */
                if (streq(fname, "esp0"))
                        continue;       /* the old disk's: made after the point of no return */
                args = json_object_new_object();
                add_str(args, "filesystem", fname);
                add_str(args, "device", fdev);
                if (!streq(type, "swap"))
                        add_str(args, "type", type);
                add_str(args, "uuid", fuuid);
                add_str(args, "label", flabel);
                est = est_new(streq(type, "swap") ? "The device holds a swap area with the planned UUID." :
                              "The device holds an empty filesystem with the planned UUID.");
                est_check(est, streq(type, "swap") ? "swap" : "filesystem", fdev, fuuid);
                snprintf(id, sizeof id, "%s-%s", streq(type, "swap") ? "mkswap" : "mkfs", fname);
                if ((r = add_step(b, id, streq(type, "swap") ? STEP_MKSWAP : STEP_MKFS, args, est, false,
                                  "Erase the new signature.", "Make %s%s%s on %s (UUID %s%s%s).",
                                  streq(type, "swap") ? "a swap area" : "an empty ", streq(type, "swap") ? "" : type,
                                  streq(type, "swap") ? "" : " filesystem", fdev, fuuid,
                                  flabel ? ", label " : "", flabel ? flabel : "")) < 0)
                        return r;
        }

        /* 6. Mount the new tree, copy, switch the configuration. */
        const struct unit *cu[MAX_UNITS];
        size_t n_cu = copy_units(b, cu);
        const struct unit *root_unit = unit_mounted_at(b, "/");
        json_object *mounts = json_object_new_array();
        if (!root_unit) {
                /* lvm: the root filesystem stays on its LV; mount it a second
                 * time as the target root, so the same steps apply. */
                json_object *m = json_object_new_object();
                add_str(m, "filesystem", "root");
                add_str(m, "device", dev_id(f, b->root_dev, idb, sizeof idb));
                add_str(m, "mountpoint", TARGET_ROOT);
                add_str(m, "fstype", b->root_mount->fstype);
                json_object_array_add(mounts, m);
        }
        for (size_t i = 0; i < n_cu; i++) {
                json_object *m = json_object_new_object(), *fs = NULL;
                for (size_t k = 0; k < json_object_array_length(tfs); k++) {
                        json_object *x = json_object_array_get_idx(tfs, k), *v;
                        json_object_object_get_ex(x, "name", &v);
                        if (streq(json_object_get_string(v), fs_name(cu[i])))
                                fs = x;
                }
                json_object *v;
                add_str(m, "filesystem", fs_name(cu[i]));
                json_object_object_get_ex(fs, "device", &v);
                add_str(m, "device", json_object_get_string(v));
                target_path(cu[i]->mount->target, path);
                add_str(m, "mountpoint", path);
                json_object_object_get_ex(fs, "type", &v);
                add_str(m, "fstype", json_object_get_string(v));
                json_object_array_add(mounts, m);
        }
        args = json_object_new_object();
        add_str(args, "root", TARGET_ROOT);
        json_object_object_add(args, "mounts", mounts);
        est = est_new("The new filesystems are mounted under " TARGET_ROOT ".");
        est_check(est, "mounted", TARGET_ROOT, NULL);
        if ((r = add_step(b, "mount-target", STEP_MOUNT_TARGET, args, est, false, "Unmount them.",
                          "Mount the new filesystems under %s.", TARGET_ROOT)) < 0)
                return r;

        static const struct { const char *phase, *sentence; } hooks[] = {
                { "before-copy", "Run the before-copy hooks." },
                { "before-final-sync", "Run the before-final-sync hooks (stop the services that write, e.g. databases)." },
                { "after-switch", "Run the after-switch hooks." },
                { "after-readd", "Run the after-readd hooks." },
        };
#define HOOK_STEP(i) do {                                                               \
                args = json_object_new_object();                                        \
                add_str(args, "phase", hooks[i].phase);                                 \
                snprintf(path, sizeof path, HOOKS_DIR "/%s", hooks[i].phase);            \
                add_str(args, "directory", path);                                       \
                est = est_new("The hooks of this phase ran successfully.");             \
                est_check(est, "hooks-ran", hooks[i].phase, NULL);                      \
                snprintf(id, sizeof id, "hooks-%s", hooks[i].phase);                    \
                if ((r = add_step(b, id, STEP_RUN_HOOKS, args, est, false, "Nothing to undo; hooks undo their own work if they need to.", \
                                  "%s", hooks[i].sentence)) < 0)                         \
                        return r;                                                       \
        } while (0)

        HOOK_STEP(0);
        for (int final = 0; final < 2; final++) {
                if (final)
                        HOOK_STEP(1);
                for (size_t i = 0; i < n_cu; i++) {
                        char size[FORMAT_BYTES_MAX];
                        args = json_object_new_object();
                        add_str(args, "filesystem", fs_name(cu[i]));
                        add_str(args, "source", cu[i]->mount->target);
                        target_path(cu[i]->mount->target, path);
                        add_str(args, "target", path);
                        add_u64(args, "bytes", cu[i]->used);
                        add_bool(args, "one_file_system", true);
                        est = est_new(final ? "The new filesystem holds the same files as the old one." :
                                      "The new filesystem holds a copy of the old one; changes since are tracked.");
                        est_check(est, "tree-copied", path, cu[i]->mount->target);
                        snprintf(id, sizeof id, "%s-%s", final ? "copy-final" : "copy", fs_name(cu[i]));
                        if ((r = add_step(b, id, final ? STEP_COPY_FINAL : STEP_COPY_LIVE, args, est, false,
                                          "Nothing to undo on the old system; the new filesystem is discarded on rollback.",
                                          final ? "Copy what changed in %s since the first copy into %s." :
                                                  "Copy %s (%s in use) into %s while the system runs, tracking changes.",
                                          cu[i]->mount->target,
                                          final ? path : format_bytes(size, sizeof size, cu[i]->used),
                                          final ? "" : path)) < 0)
                                return r;
                }
        }

        /* fstab: every migrated filesystem and swap area by its new UUID. */
        json_object *entries = json_object_new_array();
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (u->kind == UNIT_BIOS_GRUB || u->kind == UNIT_PV || (u->kind == UNIT_ESP && !u->mount))
                        continue;
                json_object *e = json_object_new_object();
                char src[64];
                add_str(e, "filesystem", fs_name(u));
                add_str(e, "mountpoint", u->kind == UNIT_SWAP ? "none" : u->mount->target);
                add_str(e, "fstype", u->kind == UNIT_SWAP ? "swap" : u->content->fstype);
                add_str(e, "old_uuid", u->content->fs_uuid);
                snprintf(src, sizeof src, "UUID=%s", u->fs_uuid);
                add_str(e, "new_source", src);
                json_object_array_add(entries, e);
        }
        if (json_object_array_length(entries) > 0) {
                args = json_object_new_object();
                add_str(args, "path", TARGET_ROOT "/etc/fstab");
                json_object_object_add(args, "entries", entries);
                est = est_new("The new root's fstab names the new filesystems by UUID.");
                est_check(est, "file-entries", TARGET_ROOT "/etc/fstab", NULL);
                if ((r = add_step(b, "write-fstab", STEP_WRITE_FSTAB, args, est, false, "Restore the saved fstab.",
                                  "Point fstab in the new root at the new filesystems (by UUID).")) < 0)
                        return r;
        } else
                json_object_put(entries);

        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (u->kind != UNIT_LUKS)
                        continue;
                char src[64];
                json_object *e = json_object_new_object(), *a = json_object_new_array();
                add_str(e, "name", u->content->dm_name);
                add_str(e, "crypt", u->content->dm_name);
                add_str(e, "old_uuid", u->old->luks->uuid);
                snprintf(src, sizeof src, "UUID=%s", u->luks_uuid);
                add_str(e, "new_source", src);
                json_object_array_add(a, e);
                args = json_object_new_object();
                add_str(args, "path", TARGET_ROOT "/etc/crypttab");
                json_object_object_add(args, "entries", a);
                est = est_new("The new root's crypttab opens the LUKS container on the array.");
                est_check(est, "file-entries", TARGET_ROOT "/etc/crypttab", NULL);
                if ((r = add_step(b, "write-crypttab", STEP_WRITE_CRYPTTAB, args, est, false, "Restore the saved crypttab.",
                                  "Point crypttab entry %s in the new root at the LUKS container on the array.", u->content->dm_name)) < 0)
                        return r;
        }

        args = json_object_new_object();
        add_str(args, "path", TARGET_ROOT "/etc/mdadm/mdadm.conf");
        add_str(args, "mailaddr", f->mdadm_mailaddr);
        json_object_object_add(args, "arrays", json_object_get(arrays_conf));
        est = est_new("mdadm.conf in the new root lists every array.");
        est_check(est, "file-entries", TARGET_ROOT "/etc/mdadm/mdadm.conf", NULL);
        if ((r = add_step(b, "write-mdadm-conf", STEP_WRITE_MDADM_CONF, args, est, false, "Restore the saved mdadm.conf.",
                          "Write the ARRAY lines into mdadm.conf in the new root.")) < 0)
                return r;

        args = json_object_new_object();
        add_str(args, "root", TARGET_ROOT);
        add_str(args, "generator", initramfs_generator_to_string(f->initramfs));
        add_str(args, "kernel_release", NULL);
        json_object_object_add(args, "arrays", json_object_get(array_uuids));
        est = est_new("Every initramfs of the new root contains mdadm and assembles the arrays.");
        est_check(est, "initramfs-has-arrays", TARGET_ROOT "/boot", NULL);
        if ((r = add_step(b, "update-initramfs", STEP_UPDATE_INITRAMFS, args, est, false,
                          "Nothing to undo on the old system (the new root's initramfs is discarded).",
                          "Regenerate the new root's initramfs with %s and check it assembles the arrays.",
                          initramfs_generator_to_string(f->initramfs))) < 0)
                return r;

        /* 7. Boot loader on every new disk. */
        for (size_t d = 1; d < b->n_disks; d++) {
                const char *did = dev_id(f, b->disks[d], idb, sizeof idb);
                args = json_object_new_object();
                add_str(args, "root", TARGET_ROOT);
                add_str(args, "loader", loader);
                add_str(args, "disk", did);
                json_object *esp = esp_args(b, ids, d);
                json_object_object_add(args, "esp", esp);
                add_str(args, "bootloader_id", esp ? "debian" : NULL);
                add_bool(args, "update_config", d == 1);
                est = est_new("GRUB is installed on the disk.");
                est_check(est, "bootloader", did, loader);
                snprintf(id, sizeof id, "bootloader-disk%zu", d);
                if ((r = add_step(b, id, STEP_INSTALL_BOOTLOADER, args, est, false, "Nothing to undo on the old system.",
                                  "Install GRUB (%s) on %s%s.", loader, did, d == 1 ? " and generate the new root's grub.cfg" : "")) < 0)
                        return r;
        }

        /* 8. Boot once into the new root; confirm; make it the default. */
        const struct unit *boot_unit = unit_mounted_at(b, "/boot");
        const char *root_uuid = root_unit ? root_unit->fs_uuid : b->root_dev->fs_uuid;
        if (root_unit)
                snprintf(dev, sizeof dev, root_unit->kind == UNIT_LUKS ? "/dev/mapper/%s" : "/dev/md/%s",
                         root_unit->kind == UNIT_LUKS ? root_unit->content->dm_name : root_unit->name);
        else
                snprintf(dev, sizeof dev, "%s", dev_id(f, b->root_dev, idb, sizeof idb));
        _cleanup_free_ char *cmdline = cmdline_kept(f->cmdline);
        if (!cmdline)
                return -ENOMEM;
        args = json_object_new_object();
        add_str(args, "root", TARGET_ROOT);
        add_str(args, "loader", loader);
        add_str(args, "entry_id", "rootraid");
        add_str(args, "title", "rootraid: first boot from RAID");
        add_str(args, "root_fs_uuid", root_uuid);
        add_str(args, "boot_fs_uuid", boot_unit ? boot_unit->fs_uuid : root_uuid);
        add_str(args, "root_device", dev);
        add_str(args, "cmdline", cmdline);
        json_object_object_add(args, "arrays", json_object_get(array_uuids));
        est = est_new("The next boot, and only that one, starts the system from the arrays.");
        est_check(est, "boot-entry", "rootraid", NULL);
        if ((r = add_step(b, "boot-once", STEP_BOOT_ONCE, args, est, false, "Remove the one-time boot entry.",
                          "Arrange a one-time boot into the new root (a failed boot falls back to the current disk).")) < 0)
                return r;

        args = json_object_new_object();
        add_str(args, "reason", "boot the system from the arrays");
        est = est_new("The machine has rebooted.");
        est_check(est, "rebooted", "/proc/sys/kernel/random/boot_id", NULL);
        if ((r = add_step(b, "reboot", STEP_REBOOT, args, est, false, "Reboot again; the old root is the default.",
                          "Reboot into the new root.")) < 0)
                return r;

        args = json_object_new_object();
        add_str(args, "root_fs_uuid", root_uuid);
        add_str(args, "root_device", dev);
        add_str(args, "loader", loader);
        add_bool(args, "make_default", true);
        est = est_new("The system runs from the arrays and boots from them by default.");
        est_check(est, "booted-from", "/", root_uuid);
        if ((r = add_step(b, "confirm-boot", STEP_CONFIRM_BOOT, args, est, false, "Make the old root the default boot entry again.",
                          "Check that / is the new root, then make the new boot entry the default.")) < 0)
                return r;
        HOOK_STEP(2);

        /* 9. The point of no return: the old disk gets the new table. */
        const char *old_id = dev_id(f, b->old_disk, idb2, sizeof idb2);
        args = partition_args(b, ids, 0);
        est = est_new("The old disk carries the same partition table as the new ones.");
        est_check(est, "partition-table", old_id, ids[0].disk_id);
        if ((r = add_step(b, "partition-old-disk", STEP_PARTITION_DISK, args, est, true, NULL,
                          "POINT OF NO RETURN: overwrite the partition table of the old disk %s with the new layout; its old contents are lost.",
                          old_id)) < 0)
                return r;

        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (u->kind != UNIT_ESP)
                        continue;
                char vid[10];
                derive_vfat_id(b, "vfat:esp0", vid);
                part_path(b, &ids[0], i, dev);
                args = json_object_new_object();
                add_str(args, "filesystem", "esp0");
                add_str(args, "device", dev);
                add_str(args, "type", "vfat");
                add_str(args, "uuid", vid);
                add_str(args, "label", u->old->fs_label);
                est = est_new("The old disk's ESP holds an empty FAT filesystem.");
                est_check(est, "filesystem", dev, vid);
                if ((r = add_step(b, "mkfs-esp0", STEP_MKFS, args, est, true, NULL,
                                  "Make a new FAT filesystem on the old disk's ESP %s.", dev)) < 0)
                        return r;
        }

        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (!unit_on_array(u))
                        continue;
                snprintf(dev, sizeof dev, "/dev/md/%s", u->name);
                json_object *m = json_object_new_object();
                add_str(m, "disk", old_id);
                add_u64(m, "partno", u->partno);
                add_bool(m, "missing", true);
                args = json_object_new_object();
                add_str(args, "array", u->name);
                add_str(args, "device", dev);
                add_str(args, "uuid", u->md_uuid);
                json_object_object_add(args, "member", m);
                est = est_new("The old disk's partition is a member of the array.");
                snprintf(path, sizeof path, "%s-part%u", old_id, u->partno);
                est_check(est, "array-member", dev, path);
                snprintf(id, sizeof id, "add-%s", u->name);
                if ((r = add_step(b, id, STEP_MD_ADD, args, est, true, NULL,
                                  "Add partition %u of the old disk to %s; the resync overwrites it.", u->partno, dev)) < 0)
                        return r;
        }

        args = json_object_new_object();
        json_object_object_add(args, "arrays", json_object_get(arrays_ref));
        est = est_new("Every array is complete and in sync.");
        for (size_t i = 0; i < json_object_array_length(arrays_ref); i++) {
                json_object *v;
                json_object_object_get_ex(json_object_array_get_idx(arrays_ref, i), "device", &v);
                est_check(est, "array-in-sync", json_object_get_string(v), NULL);
        }
        if ((r = add_step(b, "wait-resync", STEP_WAIT_RESYNC, args, est, false, NULL,
                          "Wait until every array has resynced onto the old disk.")) < 0)
                return r;

        args = json_object_new_object();
        add_str(args, "root", "/");
        add_str(args, "loader", loader);
        add_str(args, "disk", old_id);
        json_object *esp = esp_args(b, ids, 0);
        json_object_object_add(args, "esp", esp);
        add_str(args, "bootloader_id", esp ? "debian" : NULL);
        add_bool(args, "update_config", true);
        est = est_new("GRUB is installed on the old disk too.");
        est_check(est, "bootloader", old_id, loader);
        if ((r = add_step(b, "bootloader-old-disk", STEP_INSTALL_BOOTLOADER, args, est, true, NULL,
                          "Install GRUB (%s) on the old disk %s, so every disk can boot.", loader, old_id)) < 0)
                return r;
        HOOK_STEP(3);

        json_object *bl = json_object_new_array();
        for (size_t d = 0; d < b->n_disks; d++)
                json_object_array_add(bl, json_object_new_string(dev_id(f, b->disks[d], idb, sizeof idb)));
        args = json_object_new_object();
        json_object_object_add(args, "arrays", json_object_get(arrays_ref));
        add_str(args, "fstab", "/etc/fstab");
        add_str(args, "mdadm_conf", "/etc/mdadm/mdadm.conf");
        add_str(args, "loader", loader);
        json_object_object_add(args, "bootloader_disks", bl);
        est = est_new("The migration is complete and verified.");
        est_check(est, "verified", "/", NULL);
        if ((r = add_step(b, "verify", STEP_VERIFY, args, est, false, NULL,
                          "Verify the arrays, mdadm.conf, fstab, the initramfs and the boot loader on every disk.")) < 0)
                return r;
#undef HOOK_STEP

        json_object_put(arrays_conf);
        json_object_put(arrays_ref);
        json_object_put(array_uuids);
        return 0;
}

/* ---- target layout ---- */

static json_object *build_target(struct builder *b) {
        const struct facts *f = b->facts;
        json_object *t = json_object_new_object(), *disks = json_object_new_array(), *arrays = json_object_new_array(),
                *fss = json_object_new_array(), *crypts = json_object_new_array(), *vgs = json_object_new_array();
        struct disk_ids ids;
        char idb[PATH_MAX_ID], dev[128], what[96];

        for (size_t d = 0; d < b->n_disks; d++) {
                json_object *o = json_object_new_object();
                disk_ids(b, d, &ids);
                add_str(o, "device", dev_id(f, b->disks[d], idb, sizeof idb));
                add_str(o, "role", d == 0 ? "old" : "new");
                add_u64(o, "size", b->disks[d]->size);
                add_str(o, "label", partition_table_type_to_string(b->label));
                add_str(o, "disk_id", ids.disk_id);
                json_object_object_add(o, "partitions", partitions_json(b, &ids, d));
                json_object_array_add(disks, o);

                /* One ESP per disk. */
                for (size_t i = 0; i < b->n_units; i++) {
                        const struct unit *u = &b->units[i];
                        if (u->kind != UNIT_ESP)
                                continue;
                        char vid[10];
                        json_object *fs = json_object_new_object();
                        snprintf(what, sizeof what, "esp%zu", d);
                        add_str(fs, "name", what);
                        add_str(fs, "type", "vfat");
                        snprintf(what, sizeof what, "vfat:esp%zu", d);
                        derive_vfat_id(b, what, vid);
                        add_str(fs, "uuid", vid);
                        add_str(fs, "label", u->old->fs_label);
                        add_str(fs, "mountpoint", d == 1 && u->mount ? u->mount->target : NULL);
                        part_path(b, &ids, i, dev);
                        add_str(fs, "device", dev);
                        add_str(fs, "array", NULL);
                        add_str(fs, "crypt", NULL);
                        add_str(fs, "source_uuid", u->old->fs_uuid);
                        add_u64(fs, "size", u->size);
                        add_u64(fs, "copy_bytes", d == 1 && u->mount ? u->used : 0);
                        json_object_array_add(fss, fs);
                        /* The ESP of the first new disk is the one fstab mounts. */
                        if (d == 1 && u->mount)
                                snprintf(b->units[i].fs_uuid, sizeof b->units[i].fs_uuid, "%s", vid);
                }
        }

        for (size_t i = 0; i < b->n_units; i++) {
                struct unit *u = &b->units[i];
                if (!unit_on_array(u))
                        continue;
                json_object *a = json_object_new_object();
                snprintf(dev, sizeof dev, "/dev/md/%s", u->name);
                add_str(a, "name", u->name);
                add_str(a, "device", dev);
                add_str(a, "uuid", u->md_uuid);
                add_u64(a, "level", b->level);
                add_str(a, "metadata", "1.2");
                add_str(a, "bitmap", "internal");
                add_u64(a, "chunk", b->level == 1 ? 0 : MD_CHUNK);
                add_str(a, "layout", md_layout(b->level));
                add_u64(a, "data_offset", u->data_offset);
                add_u64(a, "member_size", u->size);
                add_u64(a, "size", u->array_size);
                add_str(a, "content", u->kind == UNIT_SWAP ? "swap" : u->kind == UNIT_LUKS ? "luks" : u->kind == UNIT_PV ? "lvm-pv" : "filesystem");
                json_object_object_add(a, "members", members_json(b, u));
                json_object_array_add(arrays, a);

                if (u->kind == UNIT_PV) {
                        json_object *v = json_object_new_object();
                        add_str(v, "name", u->vg->name);
                        add_str(v, "uuid", u->vg->uuid);
                        add_str(v, "pv_array", u->name);
                        add_str(v, "pv_uuid", u->pv_uuid);
                        add_str(v, "old_pv_device", dev_id(f, u->old, idb, sizeof idb));
                        add_str(v, "old_pv_uuid", u->pv->uuid);
                        json_object_array_add(vgs, v);
                        continue;
                }

                char mapdev[128];
                if (u->kind == UNIT_LUKS) {
                        json_object *c = json_object_new_object();
                        char open_as[64];
                        snprintf(open_as, sizeof open_as, "rootraid-%s", u->content->dm_name);
                        add_str(c, "name", u->content->dm_name);
                        add_str(c, "array", u->name);
                        add_str(c, "device", dev);
                        add_str(c, "uuid", u->luks_uuid);
                        add_str(c, "source_uuid", u->old->luks->uuid);
                        add_str(c, "source_device", dev_id(f, u->old, idb, sizeof idb));
                        add_str(c, "open_as", open_as);
                        json_object_array_add(crypts, c);
                        snprintf(mapdev, sizeof mapdev, "/dev/mapper/%s", open_as);
                }

                json_object *fs = json_object_new_object();
                add_str(fs, "name", u->name);
                add_str(fs, "type", u->kind == UNIT_SWAP ? "swap" : u->content->fstype);
                add_str(fs, "uuid", u->fs_uuid);
                add_str(fs, "label", u->content->fs_label);
                add_str(fs, "mountpoint", u->mount ? u->mount->target : NULL);
                add_str(fs, "device", u->kind == UNIT_LUKS ? mapdev : dev);
                add_str(fs, "array", u->kind == UNIT_LUKS ? NULL : u->name);
                add_str(fs, "crypt", u->kind == UNIT_LUKS ? u->content->dm_name : NULL);
                add_str(fs, "source_uuid", u->content->fs_uuid);
                add_u64(fs, "size", u->fs_size);
                add_u64(fs, "copy_bytes", u->kind == UNIT_SWAP ? 0 : u->used);
                json_object_array_add(fss, fs);
        }

        if (b->strategy == STRATEGY_LVM) {
                /* The root filesystem moves with its LV: listed with its own
                 * UUID so that mounts and steps can name it. */
                json_object *fs = json_object_new_object();
                add_str(fs, "name", "root");
                add_str(fs, "type", b->root_mount->fstype);
                add_str(fs, "uuid", b->root_dev->fs_uuid);
                add_str(fs, "label", b->root_dev->fs_label);
                add_str(fs, "mountpoint", "/");
                add_str(fs, "device", dev_id(f, b->root_dev, idb, sizeof idb));
                add_str(fs, "array", NULL);
                add_str(fs, "crypt", NULL);
                add_str(fs, "source_uuid", b->root_dev->fs_uuid);
                add_u64(fs, "size", b->root_dev->fs_size ? b->root_dev->fs_size : b->root_dev->size);
                add_u64(fs, "copy_bytes", 0);
                json_object_array_add(fss, fs);
        }

        json_object_object_add(t, "disks", disks);
        json_object_object_add(t, "arrays", arrays);
        json_object_object_add(t, "filesystems", fss);
        json_object_object_add(t, "crypts", crypts);
        json_object_object_add(t, "volume_groups", vgs);
        return t;
}

static void derive_unit_ids(struct builder *b) {
        char what[96];

        for (size_t i = 0; i < b->n_units; i++) {
                struct unit *u = &b->units[i];
                snprintf(what, sizeof what, "array:%s", u->name);
                derive_md_uuid(b, what, u->md_uuid);
                snprintf(what, sizeof what, "filesystem:%s", u->name);
                derive_uuid(b, what, false, u->fs_uuid);
                snprintf(what, sizeof what, "luks:%s", u->name);
                derive_uuid(b, what, false, u->luks_uuid);
                snprintf(what, sizeof what, "pv:%s", u->name);
                derive_lvm_uuid(b, what, u->pv_uuid);
        }
}

static int format_created(char **ret) {
        const char *e = getenv("SOURCE_DATE_EPOCH");
        time_t t = time(NULL);
        struct tm tm;
        char buf[32];

        if (e) {
                char *end;
                errno = 0;
                unsigned long long v = strtoull(e, &end, 10);
                if (errno == 0 && end != e && *end == 0)
                        t = (time_t) v;
        }
        if (!gmtime_r(&t, &tm))
                return -EINVAL;
        strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

int plan_build(const struct facts *facts, const struct plan_options *opts, struct plan **ret_plan, char **ret_error) {
        struct builder b = { .facts = facts, .opts = opts, .error = ret_error };
        _cleanup_plan_free_ struct plan *p = NULL;
        int r;

        if (!facts || !opts || !ret_plan)
                return -EINVAL;
        if (ret_error)
                *ret_error = NULL;

        r = check_options(&b);
        if (r < 0)
                return r;
        r = check_root(&b);
        if (r < 0)
                return r;
        for (size_t i = 0; opts->disks[i]; i++) {
                b.disks[b.n_disks] = facts_find_device(facts, opts->disks[i]);
                b.disk_names[b.n_disks] = opts->disks[i];
                b.n_disks++;
                r = check_target(&b, b.n_disks - 1);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < b.n_disks; i++) {
                char idb[PATH_MAX_ID];
                const char *id = dev_id(facts, b.disks[i], idb, sizeof idb);
                if (unstable_name(id) && !startswith(id, "/dev/disk/") && !startswith(id, "/dev/mapper/") && !startswith(id, "/dev/md/"))
                        return refuse(&b, -EINVAL, "%s has no stable name (no /dev/disk/by-id or by-path link): a plan must not name it %s, "
                                      "which can change at the next boot. Give the disk a serial number or WWN.", id, id);
        }
        r = check_count(&b);
        if (r < 0)
                return r;
        r = collect_units(&b);
        if (r < 0)
                return r;
        r = layout(&b);
        if (r < 0)
                return r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        p->format_version = PLAN_FORMAT_VERSION;
        p->strategy = b.strategy;
        p->level = b.level;
        p->tool_version = strdup(PROJECT_VERSION);
        p->hostname = strdup(strempty(facts->hostname));
        p->machine_id = facts->machine_id ? strdup(facts->machine_id) : NULL;
        r = format_created(&p->created);
        if (r < 0)
                return r;
        r = plan_facts_json(facts, b.disks, b.n_disks, &p->facts);
        if (r < 0)
                return r;
        r = plan_fingerprint(p->facts, &p->fingerprint);
        if (r < 0)
                return r;
        b.fingerprint = p->fingerprint;
        derive_unit_ids(&b);

        json_object *tree = json_object_new_array(), *src = json_object_new_object();
        char idb[PATH_MAX_ID];
        add_str(src, "disk", dev_id(facts, b.old_disk, idb, sizeof idb));
        json_object_array_add(tree, source_node(&b, b.old_disk, 0));
        json_object_object_add(src, "tree", tree);
        p->source = src;
        p->target = build_target(&b);

        r = build_steps(&b, p->target);
        p->steps = b.steps;
        p->n_steps = b.n_steps;
        if (r < 0)
                return r;
        p->point_of_no_return = p->n_steps;
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].writes_old_disk) {
                        p->point_of_no_return = i;
                        break;
                }
        for (size_t i = 0; i < b.n_units; i++)
                if (b.units[i].kind == UNIT_FS || b.units[i].kind == UNIT_LUKS || b.units[i].kind == UNIT_PV ||
                    (b.units[i].kind == UNIT_ESP && b.units[i].mount))
                        p->copy_bytes += b.units[i].used;
        if (!p->tool_version || !p->hostname || (facts->machine_id && !p->machine_id))
                return -ENOMEM;

        /* The plan we hand out must pass our own loader: a round trip
         * through JSON catches any inconsistency here, not at apply time. */
        json_object *j = NULL;
        r = plan_to_json(p, &j);
        if (r < 0)
                return r;
        _cleanup_free_ char *err = NULL;
        struct plan *check = NULL;
        r = plan_from_json(j, &check, &err);
        json_object_put(j);
        plan_free(check);
        if (r < 0)
                return refuse(&b, -EPROTO, "Internal error: the plan fails its own validation: %s", strna(err));

        *ret_plan = TAKE_PTR(p);
        return 0;
}
