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
 * 4. Steps, in the runbook order: plan-emit.c writes them, with the target
 *    layout (see plans/rootraid-plan.schema.json for each kind).
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
#include "plan/plan-build.h"
#include "plan/plan-internal.h"
#include "util/sha256.h"
#include "util/strutil.h"

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
const char *pb_dev_id(const struct facts *f, const struct blockdev *d, char *buf, size_t size) {
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
void pb_derive_uuid(const struct builder *b, const char *what, bool upper, char ret[37]) {
        uint8_t d[SHA256_DIGEST_SIZE];

        derive(b, what, d);
        d[6] = (d[6] & 0x0f) | 0x40;
        d[8] = (d[8] & 0x3f) | 0x80;
        snprintf(ret, 37, upper ?
                 "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X" :
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
}

void pb_derive_md_uuid(const struct builder *b, const char *what, char ret[36]) {
        uint8_t d[SHA256_DIGEST_SIZE];

        derive(b, what, d);
        snprintf(ret, 36, "%02x%02x%02x%02x:%02x%02x%02x%02x:%02x%02x%02x%02x:%02x%02x%02x%02x",
                 d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
}

void pb_derive_vfat_id(const struct builder *b, const char *what, char ret[10]) {
        uint8_t d[SHA256_DIGEST_SIZE];

        derive(b, what, d);
        snprintf(ret, 10, "%02X%02X-%02X%02X", d[0], d[1], d[2], d[3]);
}

void pb_derive_dos_id(const struct builder *b, const char *what, char ret[11]) {
        uint8_t d[SHA256_DIGEST_SIZE];

        derive(b, what, d);
        /* A zero id means "none" to some tools. */
        snprintf(ret, 11, "0x%02x%02x%02x%02x", d[0] | 1, d[1], d[2], d[3]);
}

/* LVM's format: 32 characters of [A-Za-z0-9] grouped 6-4-4-4-4-4-6. */
void pb_derive_lvm_uuid(const struct builder *b, const char *what, char ret[39]) {
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

/* What a dm-integrity member leaves for md, from below.  The kernel sizes
 * the journal at 1/128 of the device, at most 64 MiB (dm-integrity.c,
 * DEFAULT_JOURNAL_SIZE_FACTOR and DEFAULT_MAX_JOURNAL_SECTORS, used when
 * libcryptsetup passes no journal size); the tags take tag/sector of the
 * data, counted twice here for the per-section rounding; 2 MiB cover the
 * superblock and padding.  Rounded down to 1 MiB. */
uint64_t plan_integrity_provided(uint64_t size) {
        uint64_t journal = MIN(size / 128, 64 * MIB);
        uint64_t tags = size / PLAN_INTEGRITY_SECTOR * PLAN_INTEGRITY_TAG * 2;
        uint64_t overhead = journal + tags + 2 * MIB;
        return size > overhead + MIB ? (size - overhead) / MIB * MIB : 0;
}

/* The size md sees for a member partition of size bytes. */
static uint64_t md_member_bytes(bool integrity, uint64_t size) {
        return integrity ? plan_integrity_provided(size) : size;
}

/* Smallest member size (a multiple of 1 MiB) giving an array of at least
 * need bytes. */
static uint64_t member_for(unsigned level, unsigned n, uint64_t need, bool integrity) {
        uint64_t dd = data_disks(level, n), per = level == 10 ? DIV_ROUND_UP(need * 2, dd) : DIV_ROUND_UP(need, dd);
        uint64_t m = DIV_ROUND_UP(per, MIB) * MIB;
        m += plan_md_data_offset(m, level == 1 ? 0 : MD_CHUNK);
        while (plan_md_array_size(level, n, md_member_bytes(integrity, m)) < need)
                m += integrity ? MAX(MIB, (need - MIN(need, plan_md_array_size(level, n, md_member_bytes(true, m)))) / MIB * MIB) : MIB;
        return m;
}

/* ---- refusals ---- */

static const char *disk_label(const struct builder *b, size_t i, char *buf, size_t size) {
        char idb[PATH_MAX_ID];
        const char *id = pb_dev_id(b->facts, b->disks[i], idb, sizeof idb);
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
                /* LVM inside LUKS (Debian's "encrypted LVM"): both at once,
                 * the container cloned onto the array and the PV inside
                 * it moved by pvmove. */
                if (under && under->type == BLOCKDEV_CRYPT) {
                        const struct blockdev *part = under->slaves ? facts_find_kname(f, under->slaves[0]) : NULL;
                        if (!part || part->type != BLOCKDEV_PARTITION)
                                return refuse(b, -EOPNOTSUPP, "The root's volume group is on LUKS container %s, which is on %s, not on a partition: not supported.",
                                              strna(under->dm_name), part ? part->kname : "an unknown device");
                        b->lvm_on_luks = true;
                } else if (!under || under->type != BLOCKDEV_PARTITION)
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

        if (f->boot_loader == BOOT_LOADER_NONE)
                return refuse(b, -EOPNOTSUPP, "No installed boot loader was found (neither grub-pc nor grub-efi): rootraid installs GRUB on "
                              "every disk and must know which one boots this machine. Install grub-pc (BIOS) or grub-efi-amd64 (UEFI) first.");
        if (f->boot_loader != BOOT_LOADER_GRUB_PC && f->boot_loader != BOOT_LOADER_GRUB_EFI)
                return refuse(b, -EOPNOTSUPP, "The boot loader is not GRUB (%s): rootraid installs GRUB (grub-pc or grub-efi) on every disk and supports only GRUB.",
                              strna(boot_loader_to_string(f->boot_loader)));
        if ((f->firmware == FIRMWARE_UEFI) != (f->boot_loader == BOOT_LOADER_GRUB_EFI))
                return refuse(b, -EOPNOTSUPP, "The machine booted with %s firmware but uses %s: fix the boot setup first.",
                              strna(firmware_to_string(f->firmware)), strna(boot_loader_to_string(f->boot_loader)));
        if (f->initramfs == INITRAMFS_NONE)
                return refuse(b, -EOPNOTSUPP, "No initramfs generator (initramfs-tools or dracut) is installed: the root on md needs one to assemble the arrays.");
        /* The luks strategy's boot chain is cryptsetup-initramfs's: the
         * crypttab copied into the image (with the key file), checked in
         * cryptroot/crypttab.  A dracut system names the container on the
         * kernel command line (rd.luks.uuid) and in its own image layout,
         * which nothing here updates or checks: refuse before any change
         * rather than fail after the copy. */
        if ((b->strategy == STRATEGY_LUKS || b->lvm_on_luks) && f->initramfs != INITRAMFS_TOOLS)
                return refuse(b, -EOPNOTSUPP, "The root is on LUKS and the initramfs is built by %s: rootraid moves a LUKS root only with "
                              "initramfs-tools (cryptsetup-initramfs), whose initramfs it updates and checks.",
                              strna(initramfs_generator_to_string(f->initramfs)));
        if (!b->old_disk->table && f->firmware == FIRMWARE_UEFI)
                return refuse(b, -EOPNOTSUPP, "The root filesystem fills %s without a partition table, and the machine boots with UEFI: "
                              "the ESP is elsewhere, which rootraid cannot mirror.", DEV_ID(f, b->old_disk));
        /* A switch without a reboot moves the services onto a copy of the
         * root.  With LVM the root is not copied but moved under the
         * running system (pvmove), and a LUKS clone would run on a kernel
         * that opened the old container: only the copy strategy, the one
         * tested, switches. */
        if (b->opts->soft_reboot && (b->strategy != STRATEGY_COPY || b->lvm_on_luks))
                return refuse(b, -EOPNOTSUPP, "--switch soft-reboot works only when the root filesystem is copied onto the arrays; "
                              "this root is on %s, which moves with a reboot: plan without --switch.",
                              b->strategy == STRATEGY_LVM ? "LVM" : "LUKS");
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
        if (t == b->old_disk || pb_is_on(f, b->root_dev, t, 0))
                return refuse(b, -EBUSY, "%s is the disk the running system is on (it holds the root filesystem): "
                              "name the new, empty disks only; the current disk joins the arrays at the end by itself.", name);
        for (size_t j = 0; j < f->n_mounts; j++) {
                const struct mount_point *m = &f->mounts[j];
                const struct blockdev *d = m->kname ? facts_find_kname(f, m->kname) : NULL;
                if (d && pb_is_on(f, d, t, 0))
                        return refuse(b, -EBUSY, "%s holds the filesystem mounted at %s (%s): unmount it (and remove it from fstab) before using this disk.",
                                      name, strna(m->target), d->kname);
        }
        for (size_t j = 0; j < f->n_swaps; j++) {
                const struct blockdev *d = f->swaps[j].kname ? facts_find_kname(f, f->swaps[j].kname) : NULL;
                if (d && pb_is_on(f, d, t, 0))
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
                if (d && pb_is_on(f, d, t, 0))
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

/* The copy strategy makes every filesystem anew on the arrays, so disks of
 * different logical sector sizes are fine (md takes the largest).  The lvm
 * and luks strategies keep what is on top of the array: LVM refuses to mix
 * PVs of different block sizes in a VG (allow_mixed_block_sizes=0), and a
 * LUKS volume with 512-byte sectors cannot sit on a 4096-byte array. */
static int check_sector_sizes(struct builder *b) {
        unsigned old = MAX(b->old_disk->logical_sector_size, 512u);
        char name[PATH_MAX_ID * 2];

        if (b->strategy == STRATEGY_COPY)
                return 0;
        for (size_t i = 1; i < b->n_disks; i++)
                if (MAX(b->disks[i]->logical_sector_size, 512u) != old)
                        return refuse(b, -EOPNOTSUPP, "%s has %u-byte logical sectors, the current disk %u-byte: with the root on %s, "
                                      "the array would change the block size under it (%s). Use disks with %u-byte sectors.",
                                      disk_label(b, i, name, sizeof name), MAX(b->disks[i]->logical_sector_size, 512u), old,
                                      b->strategy == STRATEGY_LVM ? "LVM" : "LUKS",
                                      b->strategy == STRATEGY_LVM ? "LVM does not mix block sizes in a volume group" :
                                                                    "the LUKS sector size is kept", old);
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

const struct mount_point *pb_mount_of(const struct facts *f, const struct blockdev *d) {
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

bool pb_is_swap(const struct facts *f, const struct blockdev *d) {
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

/* u becomes the unit of the root's PV, which is dev: the partition itself,
 * or the dm-crypt mapping of the LUKS container on it. */
static int pv_unit(struct builder *b, struct unit *u, const struct blockdev *dev) {
        const struct facts *f = b->facts;
        const struct lvm_pv *pv = NULL;
        const struct lvm_lv *root_lv = NULL;

        for (size_t i = 0; i < f->n_pvs; i++)
                if (streq_ptr(f->pvs[i].kname, dev->kname))
                        pv = &f->pvs[i];
        for (size_t i = 0; i < f->n_lvs; i++)
                if (streq_ptr(f->lvs[i].kname, b->root_dev->kname))
                        root_lv = &f->lvs[i];
        if (!pv || !root_lv || !streq_ptr(pv->vg, root_lv->vg))
                return refuse(b, -EOPNOTSUPP, "%s is an LVM physical volume of a volume group other than the root's: not supported.",
                              DEV_ID(f, dev));
        for (size_t i = 0; i < f->n_vgs; i++)
                if (streq_ptr(f->vgs[i].name, pv->vg))
                        u->vg = &f->vgs[i];
        if (!u->vg || !u->vg->name || !pv->uuid)
                return refuse(b, -EOPNOTSUPP, "Volume group %s of %s is not in the LVM report.", strna(pv->vg), dev->kname);
        u->kind = UNIT_PV;
        u->pv = pv;
        uint64_t ext = u->vg->extent_size ? u->vg->extent_size : 4 * MIB;
        /* Allocated extents plus the PV's own metadata area (1 MiB). */
        u->need = DIV_ROUND_UP(pv->size - MIN(pv->size, pv->free), ext) * ext + ext + MIB;
        u->used = pv->size - MIN(pv->size, pv->free);
        unit_name(b, u, "pv");
        return 0;
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
        const struct mount_point *m = pb_mount_of(f, p);

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
                /* Copying a mount point copies what it shows: with only a
                 * subdirectory bind-mounted, the rest would be lost. */
                if (m->fs_root && !streq(m->fs_root, "/"))
                        return refuse(b, -EOPNOTSUPP, "%s is mounted only as a bind of its directory %s (at %s): mount the filesystem's root "
                                      "somewhere too, so all of it is migrated.", DEV_ID(f, p), m->fs_root, m->target);
                u->kind = UNIT_FS;
                u->mount = m;
                u->used = p->fs_used;
                u->need = fs_need(p, p->size);
                unit_name(b, u, streq(m->target, "/") ? "root" : m->target + 1);
        } else if (pb_is_swap(f, p)) {
                u->kind = UNIT_SWAP;
                u->need = p->size - MIN(p->size, 2 * MIB);
                unit_name(b, u, "swap");
        } else if (streq_ptr(p->fstype, "crypto_LUKS") && b->lvm_on_luks) {
                const struct blockdev *map = p->holders && p->holders[0] ? facts_find_kname(f, p->holders[0]) : NULL;
                if (!map || !map->dm_name || !p->luks || !p->luks->uuid || !streq_ptr(map->fstype, "LVM2_member"))
                        return refuse(b, -EOPNOTSUPP, "%s is a LUKS container that does not hold the root's volume group: only the container "
                                      "of the root's physical volume is supported.", DEV_ID(f, p));
                int r = pv_unit(b, u, map);
                if (r < 0)
                        return r;
                u->crypt = map;
                /* The header (and keyslots) before the PV. */
                u->need += p->luks->data_offset;
        } else if (streq_ptr(p->fstype, "crypto_LUKS")) {
                const struct blockdev *map = p->holders && p->holders[0] ? facts_find_kname(f, p->holders[0]) : NULL;
                if (!map || map != b->root_dev || !p->luks || !map->dm_name || !p->luks->uuid)
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
                int r = pv_unit(b, u, p);
                if (r < 0)
                        return r;
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

int pb_cmp_part_start(const void *a, const void *b) {
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
        qsort(parts, n, sizeof(parts[0]), pb_cmp_part_start);
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

/* --integrity: which arrays get dm-integrity under their members.  GRUB
 * has no dm-integrity reader, so the array holding /boot stays a plain
 * mirror (GRUB reads one member as a filesystem); every other array gets
 * it.  The boot chain that opens the members before mdadm assembles exists
 * for initramfs-tools and the copy strategy only. */
/* Whether /boot is a filesystem of its own on the current disk. */
static bool separate_boot(const struct builder *b) {
        for (size_t i = 0; i < b->n_units; i++)
                if (b->units[i].kind == UNIT_FS && b->units[i].mount && streq(b->units[i].mount->target, "/boot"))
                        return true;
        return false;
}

static int check_integrity(struct builder *b) {
        const struct facts *f = b->facts;

        if (!b->opts->integrity)
                return 0;
        if (b->strategy != STRATEGY_COPY)
                return refuse(b, -EOPNOTSUPP, "--integrity is supported for a root on plain partitions only; this root is on %s. Plan without --integrity.",
                              b->strategy == STRATEGY_LVM ? "LVM" : "LUKS");
        if (f->initramfs != INITRAMFS_TOOLS)
                return refuse(b, -EOPNOTSUPP, "--integrity needs initramfs-tools (its initramfs opens the integrity devices before mdadm assembles the arrays); "
                              "this system uses %s. Plan without --integrity.", strna(initramfs_generator_to_string(f->initramfs)));
        if (!separate_boot(b))
                return refuse(b, -EOPNOTSUPP, "--integrity needs a separate /boot partition: GRUB cannot read an array whose members are dm-integrity devices, "
                              "and /boot is in the root filesystem here. Plan without --integrity.");
        for (size_t i = 0; i < b->n_units; i++) {
                struct unit *u = &b->units[i];
                u->integrity = unit_on_array(u) && !(u->kind == UNIT_FS && u->mount && streq(u->mount->target, "/boot"));
                if (u->integrity && strlen(u->name) + 4 > 32)
                        return refuse(b, -EOPNOTSUPP, "Array name %s is too long for its integrity mappings' names.", u->name);
        }
        return 0;
}

/* GRUB reads /boot from the arrays and takes any member that has a role,
 * though md is still rebuilding it (GRUB ignores the recovery offset).  At
 * the end the old disk's members are rebuilt; the old disk takes the last
 * slot of every array, and GRUB reads a mirror from its lowest slot, so
 * RAID 1 (a separate /boot always is) and RAID 10 with an even number of
 * members read an in-sync new disk.  RAID 5 and 6 stripe /boot over every
 * member, and RAID 10 with an odd number puts some chunks' first copy on
 * the last slot: a power cut during that rebuild would leave GRUB reading
 * stale blocks and a machine that does not boot without a console. */
static int check_boot_array(struct builder *b) {
        bool odd_raid10 = b->level == 10 && b->n_disks % 2 == 1;

        if (b->level == 1 || (b->level == 10 && !odd_raid10) || separate_boot(b))
                return 0;
        return refuse(b, -EOPNOTSUPP, "/boot is in the root filesystem here, and RAID %u%s would spread it over the current disk's "
                      "member too. GRUB cannot tell that a member is being rebuilt: if the power failed while the current disk "
                      "joins the arrays (the last steps), GRUB would read stale blocks and the machine would not boot without a "
                      "console. Use --level 1%s, or give /boot a partition of its own first (rootraid mirrors a separate /boot "
                      "on every disk as RAID 1).",
                      b->level, odd_raid10 ? " with an odd number of disks" : "",
                      odd_raid10 ? " or RAID 10 with an even number of disks" : "");
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
                /* /boot is a mirror whatever the level: GRUB then reads any
                 * one member as a plain filesystem, the simplest thing to
                 * boot from when a disk is gone. */
                u->level = u->kind == UNIT_FS && streq(u->mount->target, "/boot") ? 1 : b->level;
                uint64_t m = member_for(u->level, n, u->need, u->integrity);
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
                uint64_t chunk = u->level == 1 ? 0 : MD_CHUNK;
                u->data_offset = plan_md_data_offset(md_member_bytes(u->integrity, u->size), chunk);
                u->array_size = plan_md_array_size(u->level, n, md_member_bytes(u->integrity, u->size));
                u->fs_size = u->array_size - (u->kind == UNIT_LUKS ? MIN(u->array_size, u->old->luks->data_offset) : 0);
                if (u->array_size < u->need)
                        return refuse(b, -ENOSPC, "Internal sizing error: array %s would hold %" PRIu64 " bytes, needs %" PRIu64 ".",
                                      u->name, u->array_size, u->need);
        }
        return 0;
}

static void derive_unit_ids(struct builder *b) {
        char what[96];

        for (size_t i = 0; i < b->n_units; i++) {
                struct unit *u = &b->units[i];
                snprintf(what, sizeof what, "array:%s", u->name);
                pb_derive_md_uuid(b, what, u->md_uuid);
                snprintf(what, sizeof what, "filesystem:%s", u->name);
                pb_derive_uuid(b, what, false, u->fs_uuid);
                snprintf(what, sizeof what, "luks:%s", u->name);
                pb_derive_uuid(b, what, false, u->luks_uuid);
                snprintf(what, sizeof what, "pv:%s", u->name);
                pb_derive_lvm_uuid(b, what, u->pv_uuid);
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
                const char *id = pb_dev_id(facts, b.disks[i], idb, sizeof idb);
                if (unstable_name(id) && !startswith(id, "/dev/disk/") && !startswith(id, "/dev/mapper/") && !startswith(id, "/dev/md/"))
                        return refuse(&b, -EINVAL, "%s has no stable name (no /dev/disk/by-id or by-path link): a plan must not name it %s, "
                                      "which can change at the next boot. Give the disk a serial number or WWN.", id, id);
        }
        r = check_sector_sizes(&b);
        if (r < 0)
                return r;
        r = check_count(&b);
        if (r < 0)
                return r;
        r = collect_units(&b);
        if (r < 0)
                return r;
        r = check_integrity(&b);
        if (r < 0)
                return r;
        r = check_boot_array(&b);
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
        add_str(src, "disk", pb_dev_id(facts, b.old_disk, idb, sizeof idb));
        /* The current disk, then the targets as they are today, so the
         * reviewer sees what they hold before it is overwritten. */
        for (size_t i = 0; i < b.n_disks; i++)
                json_object_array_add(tree, pb_source_node(&b, b.disks[i], 0));
        json_object_object_add(src, "tree", tree);
        p->source = src;
        p->target = pb_build_target(&b);

        r = pb_build_steps(&b, p->target);
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
