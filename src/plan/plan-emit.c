/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Writes what plan-build.c decided: today's layout as a tree, the target
 * layout (disks, partitions, arrays, filesystems, LUKS containers, volume
 * groups) and the steps in the order of the runbook (see the header of
 * plan-build.c and plans/rootraid-plan.schema.json for each kind). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "plan/plan-build.h"
#include "plan/plan-internal.h"
#include "util/strutil.h"

/* ---- JSON helpers ---- */

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
        const char *id = pb_dev_id(b->facts, b->disks[d], idb, sizeof idb);

        snprintf(what, sizeof what, "disk:%s", id);
        if (b->label == PARTITION_TABLE_GPT)
                pb_derive_uuid(b, what, true, ret->disk_id);
        else
                pb_derive_dos_id(b, what, ret->disk_id);
        for (size_t i = 0; i < b->n_units; i++) {
                snprintf(what, sizeof what, "partition:%s:%u", id, b->units[i].partno);
                pb_derive_uuid(b, what, true, ret->part_uuid[i]);
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

/* --integrity: the name of the mapping on disk d's member of u's array. */
static void integrity_name(const struct unit *u, size_t d, char ret[48]) {
        snprintf(ret, 48, "%s-i%zu", u->name, d);
}

/* The member object of disk d in u's array (missing: the old disk's slot,
 * b->disks[0]). */
static json_object *member_json(const struct builder *b, const struct unit *u, size_t d) {
        json_object *m = json_object_new_object();
        char idb[PATH_MAX_ID], name[48];

        add_str(m, "disk", pb_dev_id(b->facts, b->disks[d], idb, sizeof idb));
        add_u64(m, "partno", u->partno);
        add_bool(m, "missing", d == 0);
        if (u->integrity) {
                integrity_name(u, d, name);
                add_str(m, "integrity", name);
        }
        return m;
}

/* The old disk takes the last slot.  GRUB reads a mirror from its lowest
 * slot first and knows nothing of a member being rebuilt: with the old disk
 * in slot 0, a power cut during the final resync left every disk's GRUB
 * reading the half-rebuilt member, and a machine that booted nothing.  In
 * the last slot GRUB reads an in-sync new disk first (RAID 10 with an even
 * number of members too; RAID 5 and 6 read every slot, see
 * plan-build.c). */
static json_object *members_json(const struct builder *b, const struct unit *u) {
        json_object *a = json_object_new_array();

        for (size_t d = 1; d < b->n_disks; d++)
                json_object_array_add(a, member_json(b, u, d));
        json_object_array_add(a, member_json(b, u, 0));
        return a;
}

static const char *md_layout(unsigned level) {
        return level == 10 ? "n2" : level == 5 || level == 6 ? "left-symmetric" : NULL;
}

/* args of partition-disk for disk d. */
static json_object *partition_args(const struct builder *b, const struct disk_ids *ids, size_t d) {
        json_object *args = json_object_new_object();
        char idb[PATH_MAX_ID];

        add_str(args, "disk", pb_dev_id(b->facts, b->disks[d], idb, sizeof idb));
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
                pb_derive_vfat_id(b, what, vid);
                add_str(esp, "uuid", vid);
                add_str(esp, "mountpoint", d == 1 ? "/boot/efi" : "/run/rootraid/esp");
                return esp;
        }
        return NULL;
}

/* {array, device, uuid}: how steps name an array they act on. */
static json_object *array_ref(const struct unit *u) {
        json_object *o = json_object_new_object();
        char dev[64];

        snprintf(dev, sizeof dev, "/dev/md/%s", u->name);
        add_str(o, "array", u->name);
        add_str(o, "device", dev);
        add_str(o, "uuid", u->md_uuid);
        return o;
}

/* The dm-crypt mapping of u's LUKS container (a LUKS root, or the LUKS
 * container of the root's PV), or NULL. */
static const struct blockdev *unit_crypt(const struct unit *u) {
        return u->kind == UNIT_LUKS ? u->content : u->kind == UNIT_PV ? u->crypt : NULL;
}

/* The name the clone of u's container is opened as during the migration. */
static void clone_name(const struct unit *u, char ret[64]) {
        snprintf(ret, 64, "rootraid-%s", unit_crypt(u)->dm_name);
}

/* ---- source tree ---- */

json_object *pb_source_node(const struct builder *b, const struct blockdev *d, unsigned depth) {
        const struct facts *f = b->facts;
        json_object *o = json_object_new_object(), *children = json_object_new_array();
        char idb[PATH_MAX_ID];
        const struct mount_point *m = pb_mount_of(f, d);

        add_str(o, "device", pb_dev_id(f, d, idb, sizeof idb));
        add_str(o, "type", blockdev_type_to_string(d->type));
        add_u64(o, "size", d->size);
        add_str(o, "fstype", d->fstype);
        add_str(o, "uuid", d->fs_uuid);
        add_str(o, "label", d->fs_label);
        add_str(o, "mountpoint", m ? m->target : pb_is_swap(f, d) && d->fstype ? "[SWAP]" : NULL);
        add_u64(o, "used", d->fs_used);

        if (depth < 8) {
                const struct blockdev *kids[64];
                size_t n = 0;
                for (size_t i = 0; i < f->n_devices && n < ELEMENTSOF(kids); i++) {
                        const struct blockdev *c = &f->devices[i];
                        if (c->type == BLOCKDEV_PARTITION && streq_ptr(c->parent, d->kname))
                                kids[n++] = c;
                }
                qsort(kids, n, sizeof(kids[0]), pb_cmp_part_start);
                for (char **h = d->holders; h && *h && n < ELEMENTSOF(kids); h++) {
                        const struct blockdev *c = facts_find_kname(f, *h);
                        if (c)
                                kids[n++] = c;
                }
                for (size_t i = 0; i < n; i++)
                        json_object_array_add(children, pb_source_node(b, kids[i], depth + 1));
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

/* --integrity: every volume of every disk, as the boot chain opens them. */
static json_object *integrity_volumes(const struct builder *b, const struct disk_ids *ids) {
        json_object *a = json_object_new_array();
        char name[48], dev[128];

        for (size_t d = 0; d < b->n_disks; d++)
                for (size_t i = 0; i < b->n_units; i++) {
                        if (!b->units[i].integrity)
                                continue;
                        json_object *v = json_object_new_object();
                        integrity_name(&b->units[i], d, name);
                        part_path(b, &ids[d], i, dev);
                        add_str(v, "name", name);
                        add_str(v, "device", dev);
                        json_object_array_add(a, v);
                }
        return a;
}

/* --integrity: one integrity-format step per member of disk d. */
static int add_integrity_formats(struct builder *b, const struct disk_ids *ids, size_t d) {
        char id[96], name[48], dev[128];
        int r;

        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (!u->integrity)
                        continue;
                integrity_name(u, d, name);
                part_path(b, &ids[d], i, dev);
                json_object *args = json_object_new_object();
                add_str(args, "array", u->name);
                add_str(args, "name", name);
                json_object_object_add(args, "member", member_json(b, u, d));
                add_str(args, "device", dev);
                add_str(args, "algorithm", "crc32c");
                add_u64(args, "tag_size", PLAN_INTEGRITY_TAG);
                add_u64(args, "sector_size", PLAN_INTEGRITY_SECTOR);
                json_object *est = est_new("The partition carries a dm-integrity superblock and is open as its mapping.");
                est_check(est, "integrity", dev, name);
                snprintf(id, sizeof id, "integrity-%s", name);
                r = add_step(b, id, STEP_INTEGRITY_FORMAT, args, est, d == 0, d == 0 ? NULL : "Close the mapping and erase the integrity superblock.",
                             "Put dm-integrity (crc32c, %u-byte sectors, journal) on partition %u of %s and open it as /dev/mapper/%s, the member of %s.",
                             PLAN_INTEGRITY_SECTOR, u->partno, d == 0 ? "the old disk" : "the new disk", name, u->name);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int add_integrity_boot(struct builder *b, const struct disk_ids *ids, const char *root, const char *what,
                              const char *state, const char *sentence) {
        char id[64];
        json_object *args = json_object_new_object();

        add_str(args, "root", root);
        add_str(args, "what", what);
        json_object_object_add(args, "volumes", integrity_volumes(b, ids));
        json_object *est = est_new(state);
        est_check(est, "integrity-boot", what, NULL);
        snprintf(id, sizeof id, "integrity-boot-%s", what);
        return add_step(b, id, STEP_INTEGRITY_BOOT, args, est, false,
                        streq(what, "initramfs") ? "Nothing to undo." : "Remove the files written.", "%s", sentence);
}

static bool any_integrity(const struct builder *b) {
        for (size_t i = 0; i < b->n_units; i++)
                if (b->units[i].integrity)
                        return true;
        return false;
}

/* luks-clone: u's container cloned onto its array and opened. */
static int add_luks_clone(struct builder *b, const struct unit *u) {
        const struct blockdev *map = unit_crypt(u);
        char open_as[64], dev[64], id[96], idb[PATH_MAX_ID];

        snprintf(dev, sizeof dev, "/dev/md/%s", u->name);
        clone_name(u, open_as);
        json_object *args = json_object_new_object();
        add_str(args, "crypt", map->dm_name);
        add_str(args, "source", pb_dev_id(b->facts, u->old, idb, sizeof idb));
        add_str(args, "source_mapping", map->dm_name);
        add_str(args, "device", dev);
        add_str(args, "uuid", u->luks_uuid);
        add_str(args, "open_as", open_as);
        json_object *est = est_new("The array carries a LUKS header with the old keyslots and is open.");
        est_check(est, "luks", dev, u->luks_uuid);
        snprintf(id, sizeof id, "luks-clone-%s", u->name);
        return add_step(b, id, STEP_LUKS_CLONE, args, est, false, "Close the new mapping and erase the header from the array.",
                        "Clone the LUKS header of %s onto %s (same passphrases and key files, new UUID) and open it as %s.",
                        map->dm_name, dev, open_as);
}

int pb_build_steps(struct builder *b, json_object *target) {
        const struct facts *f = b->facts;
        char id[96], idb[PATH_MAX_ID], idb2[PATH_MAX_ID], path[512], dev[128];
        json_object *args, *est;
        struct disk_ids ids[MAX_DISKS];
        const char *loader = f->boot_loader == BOOT_LOADER_GRUB_EFI ? "grub-efi" : "grub-pc";
        int r;

        for (size_t d = 0; d < b->n_disks; d++)
                disk_ids(b, d, &ids[d]);

        /* Shared by several steps (each takes a reference); released on
         * every return. */
        _cleanup_(json_object_putp) json_object *arrays_conf = json_object_new_array();
        _cleanup_(json_object_putp) json_object *arrays_ref = json_object_new_array();
        _cleanup_(json_object_putp) json_object *array_uuids = json_object_new_array();
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (!unit_on_array(u))
                        continue;
                json_object *c = array_ref(u);
                /* The name the superblock will hold: mdadm prefixes the
                 * home host only when "HOST:NAME" fits its 32-byte field
                 * (super1.c), and an ARRAY line's name= must match it. */
                if (!isempty(f->hostname) && strlen(f->hostname) + 1 + strlen(u->name) < 32)
                        snprintf(path, sizeof path, "%s:%s", f->hostname, u->name);
                else
                        snprintf(path, sizeof path, "%s", u->name);
                add_str(c, "name", path);
                add_str(c, "metadata", "1.2");
                json_object_array_add(arrays_conf, c);
                json_object_array_add(arrays_ref, array_ref(u));
                json_object_array_add(array_uuids, json_object_new_string(u->md_uuid));
        }

        /* 1. The new disks: wipe (with --wipe), partition. */
        for (size_t d = 1; d < b->n_disks; d++) {
                const struct blockdev *disk = b->disks[d];
                const char *did = pb_dev_id(f, disk, idb, sizeof idb);
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

        /* 1b. --integrity: the new disks' members get their dm-integrity
         * layer, which md-create then uses. */
        for (size_t d = 1; d < b->n_disks; d++)
                if ((r = add_integrity_formats(b, ids, d)) < 0)
                        return r;

        /* 2. Arrays, degraded, the old disk's slot missing. */
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (!unit_on_array(u))
                        continue;
                snprintf(dev, sizeof dev, "/dev/md/%s", u->name);
                args = array_ref(u);
                add_str(args, "name", u->name);
                add_str(args, "homehost", f->hostname);
                add_u64(args, "level", u->level);
                add_str(args, "metadata", "1.2");
                add_str(args, "bitmap", "internal");
                add_u64(args, "chunk", u->level == 1 ? 0 : MD_CHUNK);
                add_str(args, "layout", md_layout(u->level));
                add_u64(args, "data_offset", u->data_offset);
                add_u64(args, "raid_devices", b->n_disks);
                json_object_object_add(args, "members", members_json(b, u));
                est = est_new("The array exists, degraded, with every new disk's partition.");
                est_check(est, "array", dev, u->md_uuid);
                snprintf(id, sizeof id, "create-%s", u->name);
                r = add_step(b, id, STEP_MD_CREATE, args, est, false, "Stop the array and erase its members' superblocks.",
                             "Create RAID %u array %s (%zu slots, the current disk's slot missing until the end).",
                             u->level, dev, b->n_disks);
                if (r < 0)
                        return r;
        }

        /* 3. LVM: the array becomes a PV and takes the data, live. */
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (u->kind != UNIT_PV)
                        continue;
                /* Inside LUKS, the old PV is the container's mapping, named
                 * by its dm-uuid link (which goes away with the old
                 * container), and the new PV is the clone's mapping. */
                const char *old_pv = pb_dev_id(f, u->crypt ? u->crypt : u->old, idb, sizeof idb);
                if (u->crypt) {
                        char open_as[64];
                        if ((r = add_luks_clone(b, u)) < 0)
                                return r;
                        /* From here a boot from the old disk must open the
                         * clone too: the volume group is about to span both
                         * containers, then to leave the old one. */
                        args = json_object_new_object();
                        add_str(args, "generator", initramfs_generator_to_string(f->initramfs));
                        est = est_new("Every initramfs in the running /boot is kept as it was and opens the LUKS clone too.");
                        est_check(est, "fallback-initramfs", "/boot", NULL);
                        if ((r = add_step(b, "fallback-initramfs", STEP_FALLBACK_INITRAMFS, args, est, false,
                                          "Put the kept original images back.",
                                          "Keep the running system's initramfs images and regenerate them so that they open the "
                                          "LUKS clone on the array as well: a boot from the old disk (after a power cut during "
                                          "the pvmove, or the fallback of a failed first boot) then finds the volume group.")) < 0)
                                return r;
                        clone_name(u, open_as);
                        snprintf(dev, sizeof dev, "/dev/mapper/%s", open_as);
                } else
                        snprintf(dev, sizeof dev, "/dev/md/%s", u->name);

                args = json_object_new_object();
                add_str(args, "array", u->name);
                add_str(args, "device", dev);
                add_str(args, "pv_uuid", u->pv_uuid);
                est = est_new("The array is an LVM physical volume.");
                est_check(est, "pv", dev, u->pv_uuid);
                snprintf(id, sizeof id, "pvcreate-%s", u->name);
                if ((r = add_step(b, id, STEP_PV_CREATE, args, est, false, "pvremove the array.",
                                  u->crypt ? "Make %s (the LUKS clone on the array) an LVM physical volume." : "Make array %s an LVM physical volume.", dev)) < 0)
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
        for (size_t i = 0; i < b->n_units; i++)
                if (b->units[i].kind == UNIT_LUKS && (r = add_luks_clone(b, &b->units[i])) < 0)
                        return r;

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
                add_str(m, "device", pb_dev_id(f, b->root_dev, idb, sizeof idb));
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
                /* The ESP mounted is the new disk's; every disk has one, and
                 * the machine must boot with that disk gone too. */
                if (u->kind == UNIT_ESP)
                        add_str(e, "add_options", "nofail");
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
                const struct blockdev *map = unit_crypt(u);
                if (!map)
                        continue;
                char src[64];
                json_object *e = json_object_new_object(), *a = json_object_new_array();
                add_str(e, "name", map->dm_name);
                add_str(e, "crypt", map->dm_name);
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
                                  "Point crypttab entry %s in the new root at the LUKS container on the array.", map->dm_name)) < 0)
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

        if (any_integrity(b) &&
            (r = add_integrity_boot(b, ids, TARGET_ROOT, "files", "The new root's initramfs-tools hook and script open the integrity volumes before mdadm.",
                                    "Install the initramfs hook and script that open the integrity volumes before mdadm assembles the arrays, into the new root.")) < 0)
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
        if (any_integrity(b) &&
            (r = add_integrity_boot(b, ids, TARGET_ROOT, "initramfs", "Every initramfs of the new root opens the integrity volumes.",
                                    "Check that every initramfs of the new root holds integritysetup, dm-integrity and the list of volumes.")) < 0)
                return r;

        /* 7. Boot loader on every new disk. */
        for (size_t d = 1; d < b->n_disks; d++) {
                const char *did = pb_dev_id(f, b->disks[d], idb, sizeof idb);
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
                snprintf(dev, sizeof dev, "%s", pb_dev_id(f, b->root_dev, idb, sizeof idb));
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

        if (b->opts->soft_reboot) {
                args = json_object_new_object();
                add_str(args, "root", TARGET_ROOT);
                est = est_new("The system runs from the arrays.");
                est_check(est, "booted-from", "/", root_uuid);
                if ((r = add_step(b, "switch-root", STEP_SWITCH_ROOT, args, est, false, NULL,
                                  "Switch the running system onto the new root without a reboot (systemctl soft-reboot): "
                                  "every service stops and starts again from the arrays.")) < 0)
                        return r;
        }

        args = json_object_new_object();
        add_str(args, "reason", "boot the system from the arrays");
        if (b->opts->soft_reboot)
                add_bool(args, "after_switch", true);
        est = est_new(b->opts->soft_reboot ? "The machine has booted from the arrays." : "The machine has rebooted.");
        est_check(est, "rebooted", "/proc/sys/kernel/random/boot_id", NULL);
        if ((r = add_step(b, "reboot", STEP_REBOOT, args, est, false, "Reboot again; the old root is the default.",
                          b->opts->soft_reboot ? "Wait for the administrator to reboot: the first real boot from the arrays, "
                                                 "before the old disk is touched."
                                               : "Reboot into the new root.")) < 0)
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
        const char *old_id = pb_dev_id(f, b->old_disk, idb2, sizeof idb2);
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
                pb_derive_vfat_id(b, "vfat:esp0", vid);
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

        /* GRUB goes onto the old disk right after its new table (and
         * ESP), before any md-add: the new table leaves the old disk's boot
         * code pointing at a root that the resync is about to overwrite, so
         * a reboot in between would land in grub rescue.  GRUB needs no
         * member on this disk: its core image finds the arrays by UUID,
         * on the new disks until this one's members have joined. */
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
                          "Install GRUB (%s) on the old disk %s at once, so it never boots stale code; every disk can boot.", loader, old_id)) < 0)
                return r;

        if ((r = add_integrity_formats(b, ids, 0)) < 0)
                return r;
        for (size_t i = 0; i < b->n_units; i++) {
                const struct unit *u = &b->units[i];
                if (!unit_on_array(u))
                        continue;
                snprintf(dev, sizeof dev, "/dev/md/%s", u->name);
                json_object *m = member_json(b, u, 0);
                args = array_ref(u);
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
        if (any_integrity(b) &&
            (r = add_integrity_boot(b, ids, "/", "integritytab", "/etc/integritytab lists every integrity volume.",
                                    "Write /etc/integritytab, so systemd-integritysetup knows the volumes the initramfs opened.")) < 0)
                return r;

        HOOK_STEP(3);

        json_object *bl = json_object_new_array();
        for (size_t d = 0; d < b->n_disks; d++)
                json_object_array_add(bl, json_object_new_string(pb_dev_id(f, b->disks[d], idb, sizeof idb)));
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

        return 0;
}

/* ---- target layout ---- */

json_object *pb_build_target(struct builder *b) {
        const struct facts *f = b->facts;
        json_object *t = json_object_new_object(), *disks = json_object_new_array(), *arrays = json_object_new_array(),
                *fss = json_object_new_array(), *crypts = json_object_new_array(), *vgs = json_object_new_array();
        struct disk_ids ids;
        char idb[PATH_MAX_ID], dev[128], what[96];

        for (size_t d = 0; d < b->n_disks; d++) {
                json_object *o = json_object_new_object();
                disk_ids(b, d, &ids);
                add_str(o, "device", pb_dev_id(f, b->disks[d], idb, sizeof idb));
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
                        pb_derive_vfat_id(b, what, vid);
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
                add_u64(a, "level", u->level);
                add_str(a, "metadata", "1.2");
                add_str(a, "bitmap", "internal");
                add_u64(a, "chunk", u->level == 1 ? 0 : MD_CHUNK);
                add_str(a, "layout", md_layout(u->level));
                add_u64(a, "data_offset", u->data_offset);
                add_u64(a, "member_size", u->size);
                add_u64(a, "size", u->array_size);
                add_str(a, "content", u->kind == UNIT_SWAP ? "swap" : unit_crypt(u) ? "luks" : u->kind == UNIT_PV ? "lvm-pv" : "filesystem");
                json_object_object_add(a, "members", members_json(b, u));
                json_object_array_add(arrays, a);

                char mapdev[128];
                if (unit_crypt(u)) {
                        json_object *c = json_object_new_object();
                        char open_as[64];
                        clone_name(u, open_as);
                        add_str(c, "name", unit_crypt(u)->dm_name);
                        add_str(c, "array", u->name);
                        add_str(c, "device", dev);
                        add_str(c, "uuid", u->luks_uuid);
                        add_str(c, "source_uuid", u->old->luks->uuid);
                        add_str(c, "source_device", pb_dev_id(f, u->old, idb, sizeof idb));
                        add_str(c, "open_as", open_as);
                        json_object_array_add(crypts, c);
                        snprintf(mapdev, sizeof mapdev, "/dev/mapper/%s", open_as);
                }

                if (u->kind == UNIT_PV) {
                        json_object *v = json_object_new_object();
                        add_str(v, "name", u->vg->name);
                        add_str(v, "uuid", u->vg->uuid);
                        add_str(v, "pv_array", u->name);
                        add_str(v, "pv_uuid", u->pv_uuid);
                        add_str(v, "old_pv_device", pb_dev_id(f, u->crypt ? u->crypt : u->old, idb, sizeof idb));
                        add_str(v, "old_pv_uuid", u->pv->uuid);
                        json_object_array_add(vgs, v);
                        continue;
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
                add_str(fs, "device", pb_dev_id(f, b->root_dev, idb, sizeof idb));
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
