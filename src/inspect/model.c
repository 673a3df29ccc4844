/* SPDX-License-Identifier: GPL-2.0-or-later */
/* String tables, destructor, look-ups and the JSON dump of the model. */
#include <stdio.h>
#include <sys/sysmacros.h>

#include "inspect/model.h"
#include "util/strutil.h"

static const char *const firmware_table[_FIRMWARE_MAX] = {
        [FIRMWARE_BIOS] = "bios",
        [FIRMWARE_UEFI] = "uefi",
};
DEFINE_STRING_TABLE(firmware, enum firmware, _FIRMWARE_MAX);

static const char *const boot_loader_table[_BOOT_LOADER_MAX] = {
        [BOOT_LOADER_NONE] = "none",
        [BOOT_LOADER_GRUB_PC] = "grub-pc",
        [BOOT_LOADER_GRUB_EFI] = "grub-efi",
        [BOOT_LOADER_OTHER] = "other",
};
DEFINE_STRING_TABLE(boot_loader, enum boot_loader, _BOOT_LOADER_MAX);

static const char *const initramfs_generator_table[_INITRAMFS_MAX] = {
        [INITRAMFS_NONE] = "none",
        [INITRAMFS_TOOLS] = "initramfs-tools",
        [INITRAMFS_DRACUT] = "dracut",
};
DEFINE_STRING_TABLE(initramfs_generator, enum initramfs_generator, _INITRAMFS_MAX);

static const char *const blockdev_type_table[_BLOCKDEV_TYPE_MAX] = {
        [BLOCKDEV_DISK] = "disk",
        [BLOCKDEV_PARTITION] = "partition",
        [BLOCKDEV_MD] = "md",
        [BLOCKDEV_CRYPT] = "crypt",
        [BLOCKDEV_LVM] = "lvm",
        [BLOCKDEV_DM_OTHER] = "dm-other",
        [BLOCKDEV_LOOP] = "loop",
        [BLOCKDEV_OTHER] = "other",
};
DEFINE_STRING_TABLE(blockdev_type, enum blockdev_type, _BLOCKDEV_TYPE_MAX);

static const char *const partition_table_type_table[_PARTITION_TABLE_MAX] = {
        [PARTITION_TABLE_NONE] = "none",
        [PARTITION_TABLE_DOS] = "dos",
        [PARTITION_TABLE_GPT] = "gpt",
};
DEFINE_STRING_TABLE(partition_table_type, enum partition_table_type, _PARTITION_TABLE_MAX);

static const char *const partition_role_table[_PARTITION_ROLE_MAX] = {
        [PARTITION_ROLE_DATA] = "data",
        [PARTITION_ROLE_ESP] = "esp",
        [PARTITION_ROLE_BIOS_GRUB] = "bios-grub",
        [PARTITION_ROLE_SWAP] = "swap",
        [PARTITION_ROLE_RAID] = "raid",
        [PARTITION_ROLE_LVM] = "lvm",
        [PARTITION_ROLE_EXTENDED] = "extended",
};
DEFINE_STRING_TABLE(partition_role, enum partition_role, _PARTITION_ROLE_MAX);

/* ---- destructors ---- */

struct partition_table *partition_table_free(struct partition_table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_partitions; i++) {
                struct partition *p = &t->partitions[i];
                free(p->type);
                free(p->name);
                free(p->uuid);
                free(p->kname);
        }
        free(t->partitions);
        free(t->id);
        free(t);
        return NULL;
}

struct md_array *md_array_free(struct md_array *m) {
        if (!m)
                return NULL;
        free(m->level);
        free(m->uuid);
        free(m->metadata);
        strv_free(m->members);
        free(m);
        return NULL;
}

struct luks_info *luks_info_free(struct luks_info *l) {
        if (!l)
                return NULL;
        free(l->uuid);
        free(l->cipher);
        free(l->active_name);
        free(l->active_kname);
        free(l);
        return NULL;
}

void blockdev_done(struct blockdev *d) {
        if (!d)
                return;
        free(d->kname);
        free(d->devnode);
        free(d->stable_id);
        strv_free(d->links);
        free(d->wwn);
        free(d->serial);
        free(d->model);
        free(d->vendor);
        free(d->parent);
        strv_free(d->holders);
        strv_free(d->slaves);
        free(d->fstype);
        free(d->fs_uuid);
        free(d->fs_label);
        free(d->part_uuid);
        free(d->part_label);
        for (size_t i = 0; i < d->n_signatures; i++)
                free(d->signatures[i].type);
        free(d->signatures);
        partition_table_free(d->table);
        md_array_free(d->md);
        luks_info_free(d->luks);
        free(d->dm_name);
        free(d->dm_uuid);
        *d = (struct blockdev) {};
}

struct facts *facts_free(struct facts *f) {
        if (!f)
                return NULL;

        free(f->sysroot);
        free(f->hostname);
        free(f->machine_id);
        free(f->os_id);
        free(f->os_version_id);
        free(f->kernel_release);
        free(f->cmdline);
        free(f->grub_cmdline_linux);
        free(f->grub_install_devices);
        free(f->mdadm_mailaddr);

        for (size_t i = 0; i < f->n_devices; i++)
                blockdev_done(&f->devices[i]);
        free(f->devices);

        for (size_t i = 0; i < f->n_mounts; i++) {
                struct mount_point *m = &f->mounts[i];
                free(m->target);
                free(m->source);
                free(m->fstype);
                free(m->options);
                free(m->fs_root);
                free(m->kname);
        }
        free(f->mounts);

        for (size_t i = 0; i < f->n_fstab; i++) {
                struct fstab_entry *e = &f->fstab[i];
                free(e->source);
                free(e->target);
                free(e->fstype);
                free(e->options);
                free(e->kname);
        }
        free(f->fstab);

        for (size_t i = 0; i < f->n_crypttab; i++) {
                struct crypttab_entry *e = &f->crypttab[i];
                free(e->name);
                free(e->source);
                free(e->keyfile);
                free(e->options);
                free(e->kname);
        }
        free(f->crypttab);

        for (size_t i = 0; i < f->n_swaps; i++) {
                free(f->swaps[i].source);
                free(f->swaps[i].kname);
        }
        free(f->swaps);

        for (size_t i = 0; i < f->n_pvs; i++) {
                free(f->pvs[i].name);
                free(f->pvs[i].kname);
                free(f->pvs[i].vg);
                free(f->pvs[i].uuid);
        }
        free(f->pvs);

        for (size_t i = 0; i < f->n_vgs; i++) {
                free(f->vgs[i].name);
                free(f->vgs[i].uuid);
        }
        free(f->vgs);

        for (size_t i = 0; i < f->n_lvs; i++) {
                free(f->lvs[i].name);
                free(f->lvs[i].vg);
                free(f->lvs[i].path);
                free(f->lvs[i].kname);
        }
        free(f->lvs);

        free(f);
        return NULL;
}

/* ---- look-ups ---- */

struct blockdev *facts_find_kname(const struct facts *f, const char *kname) {
        if (!f || !kname)
                return NULL;
        for (size_t i = 0; i < f->n_devices; i++)
                if (streq(f->devices[i].kname, kname))
                        return &f->devices[i];
        return NULL;
}

struct blockdev *facts_find_devnum(const struct facts *f, dev_t devnum) {
        if (!f || devnum == 0)
                return NULL;
        for (size_t i = 0; i < f->n_devices; i++)
                if (f->devices[i].devnum == devnum)
                        return &f->devices[i];
        return NULL;
}

struct blockdev *facts_find_device(const struct facts *f, const char *name) {
        const char *k;

        if (!f || isempty(name))
                return NULL;

        for (size_t i = 0; i < f->n_devices; i++) {
                struct blockdev *d = &f->devices[i];

                if (streq_ptr(d->devnode, name) || streq_ptr(d->stable_id, name) ||
                    strv_contains(d->links, name))
                        return d;
                if (d->dm_name && (k = startswith(name, "/dev/mapper/")) && streq(k, d->dm_name))
                        return d;
        }

        k = startswith(name, "/dev/");
        return facts_find_kname(f, k ? k : name);
}

struct mount_point *facts_find_mount(const struct facts *f, const char *target) {
        if (!f || !target)
                return NULL;
        /* The last one wins: a later mount on the same target hides the earlier. */
        for (size_t i = f->n_mounts; i > 0; i--)
                if (streq_ptr(f->mounts[i - 1].target, target))
                        return &f->mounts[i - 1];
        return NULL;
}

struct blockdev *facts_disk_of(const struct facts *f, const struct blockdev *d) {
        /* Bounded, so a (corrupt) cycle in slaves cannot loop forever. */
        for (unsigned depth = 0; d && depth < 16; depth++) {
                if (d->type == BLOCKDEV_DISK || d->type == BLOCKDEV_LOOP)
                        return (struct blockdev *) d;
                if (d->type == BLOCKDEV_PARTITION && d->parent)
                        d = facts_find_kname(f, d->parent);
                else if (d->slaves && d->slaves[0])
                        d = facts_find_kname(f, d->slaves[0]);
                else
                        return NULL;
        }
        return NULL;
}

/* ---- JSON ---- */

/* json-c helpers that turn allocation failures into -ENOMEM.  A NULL
 * string becomes a JSON null, so every object has the same keys. */
static int add(json_object *o, const char *key, json_object *v, bool allow_null) {
        if (!v && !allow_null)
                return -ENOMEM;
        if (json_object_object_add(o, key, v) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static int add_str(json_object *o, const char *key, const char *s) {
        return add(o, key, s ? json_object_new_string(s) : NULL, !s);
}

static int add_u64(json_object *o, const char *key, uint64_t v) {
        return add(o, key, json_object_new_int64((int64_t) MIN(v, (uint64_t) INT64_MAX)), false);
}

static int add_int(json_object *o, const char *key, int v) {
        return add(o, key, json_object_new_int(v), false);
}

static int add_bool(json_object *o, const char *key, bool b) {
        return add(o, key, json_object_new_boolean(b), false);
}

static int add_strv(json_object *o, const char *key, char **l) {
        json_object *a = json_object_new_array();
        if (!a)
                return -ENOMEM;
        for (char **s = l; s && *s; s++) {
                json_object *v = json_object_new_string(*s);
                if (!v || json_object_array_add(a, v) < 0) {
                        json_object_put(v);
                        json_object_put(a);
                        return -ENOMEM;
                }
        }
        return add(o, key, a, false);
}

static int add_devnum(json_object *o, const char *key, dev_t d) {
        char buf[32];
        if (d == 0)
                return add_str(o, key, NULL);
        snprintf(buf, sizeof buf, "%u:%u", major(d), minor(d));
        return add_str(o, key, buf);
}

/* Adds a new object or array under key and returns it through *ret (owned by o). */
static int add_child(json_object *o, const char *key, bool array, json_object **ret) {
        json_object *c = array ? json_object_new_array() : json_object_new_object();
        int r = add(o, key, c, false);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

static int append_object(json_object *array, json_object **ret) {
        json_object *c = json_object_new_object();
        if (!c || json_object_array_add(array, c) < 0) {
                json_object_put(c);
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

/* Fails the enclosing function with the first error of a chain of adds. */
#define TRY(expr)                       \
        do {                            \
                int _r = (expr);        \
                if (_r < 0)             \
                        return _r;      \
        } while (0)

static int partition_table_to_json(const struct partition_table *t, json_object *o) {
        json_object *parts;

        TRY(add_str(o, "type", partition_table_type_to_string(t->type)));
        TRY(add_str(o, "id", t->id));
        TRY(add_u64(o, "sector_size", t->sector_size));
        TRY(add_u64(o, "first_usable", t->first_usable));
        TRY(add_u64(o, "last_usable", t->last_usable));
        TRY(add_u64(o, "grain", t->grain));
        TRY(add_child(o, "partitions", true, &parts));
        for (size_t i = 0; i < t->n_partitions; i++) {
                const struct partition *p = &t->partitions[i];
                json_object *po;

                TRY(append_object(parts, &po));
                TRY(add_u64(po, "partno", p->partno));
                TRY(add_u64(po, "start", p->start));
                TRY(add_u64(po, "size", p->size));
                TRY(add_str(po, "type", p->type));
                TRY(add_str(po, "role", partition_role_to_string(p->role)));
                TRY(add_str(po, "name", p->name));
                TRY(add_str(po, "uuid", p->uuid));
                TRY(add_bool(po, "bootable", p->bootable));
                TRY(add_str(po, "kname", p->kname));
        }
        return 0;
}

static int blockdev_to_json(const struct blockdev *d, json_object *o) {
        json_object *c, *sigs;

        TRY(add_str(o, "kname", d->kname));
        TRY(add_str(o, "devnode", d->devnode));
        TRY(add_str(o, "type", blockdev_type_to_string(d->type)));
        TRY(add_devnum(o, "devnum", d->devnum));
        TRY(add_u64(o, "size", d->size));
        TRY(add_u64(o, "logical_sector_size", d->logical_sector_size));
        TRY(add_u64(o, "physical_sector_size", d->physical_sector_size));
        TRY(add_bool(o, "read_only", d->read_only));
        TRY(add_bool(o, "removable", d->removable));
        TRY(add_bool(o, "rotational", d->rotational));
        TRY(add_str(o, "stable_id", d->stable_id));
        TRY(add_strv(o, "links", d->links));
        TRY(add_str(o, "wwn", d->wwn));
        TRY(add_str(o, "serial", d->serial));
        TRY(add_str(o, "model", d->model));
        TRY(add_str(o, "vendor", d->vendor));
        TRY(add_str(o, "parent", d->parent));
        TRY(add_u64(o, "partno", d->partno));
        TRY(add_strv(o, "holders", d->holders));
        TRY(add_strv(o, "slaves", d->slaves));
        TRY(add_str(o, "fstype", d->fstype));
        TRY(add_str(o, "fs_uuid", d->fs_uuid));
        TRY(add_str(o, "fs_label", d->fs_label));
        TRY(add_str(o, "part_uuid", d->part_uuid));
        TRY(add_str(o, "part_label", d->part_label));
        TRY(add_u64(o, "fs_size", d->fs_size));
        TRY(add_u64(o, "fs_used", d->fs_used));

        TRY(add_child(o, "signatures", true, &sigs));
        for (size_t i = 0; i < d->n_signatures; i++) {
                json_object *s;
                TRY(append_object(sigs, &s));
                TRY(add_str(s, "type", d->signatures[i].type));
                TRY(add_u64(s, "offset", d->signatures[i].offset));
        }

        if (d->table) {
                TRY(add_child(o, "table", false, &c));
                TRY(partition_table_to_json(d->table, c));
        } else
                TRY(add_str(o, "table", NULL));

        if (d->md) {
                TRY(add_child(o, "md", false, &c));
                TRY(add_str(c, "level", d->md->level));
                TRY(add_str(c, "uuid", d->md->uuid));
                TRY(add_str(c, "metadata", d->md->metadata));
                TRY(add_strv(c, "members", d->md->members));
                TRY(add_u64(c, "raid_disks", d->md->raid_disks));
                TRY(add_bool(c, "degraded", d->md->degraded));
        } else
                TRY(add_str(o, "md", NULL));

        if (d->luks) {
                TRY(add_child(o, "luks", false, &c));
                TRY(add_int(c, "version", d->luks->version));
                TRY(add_str(c, "uuid", d->luks->uuid));
                TRY(add_u64(c, "data_offset", d->luks->data_offset));
                TRY(add_str(c, "cipher", d->luks->cipher));
                TRY(add_u64(c, "key_size", d->luks->key_size));
                TRY(add_str(c, "active_name", d->luks->active_name));
                TRY(add_str(c, "active_kname", d->luks->active_kname));
        } else
                TRY(add_str(o, "luks", NULL));

        TRY(add_str(o, "dm_name", d->dm_name));
        TRY(add_str(o, "dm_uuid", d->dm_uuid));
        return 0;
}

static int facts_to_json_into(const struct facts *f, json_object *o) {
        json_object *a, *e;

        TRY(add_str(o, "sysroot", f->sysroot));
        TRY(add_str(o, "hostname", f->hostname));
        TRY(add_str(o, "machine_id", f->machine_id));
        TRY(add_str(o, "os_id", f->os_id));
        TRY(add_str(o, "os_version_id", f->os_version_id));
        TRY(add_str(o, "kernel_release", f->kernel_release));
        TRY(add_str(o, "firmware", firmware_to_string(f->firmware)));
        TRY(add_str(o, "boot_loader", boot_loader_to_string(f->boot_loader)));
        TRY(add_str(o, "initramfs", initramfs_generator_to_string(f->initramfs)));
        TRY(add_str(o, "cmdline", f->cmdline));
        TRY(add_str(o, "grub_cmdline_linux", f->grub_cmdline_linux));
        TRY(add_str(o, "grub_install_devices", f->grub_install_devices));
        TRY(add_str(o, "mdadm_mailaddr", f->mdadm_mailaddr));

        TRY(add_child(o, "devices", true, &a));
        for (size_t i = 0; i < f->n_devices; i++) {
                TRY(append_object(a, &e));
                TRY(blockdev_to_json(&f->devices[i], e));
        }

        TRY(add_child(o, "mounts", true, &a));
        for (size_t i = 0; i < f->n_mounts; i++) {
                const struct mount_point *m = &f->mounts[i];
                TRY(append_object(a, &e));
                TRY(add_str(e, "target", m->target));
                TRY(add_str(e, "source", m->source));
                TRY(add_str(e, "fstype", m->fstype));
                TRY(add_str(e, "options", m->options));
                TRY(add_str(e, "fs_root", m->fs_root));
                TRY(add_devnum(e, "devnum", m->devnum));
                TRY(add_str(e, "kname", m->kname));
        }

        TRY(add_child(o, "fstab", true, &a));
        for (size_t i = 0; i < f->n_fstab; i++) {
                const struct fstab_entry *m = &f->fstab[i];
                TRY(append_object(a, &e));
                TRY(add_str(e, "source", m->source));
                TRY(add_str(e, "target", m->target));
                TRY(add_str(e, "fstype", m->fstype));
                TRY(add_str(e, "options", m->options));
                TRY(add_int(e, "freq", m->freq));
                TRY(add_int(e, "passno", m->passno));
                TRY(add_str(e, "kname", m->kname));
        }

        TRY(add_child(o, "crypttab", true, &a));
        for (size_t i = 0; i < f->n_crypttab; i++) {
                const struct crypttab_entry *m = &f->crypttab[i];
                TRY(append_object(a, &e));
                TRY(add_str(e, "name", m->name));
                TRY(add_str(e, "source", m->source));
                TRY(add_str(e, "keyfile", m->keyfile));
                TRY(add_str(e, "options", m->options));
                TRY(add_str(e, "kname", m->kname));
        }

        TRY(add_child(o, "swaps", true, &a));
        for (size_t i = 0; i < f->n_swaps; i++) {
                const struct swap_area *s = &f->swaps[i];
                TRY(append_object(a, &e));
                TRY(add_str(e, "source", s->source));
                TRY(add_str(e, "kname", s->kname));
                TRY(add_u64(e, "size", s->size));
                TRY(add_bool(e, "is_file", s->is_file));
        }

        TRY(add_child(o, "pvs", true, &a));
        for (size_t i = 0; i < f->n_pvs; i++) {
                const struct lvm_pv *p = &f->pvs[i];
                TRY(append_object(a, &e));
                TRY(add_str(e, "name", p->name));
                TRY(add_str(e, "kname", p->kname));
                TRY(add_str(e, "vg", p->vg));
                TRY(add_str(e, "uuid", p->uuid));
                TRY(add_u64(e, "size", p->size));
                TRY(add_u64(e, "free", p->free));
        }

        TRY(add_child(o, "vgs", true, &a));
        for (size_t i = 0; i < f->n_vgs; i++) {
                const struct lvm_vg *v = &f->vgs[i];
                TRY(append_object(a, &e));
                TRY(add_str(e, "name", v->name));
                TRY(add_str(e, "uuid", v->uuid));
                TRY(add_u64(e, "size", v->size));
                TRY(add_u64(e, "free", v->free));
                TRY(add_u64(e, "extent_size", v->extent_size));
        }

        TRY(add_child(o, "lvs", true, &a));
        for (size_t i = 0; i < f->n_lvs; i++) {
                const struct lvm_lv *l = &f->lvs[i];
                TRY(append_object(a, &e));
                TRY(add_str(e, "name", l->name));
                TRY(add_str(e, "vg", l->vg));
                TRY(add_str(e, "path", l->path));
                TRY(add_str(e, "kname", l->kname));
                TRY(add_u64(e, "size", l->size));
        }
        return 0;
}

int facts_to_json(const struct facts *f, json_object **ret) {
        json_object *o;
        int r;

        if (!f || !ret)
                return -EINVAL;

        o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        r = facts_to_json_into(f, o);
        if (r < 0) {
                json_object_put(o);
                return r;
        }
        *ret = o;
        return 0;
}
