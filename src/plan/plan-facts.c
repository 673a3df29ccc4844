/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The facts a plan depends on, reduced to a canonical JSON document: its
 * SHA-256 is the plan's fingerprint, and plan_check_facts() compares a
 * fresh one with the plan's field by field. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "plan/plan-build.h"
#include "plan/plan-internal.h"

/* ---- facts for the fingerprint ---- */

bool pb_is_on(const struct facts *f, const struct blockdev *d, const struct blockdev *disk, unsigned depth) {
        if (!d || !disk || depth > 16)
                return false;
        if (d == disk)
                return true;
        if (d->type == BLOCKDEV_PARTITION && streq_ptr(d->parent, disk->kname))
                return true;
        for (char **s = d->slaves; s && *s; s++)
                if (pb_is_on(f, facts_find_kname(f, *s), disk, depth + 1))
                        return true;
        if (d->type == BLOCKDEV_PARTITION)
                return pb_is_on(f, facts_find_kname(f, d->parent), disk, depth + 1);
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
                if (pb_is_on(f, d, disks[i], 0))
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
                json_object_object_add(e, "id", jstr(pb_dev_id(f, d, buf, sizeof buf)));
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
                        const char *hid = hd ? pb_dev_id(f, hd, hb, sizeof hb) : NULL;
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
                json_object_object_add(e, "device", jstr(d ? pb_dev_id(f, d, buf, sizeof buf) : m->source));
                json_object_object_add(e, "fstype", jstr(strempty(m->fstype)));
                json_object_object_add(e, "fs_root", jstr(m->fs_root ? m->fs_root : "/"));
                json_object_array_add(mounts, e);
        }
        json_object_object_add(o, "mounts", mounts);

        for (size_t i = 0; i < f->n_swaps; i++) {
                const struct swap_area *s = &f->swaps[i];
                const struct blockdev *d = s->kname ? facts_find_kname(f, s->kname) : NULL;
                json_object *e = json_object_new_object();
                json_object_object_add(e, "device", jstr(d ? pb_dev_id(f, d, buf, sizeof buf) : strempty(s->source)));
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
                        json_object_object_add(e, "device", jstr(d ? pb_dev_id(f, d, buf, sizeof buf) : strempty(pv->name)));
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
                json_object_object_add(e, "device", jstr(pb_dev_id(f, d, buf, sizeof buf)));
                json_object_object_add(e, "uuid", jstr(strempty(d->luks->uuid)));
                json_object_object_add(e, "version", json_object_new_int(d->luks->version));
                json_object_array_add(luks, e);
        }
        json_object_object_add(o, "luks", luks);

        *ret = o;
        return 0;
}
