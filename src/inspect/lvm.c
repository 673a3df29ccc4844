/* SPDX-License-Identifier: GPL-2.0-or-later */
/* LVM from lvm2's own JSON report (`lvm fullreport --reportformat json`),
 * run live, or read from run/rootraid-fixture/lvm-fullreport.json in a
 * sysroot.  There is no stable LVM library API to read metadata; the report
 * is the interface lvm2 documents for tools. */
#include <json-c/json.h>
#include <stdio.h>
#include <sys/sysmacros.h>

#include "inspect/inspect-internal.h"
#include "util/run.h"

#define LVM_FIXTURE_REPORT "/run/rootraid-fixture/lvm-fullreport.json"

static const char *jstr(json_object *o, const char *key) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        const char *s = json_object_get_string(v);
        return isempty(s) ? NULL : s;
}

/* lvm prints numbers as strings ("--units b --nosuffix"). */
static uint64_t ju64(json_object *o, const char *key) {
        const char *s = jstr(o, key);
        return s ? strtoull(s, NULL, 10) : 0;
}

static struct blockdev *device_of(const struct facts *f, json_object *o, const char *maj_key,
                                  const char *min_key, const char *path) {
        const char *maj = jstr(o, maj_key), *min = jstr(o, min_key);
        struct blockdev *d = NULL;

        if (maj && min && maj[0] != '-' && min[0] != '-')
                d = facts_find_devnum(f, makedev(strtoul(maj, NULL, 10), strtoul(min, NULL, 10)));
        if (!d && path)
                d = inspect_resolve(f, path);
        return d;
}

static int parse_vg_report(struct inspect_ctx *c, json_object *entry) {
        struct facts *f = c->f;
        json_object *vgs, *pvs, *lvs;
        const char *vg_name = NULL;
        int r;

        if (json_object_object_get_ex(entry, "vg", &vgs) && json_object_is_type(vgs, json_type_array))
                for (size_t i = 0; i < json_object_array_length(vgs); i++) {
                        json_object *o = json_object_array_get_idx(vgs, i);
                        struct lvm_vg *vg = array_append((void **) &f->vgs, &f->n_vgs, sizeof(struct lvm_vg));
                        if (!vg)
                                return -ENOMEM;
                        vg_name = jstr(o, "vg_name");
                        if ((r = strdup_to(&vg->name, vg_name)) < 0 ||
                            (r = strdup_to(&vg->uuid, jstr(o, "vg_uuid"))) < 0)
                                return r;
                        vg->size = ju64(o, "vg_size");
                        vg->free = ju64(o, "vg_free");
                        vg->extent_size = ju64(o, "vg_extent_size");
                }

        /* Each report entry is one VG with its PVs and LVs; PVs in no VG
         * come in an entry of their own with no "vg". */
        if (json_object_object_get_ex(entry, "pv", &pvs) && json_object_is_type(pvs, json_type_array))
                for (size_t i = 0; i < json_object_array_length(pvs); i++) {
                        json_object *o = json_object_array_get_idx(pvs, i);
                        struct lvm_pv *pv = array_append((void **) &f->pvs, &f->n_pvs, sizeof(struct lvm_pv));
                        if (!pv)
                                return -ENOMEM;
                        if ((r = strdup_to(&pv->name, jstr(o, "pv_name"))) < 0 ||
                            (r = strdup_to(&pv->uuid, jstr(o, "pv_uuid"))) < 0 ||
                            (r = strdup_to(&pv->vg, vg_name)) < 0)
                                return r;
                        pv->size = ju64(o, "pv_size");
                        pv->free = ju64(o, "pv_free");
                        struct blockdev *d = device_of(f, o, "pv_major", "pv_minor", pv->name);
                        if (d && (r = strdup_to(&pv->kname, d->kname)) < 0)
                                return r;
                }

        if (json_object_object_get_ex(entry, "lv", &lvs) && json_object_is_type(lvs, json_type_array))
                for (size_t i = 0; i < json_object_array_length(lvs); i++) {
                        json_object *o = json_object_array_get_idx(lvs, i);
                        struct lvm_lv *lv = array_append((void **) &f->lvs, &f->n_lvs, sizeof(struct lvm_lv));
                        if (!lv)
                                return -ENOMEM;
                        if ((r = strdup_to(&lv->name, jstr(o, "lv_name"))) < 0 ||
                            (r = strdup_to(&lv->vg, vg_name)) < 0 ||
                            (r = strdup_to(&lv->path, jstr(o, "lv_path"))) < 0)
                                return r;
                        lv->size = ju64(o, "lv_size");
                        struct blockdev *d = device_of(f, o, "lv_kernel_major", "lv_kernel_minor",
                                                       jstr(o, "lv_dm_path"));
                        if (d && (r = strdup_to(&lv->kname, d->kname)) < 0)
                                return r;
                }
        return 0;
}

static int parse_report(struct inspect_ctx *c, const char *text, const char *origin) {
        json_object *root, *report;
        int r = 0;

        /* lvm prints messages before the JSON with some configurations. */
        const char *start = strchr(text, '{');
        if (!start)
                return 0;
        root = json_tokener_parse(start);
        if (!root)
                return ictx_fail(c, -EBADMSG, "Cannot parse the LVM report from %s as JSON.", origin);
        if (json_object_object_get_ex(root, "report", &report) && json_object_is_type(report, json_type_array))
                for (size_t i = 0; r >= 0 && i < json_object_array_length(report); i++)
                        r = parse_vg_report(c, json_object_array_get_idx(report, i));
        json_object_put(root);
        return r;
}

static bool any_device(const struct facts *f, bool (*pred)(const struct blockdev *d)) {
        for (size_t i = 0; i < f->n_devices; i++)
                if (pred(&f->devices[i]))
                        return true;
        return false;
}

static bool is_active_lv(const struct blockdev *d) {
        return d->type == BLOCKDEV_LVM;
}

static bool is_lvm_related(const struct blockdev *d) {
        return d->type == BLOCKDEV_LVM || streq_ptr(d->fstype, "LVM2_member");
}

int inspect_lvm(struct inspect_ctx *c) {
        _cleanup_free_ char *out = NULL;
        int r;

        if (c->no_exec) {
                r = ictx_read_file(c, LVM_FIXTURE_REPORT, &out);
                if (r == -ENOENT)
                        return 0;
                if (r < 0)
                        return ictx_fail(c, r, "Cannot read %s%s: %m", c->root, LVM_FIXTURE_REPORT);
                return parse_report(c, out, LVM_FIXTURE_REPORT);
        }

        /* Not worth a fork when no device is LVM. */
        if (!any_device(c->f, is_lvm_related))
                return 0;

        /* --readonly: read the metadata without locks and without repairing
         * anything, since inspection must not write. */
        static const char *const argv[] = {
                "lvm", "fullreport", "--readonly", "--reportformat", "json", "--units", "b", "--nosuffix", NULL,
        };
        r = run_argv(argv, RUN_CAPTURE_STDOUT | RUN_QUIET_STDERR, &out, NULL);
        /* Without lvm2, an old PV label (on a disk meant as a target) is
         * just a signature; an active LV is a stack we cannot read. */
        if (r == -ENOENT && !any_device(c->f, is_active_lv))
                return 0;
        if (r == -ENOENT)
                return ictx_fail(c, r, "This system has active LVM volumes but no lvm command: install lvm2.");
        if (r < 0)
                return ictx_fail(c, r, "Cannot run lvm fullreport: %m");
        if (r > 0)
                return ictx_fail(c, -EPROTO, "lvm fullreport failed with exit status %d.", r);
        return parse_report(c, out, "lvm fullreport");
}
