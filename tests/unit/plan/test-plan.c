/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The planner on the fixture sysroots: what a user relies on (the right
 * strategy and layout, every refusal with its reason, sizes that fit,
 * determinism, a plan that round-trips, a loader that rejects every kind
 * of broken plan with the path of the fault, stale plans detected).
 *
 *   test-plan FIXTURES_DIR CASE       run one case (meson registers each)
 *   test-plan FIXTURES_DIR dump DIR   write the invalid documents of the
 *                                     "violations" case into DIR, with a
 *                                     manifest, for the JSON Schema test */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "inspect/inspect.h"
#include "plan/plan.h"
#include "plan/plan-internal.h"
#include "util/fileio.h"
#include "util/sha256.h"
#include "util/strutil.h"

#include "plan-test.h"

/* plan_build with disks given as a NULL-terminated list. */
static int build(const struct facts *f, unsigned level, bool wipe, struct plan **ret, char **ret_error, ...) {
        char *disks[16] = {};
        size_t n = 0;
        va_list ap;

        va_start(ap, ret_error);
        for (const char *d; (d = va_arg(ap, const char *)) && n < 15;)
                disks[n++] = (char *) d;
        va_end(ap);
        struct plan_options o = { .disks = disks, .level = level, .wipe = wipe };
        return plan_build(f, &o, ret, ret_error);
}

static size_t count_kind(const struct plan *p, enum step_kind k) {
        size_t n = 0;
        for (size_t i = 0; i < p->n_steps; i++)
                n += p->steps[i].kind == k;
        return n;
}

static const struct plan_step *first_kind(const struct plan *p, enum step_kind k) {
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].kind == k)
                        return &p->steps[i];
        return NULL;
}

static json_object *target_array(const struct plan *p, const char *name) {
        return pj_find(pj_get(p->target, "arrays"), "name", name);
}

/* What holds for every plan: stable names only, aligned partitions that
 * fit every disk, arrays at least as large as what they receive, the point
 * of no return on the first write to the old disk, and a JSON round trip
 * that changes nothing. */
static void check_common(const struct plan *p, const char *what) {
        json_object *disks = pj_get(p->target, "disks");
        char *text = plan_to_string(p);

        CHECK(text, "%s: plan_to_string", what);
        CHECK(!strstr(text, "\"/dev/sd") && !strstr(text, "\"/dev/vd") && !strstr(text, "/dev/nvme"),
              "%s: the plan names a kernel device name", what);

        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                json_object *d = json_object_array_get_idx(disks, i), *parts = pj_get(d, "partitions");
                uint64_t prev_end = MIB;
                for (size_t k = 0; k < json_object_array_length(parts); k++) {
                        json_object *pt = json_object_array_get_idx(parts, k);
                        uint64_t start = pj_u64(pt, "start"), size = pj_u64(pt, "size");
                        CHECK(start % MIB == 0 && size % MIB == 0, "%s: partition %zu not 1 MiB aligned", what, k + 1);
                        CHECK(start >= prev_end, "%s: partition %zu overlaps", what, k + 1);
                        prev_end = start + size;
                }
                CHECK(prev_end <= pj_u64(d, "size") - (streq_ptr(pj_str(d, "label"), "gpt") ? 33 * 512 : 0),
                      "%s: partitions end at %" PRIu64 ", beyond disk %s of %" PRIu64, what, prev_end,
                      pj_str(d, "device"), pj_u64(d, "size"));
                /* Every disk, old one included, gets the same table. */
                json_object *p0 = pj_get(json_object_array_get_idx(disks, 0), "partitions");
                CHECK(json_object_array_length(p0) == json_object_array_length(parts), "%s: tables differ", what);
        }

        json_object *arrays = pj_get(p->target, "arrays"), *fss = pj_get(p->target, "filesystems");
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                json_object *a = json_object_array_get_idx(arrays, i);
                uint64_t member = pj_u64(a, "member_size"), off = pj_u64(a, "data_offset");
                CHECK(off == plan_md_data_offset(member, pj_u64(a, "chunk")), "%s: data offset", what);
                CHECK(pj_u64(a, "size") + off <= member * json_object_array_length(pj_get(a, "members")), "%s: array size", what);
                /* The old disk's slot is the last one and the only one
                 * missing: GRUB reads a mirror's lowest slot first, which
                 * must not be the member rebuilt at the end. */
                json_object *ms = pj_get(a, "members");
                size_t nm = json_object_array_length(ms);
                for (size_t k = 0; k < nm; k++) {
                        json_object *m = json_object_array_get_idx(ms, k);
                        CHECK(json_object_get_boolean(pj_get(m, "missing")) == (k == nm - 1),
                              "%s: slot %zu of %zu is%s missing", what, k, nm, k == nm - 1 ? " not" : "");
                }
                json_object *old = json_object_array_get_idx(disks, 0);
                CHECK(streq_ptr(pj_str(json_object_array_get_idx(ms, nm - 1), "disk"), pj_str(old, "device")),
                      "%s: the missing slot is not the old disk's", what);
                CHECK(streq_ptr(pj_str(a, "metadata"), "1.2") && streq_ptr(pj_str(a, "bitmap"), "internal"), "%s: metadata", what);
        }
        for (size_t i = 0; i < json_object_array_length(fss); i++) {
                json_object *fs = json_object_array_get_idx(fss, i);
                CHECK(pj_u64(fs, "size") >= pj_u64(fs, "copy_bytes"), "%s: filesystem %s smaller than its data", what, pj_str(fs, "name"));
                const char *an = pj_str(fs, "array");
                if (an)
                        CHECK(pj_u64(target_array(p, an), "size") >= pj_u64(fs, "size"), "%s: %s larger than its array", what, an);
        }

        CHECK(p->point_of_no_return < p->n_steps, "%s: no point of no return", what);
        if (p->point_of_no_return < p->n_steps) {
                const struct plan_step *s = &p->steps[p->point_of_no_return];
                CHECK(s->kind == STEP_PARTITION_DISK, "%s: the first write to the old disk is %s", what, s->id);
                CHECK(streq_ptr(pj_str(s->args, "disk"), pj_str(json_object_array_get_idx(disks, 0), "device")),
                      "%s: the point of no return does not write the old disk", what);
                /* Erasing what --wipe allowed is a step rollback does not
                 * restore: it was on a disk handed over.  A switch without
                 * a reboot is the other: rollback is refused once it has
                 * started (the services write to the arrays). */
                for (size_t i = 0; i < p->point_of_no_return; i++)
                        CHECK(p->steps[i].reversible || p->steps[i].kind == STEP_WIPE_SIGNATURES || p->steps[i].kind == STEP_SWITCH_ROOT,
                              "%s: step %s before the point of no return cannot be undone", what, p->steps[i].id);
        }
        /* From the new table on the old disk until GRUB is on it again,
         * a reboot from that disk lands in grub rescue: only its ESP's
         * mkfs may come in between, and no md-add (whose resync overwrites
         * what the old boot code points at). */
        if (p->point_of_no_return < p->n_steps) {
                const struct plan_step *bl = plan_find_step(p, "bootloader-old-disk");
                size_t b = bl ? (size_t) (bl - p->steps) : p->n_steps;
                CHECK(bl && bl->kind == STEP_INSTALL_BOOTLOADER, "%s: no bootloader-old-disk step", what);
                for (size_t i = p->point_of_no_return + 1; i < b && i < p->n_steps; i++)
                        CHECK(streq(p->steps[i].id, "mkfs-esp0"), "%s: step %s runs between the old disk's new table and GRUB on it",
                              what, p->steps[i].id);
        }
        CHECK(p->steps[p->n_steps - 1].kind == STEP_VERIFY, "%s: the last step is not verify", what);

        /* Round trip. */
        struct plan *q = NULL;
        char *err = NULL;
        int r = plan_load_string(text, strlen(text), &q, &err);
        CHECK(r == 0, "%s: the plan does not load back: %s", what, strna(err));
        if (r == 0) {
                char *again = plan_to_string(q);
                CHECK(again && streq(text, again), "%s: round trip changed the plan", what);
                free(again);
        }
        plan_free(q);
        free(err);
        free(text);
}

/* ---- the supported layouts ---- */

static void case_layout(const char *layout, enum strategy strategy, size_t n_arrays) {
        _cleanup_facts_free_ struct facts *f = load_facts(layout);
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;
        int r = build(f, 0, false, &p, &err, "/dev/sdb", NULL);

        CHECK(r == 0, "%s: plan_build: %s: %s", layout, strerror(-r), strna(err));
        if (r < 0)
                return;
        CHECK(p->strategy == strategy, "%s: strategy %s", layout, strategy_to_string(p->strategy));
        CHECK(p->level == 1, "%s: level", layout);
        CHECK(json_object_array_length(pj_get(p->target, "arrays")) == n_arrays, "%s: %zu arrays",
              layout, json_object_array_length(pj_get(p->target, "arrays")));
        CHECK(p->copy_bytes > 0, "%s: nothing to copy", layout);
        check_common(p, layout);
}

static void test_bios_mbr(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("bios-mbr");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;

        case_layout("bios-mbr", STRATEGY_COPY, 2);
        CHECK(build(f, 0, false, &p, &err, "/dev/sdb", NULL) == 0, "%s", strna(err));
        json_object *d1 = json_object_array_get_idx(pj_get(p->target, "disks"), 1);
        CHECK(streq_ptr(pj_str(d1, "device"), "/dev/disk/by-id/wwn-0x5000c50000000a02"), "new disk named %s", strna(pj_str(d1, "device")));
        CHECK(streq_ptr(pj_str(d1, "label"), "dos"), "label");
        json_object *p1 = json_object_array_get_idx(pj_get(d1, "partitions"), 0);
        CHECK(streq_ptr(pj_str(p1, "type"), "0xfd") && json_object_get_boolean(pj_get(p1, "bootable")), "RAID type, active flag kept");
        json_object *root = pj_find(pj_get(p->target, "filesystems"), "mountpoint", "/");
        CHECK(streq_ptr(pj_str(root, "type"), "ext4") && streq_ptr(pj_str(root, "label"), "root"), "same type and label");
        CHECK(!streq_ptr(pj_str(root, "uuid"), pj_str(root, "source_uuid")), "a new UUID");
        CHECK(p->copy_bytes == 3 * GIB, "copy %" PRIu64, p->copy_bytes);
        CHECK(count_kind(p, STEP_MD_ADD) == 2 && count_kind(p, STEP_INSTALL_BOOTLOADER) == 2, "re-add and boot loaders");
        CHECK(count_kind(p, STEP_RUN_HOOKS) == 4, "four hook phases");
        json_object *conf = pj_get(first_kind(p, STEP_WRITE_MDADM_CONF)->args, "arrays");
        CHECK(streq_ptr(pj_str(json_object_array_get_idx(conf, 0), "name"), "mbrhost:root"), "ARRAY name=HOST:NAME");
        /* A host name too long for mdadm's 32-byte name field. */
        _cleanup_plan_free_ struct plan *lh = NULL;
        free(f->hostname);
        f->hostname = strdup("build-server-0042.example.internal");
        CHECK(build(f, 0, false, &lh, NULL, "/dev/sdb", NULL) == 0, "long host name");
        conf = lh ? pj_get(first_kind(lh, STEP_WRITE_MDADM_CONF)->args, "arrays") : NULL;
        CHECK(streq_ptr(pj_str(json_object_array_get_idx(conf, 0), "name"), "root"), "ARRAY name without the host when it would not fit");
        /* The summary says what a reviewer needs. */
        char *s = NULL;
        size_t sz = 0;
        FILE *o = open_memstream(&s, &sz);
        CHECK(plan_print_summary(p, o) == 0, "summary");
        fclose(o);
        CHECK(strstr(s, "Today:") && strstr(s, "After the migration:") && strstr(s, "Disks overwritten:") &&
              strstr(s, "Data to copy: 3.0 GiB") && strstr(s, "Point of no return: step") &&
              strstr(s, "├─/dev/disk/by-id/wwn-0x5000c50000000a01-part1") && !strstr(s, "Warning: GRUB"), "summary:\n%s", s);
        free(s);

        /* A smaller new disk: the root filesystem shrinks to its data and
         * a margin, swap keeps its size, and all fits on both disks. */
        _cleanup_plan_free_ struct plan *q = NULL;
        facts_find_kname(f, "sdb")->size = 8 * GIB;
        CHECK(build(f, 0, false, &q, &err, "/dev/sdb", NULL) == 0, "8 GiB target: %s", strna(err));
        if (q) {
                check_common(q, "bios-mbr onto a smaller disk");
                json_object *rootfs = pj_find(pj_get(q->target, "filesystems"), "name", "root");
                CHECK(pj_u64(rootfs, "size") >= 3 * GIB + 300 * MIB && pj_u64(rootfs, "size") < 6 * GIB,
                      "root of %" PRIu64 " for 3 GiB of data", pj_u64(rootfs, "size"));
                CHECK(pj_u64(target_array(q, "swap"), "member_size") == 2047 * MIB, "swap keeps its size");
        }
}

static void test_bios_gpt(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("bios-gpt");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;

        case_layout("bios-gpt", STRATEGY_COPY, 3);
        CHECK(build(f, 0, false, &p, &err, "/dev/sdb", NULL) == 0, "%s", strna(err));
        json_object *parts = pj_get(json_object_array_get_idx(pj_get(p->target, "disks"), 1), "partitions");
        CHECK(streq_ptr(pj_str(json_object_array_get_idx(parts, 0), "use"), "bios-grub") &&
              streq_ptr(pj_str(json_object_array_get_idx(parts, 0), "type"), "21686148-6449-6E6F-744E-656564454649"),
              "a bios_grub partition first, not on md");
        CHECK(target_array(p, "boot") && target_array(p, "root") && target_array(p, "swap"), "/boot, / and swap each on an array");
        CHECK(first_kind(p, STEP_MKSWAP), "mkswap");

        /* A 4Kn new disk: the filesystems are made anew, so it is fine;
         * its table is written for its own sector size. */
        _cleanup_plan_free_ struct plan *q = NULL;
        facts_find_kname(f, "sdb")->logical_sector_size = 4096;
        CHECK(build(f, 0, false, &q, &err, "/dev/sdb", NULL) == 0, "4Kn target: %s", strna(err));
        const struct plan_step *pd = q ? first_kind(q, STEP_PARTITION_DISK) : NULL;
        CHECK(pd && pj_u64(pd->args, "sector_size") == 4096, "sector size of the new table");
}

static void test_uefi(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("uefi");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;

        case_layout("uefi", STRATEGY_COPY, 2);
        CHECK(build(f, 0, false, &p, &err, "/dev/sdb", NULL) == 0, "%s", strna(err));
        json_object *fss = pj_get(p->target, "filesystems");
        json_object *esp0 = pj_find(fss, "name", "esp0"), *esp1 = pj_find(fss, "name", "esp1");
        CHECK(esp0 && esp1, "one ESP per disk");
        CHECK(esp1 && !pj_get(esp1, "array") && streq_ptr(pj_str(esp1, "mountpoint"), "/boot/efi"), "the new ESP is not on md, mounted at /boot/efi");
        CHECK(esp0 && !streq_ptr(pj_str(esp0, "uuid"), pj_str(esp1, "uuid")), "ESPs have their own ids");
        const struct plan_step *bl = first_kind(p, STEP_INSTALL_BOOTLOADER);
        CHECK(bl && streq_ptr(pj_str(bl->args, "loader"), "grub-efi") && pj_get(bl->args, "esp"), "grub-efi with an ESP");
        const struct plan_step *mk = plan_find_step(p, "mkfs-esp0");
        CHECK(mk && mk->writes_old_disk, "the old disk's ESP is made after the point of no return");
}

static void test_lvm(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("lvm");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;

        case_layout("lvm", STRATEGY_LVM, 2);
        CHECK(build(f, 0, false, &p, &err, "/dev/sdb", NULL) == 0, "%s", strna(err));
        const struct plan_step *mv = first_kind(p, STEP_PV_MOVE);
        CHECK(mv && streq_ptr(pj_str(mv->args, "vg"), "vg0") && streq_ptr(pj_str(mv->args, "to"), "/dev/md/pv"), "pvmove onto the array");
        CHECK(first_kind(p, STEP_PV_CREATE) < first_kind(p, STEP_VG_EXTEND) && first_kind(p, STEP_VG_EXTEND) < mv &&
              mv < first_kind(p, STEP_VG_REDUCE), "pvcreate, vgextend, pvmove, vgreduce in order");
        CHECK(count_kind(p, STEP_COPY_LIVE) == 1, "only /boot is copied");
        CHECK(!first_kind(p, STEP_FALLBACK_INITRAMFS) && !first_kind(p, STEP_LUKS_CLONE), "plain LVM: no LUKS steps");
        json_object *vg = json_object_array_get_idx(pj_get(p->target, "volume_groups"), 0);
        CHECK(vg && streq_ptr(pj_str(vg, "old_pv_uuid"), "A4pv00-0000-0000-0000-0000-0000-000001"), "old PV named");
        CHECK(pj_u64(target_array(p, "pv"), "size") >= 17 * GIB, "the PV array holds the allocated extents");

        /* A smaller new disk: the PV array shrinks to the allocated extents
         * plus what the disk has left, and still holds them. */
        _cleanup_plan_free_ struct plan *q = NULL;
        struct blockdev *sdb = facts_find_kname(f, "sdb");
        sdb->size = 18 * GIB;
        CHECK(build(f, 0, false, &q, &err, "/dev/sdb", NULL) == 0, "18 GiB target: %s", strna(err));
        if (q) {
                check_common(q, "lvm onto a smaller disk");
                uint64_t s = pj_u64(target_array(q, "pv"), "size");
                CHECK(s >= 17 * GIB && s < 18 * GIB, "PV array of %" PRIu64, s);
        }
        sdb->size = 17 * GIB;
        _cleanup_plan_free_ struct plan *r = NULL;
        free(err);
        err = NULL;
        CHECK(build(f, 0, false, &r, &err, "/dev/sdb", NULL) == -ENOSPC && err && strstr(err, "too small by"), "17 GiB target: %s", strna(err));
}

static void test_luks(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("luks");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;

        case_layout("luks", STRATEGY_LUKS, 2);
        CHECK(build(f, 0, false, &p, &err, "/dev/sdb", NULL) == 0, "%s", strna(err));
        const struct plan_step *lc = first_kind(p, STEP_LUKS_CLONE), *ct = first_kind(p, STEP_WRITE_CRYPTTAB);
        CHECK(lc && streq_ptr(pj_str(lc->args, "source_mapping"), "root_crypt") && streq_ptr(pj_str(lc->args, "device"), "/dev/md/root"),
              "clone the header of root_crypt onto the array");
        CHECK(lc && !streq_ptr(pj_str(lc->args, "uuid"), "a5000000-0000-4000-8000-00000000c0de"), "new LUKS UUID");
        json_object *e = ct ? json_object_array_get_idx(pj_get(ct->args, "entries"), 0) : NULL;
        CHECK(e && streq_ptr(pj_str(e, "name"), "root_crypt") && streq_ptr(pj_str(e, "old_uuid"), "a5000000-0000-4000-8000-00000000c0de"),
              "crypttab entry root_crypt rewritten");
        json_object *root = pj_find(pj_get(p->target, "filesystems"), "mountpoint", "/");
        CHECK(root && streq_ptr(pj_str(root, "crypt"), "root_crypt") && !pj_get(root, "array"), "root inside LUKS");
}

/* Debian's encrypted LVM: the container of the PV is cloned onto the array
 * and the PV inside it moved there (both strategies at once). */
static void test_luks_lvm(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("luks-lvm");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;
        const char *old_pv = "/dev/disk/by-id/dm-uuid-CRYPT-LUKS2-af00000000004000800000000000c0de-sda5_crypt";
        const char *new_pv = "/dev/mapper/rootraid-sda5_crypt";

        case_layout("luks-lvm", STRATEGY_LVM, 2);
        CHECK(build(f, 0, false, &p, &err, "/dev/sdb", NULL) == 0, "%s", strna(err));
        if (!p)
                return;
        const struct plan_step *lc = first_kind(p, STEP_LUKS_CLONE), *pc = first_kind(p, STEP_PV_CREATE),
                               *ve = first_kind(p, STEP_VG_EXTEND), *mv = first_kind(p, STEP_PV_MOVE),
                               *vr = first_kind(p, STEP_VG_REDUCE), *ct = first_kind(p, STEP_WRITE_CRYPTTAB),
                               *ui = first_kind(p, STEP_UPDATE_INITRAMFS);
        CHECK(lc && streq_ptr(pj_str(lc->args, "source_mapping"), "sda5_crypt") && streq_ptr(pj_str(lc->args, "device"), "/dev/md/pv") &&
              streq_ptr(pj_str(lc->args, "open_as"), "rootraid-sda5_crypt"), "the container of the PV is cloned onto the PV's array");
        CHECK(lc && !streq_ptr(pj_str(lc->args, "uuid"), "af000000-0000-4000-8000-00000000c0de"), "new LUKS UUID");
        CHECK(lc && pc && lc < pc && pc < ve && ve < mv && mv < vr, "luks-clone, pvcreate, vgextend, pvmove, vgreduce in order");
        CHECK(pc && streq_ptr(pj_str(pc->args, "device"), new_pv), "the new PV is the clone's mapping, not the array");
        CHECK(ve && streq_ptr(pj_str(ve->args, "device"), new_pv), "vgextend with the clone's mapping");
        CHECK(mv && streq_ptr(pj_str(mv->args, "from"), old_pv) && streq_ptr(pj_str(mv->args, "to"), new_pv),
              "pvmove from the old container's mapping (by its dm-uuid link, gone with it) onto the clone's");
        CHECK(vr && streq_ptr(pj_str(vr->args, "device"), old_pv), "vgreduce the old container's PV");
        json_object *e = ct ? json_object_array_get_idx(pj_get(ct->args, "entries"), 0) : NULL;
        char src[64];
        snprintf(src, sizeof src, "UUID=%s", lc ? strna(pj_str(lc->args, "uuid")) : "");
        CHECK(e && streq_ptr(pj_str(e, "name"), "sda5_crypt") && streq_ptr(pj_str(e, "old_uuid"), "af000000-0000-4000-8000-00000000c0de") &&
              streq_ptr(pj_str(e, "new_source"), src), "crypttab entry sda5_crypt opens the clone");
        CHECK(ct && ui && ct < ui, "crypttab written before the initramfs is made");
        const struct plan_step *fb = first_kind(p, STEP_FALLBACK_INITRAMFS);
        CHECK(fb && lc < fb && fb < pc && fb->reversible && !fb->writes_old_disk,
              "the running /boot's images open the clone before the volume group spans it, reversibly");
        CHECK(count_kind(p, STEP_COPY_LIVE) == 1, "only /boot is copied");
        json_object *arr = target_array(p, "pv");
        CHECK(arr && streq_ptr(pj_str(arr, "content"), "luks"), "the PV's array holds LUKS");
        CHECK(pj_u64(arr, "size") >= 18 * GIB, "the PV array holds the allocated extents and the header");
        json_object *c = json_object_array_get_idx(pj_get(p->target, "crypts"), 0);
        CHECK(c && streq_ptr(pj_str(c, "name"), "sda5_crypt") && streq_ptr(pj_str(c, "array"), "pv"), "one crypt, on the PV's array");
        json_object *vg = json_object_array_get_idx(pj_get(p->target, "volume_groups"), 0);
        CHECK(vg && streq_ptr(pj_str(vg, "old_pv_device"), old_pv) && streq_ptr(pj_str(vg, "pv_array"), "pv"), "the VG moves onto the array");
}

static void test_whole_disk(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("whole-disk");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;

        case_layout("whole-disk", STRATEGY_COPY, 1);
        CHECK(build(f, 0, false, &p, &err, "/dev/sdb", NULL) == 0, "%s", strna(err));
        json_object *d0 = json_object_array_get_idx(pj_get(p->target, "disks"), 0);
        CHECK(streq_ptr(pj_str(d0, "label"), "dos"), "a partition table is created for the old disk too");
        CHECK(streq_ptr(pj_str(first_kind(p, STEP_UPDATE_INITRAMFS)->args, "generator"), "dracut"), "dracut");
}

/* Other hardware: NVMe names (nvme-eui.*, partitions with "p"), virtio
 * disks with and without serial (by-path), a three-way mirror. */
static void test_hardware(void) {
        _cleanup_facts_free_ struct facts *nvme = load_facts("nvme-uefi"), *virtio = load_facts("virtio");
        _cleanup_plan_free_ struct plan *p = NULL, *q = NULL;
        _cleanup_free_ char *err = NULL;

        CHECK(build(nvme, 0, false, &p, &err, "/dev/nvme1n1", NULL) == 0, "nvme: %s", strna(err));
        if (p)
                check_common(p, "nvme-uefi");
        CHECK(build(virtio, 0, false, &q, &err, "/dev/vdb", "/dev/vdd", NULL) == 0, "virtio: %s", strna(err));
        if (!q)
                return;
        check_common(q, "virtio");
        json_object *disks = pj_get(q->target, "disks");
        CHECK(json_object_array_length(disks) == 3 &&
              startswith(strempty(pj_str(json_object_array_get_idx(disks, 2), "device")), "/dev/disk/by-path/"),
              "the disk without serial is named by path");
        CHECK(json_object_array_length(pj_get(target_array(q, "root"), "members")) == 3, "a three-way mirror");
}

/* Logical partitions (sda5, sda6 in an extended sda2) become primary
 * partitions 2 and 3; the extended container is not carried over. */
static void test_debian_logical(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("debian-logical");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;

        CHECK(build(f, 0, false, &p, &err, "/dev/sdb", NULL) == 0, "%s", strna(err));
        if (!p)
                return;
        check_common(p, "debian-logical");
        json_object *parts = pj_get(json_object_array_get_idx(pj_get(p->target, "disks"), 0), "partitions");
        CHECK(json_object_array_length(parts) == 3, "%zu partitions", json_object_array_length(parts));
        for (size_t i = 0; i < json_object_array_length(parts); i++)
                CHECK(pj_u64(json_object_array_get_idx(parts, i), "partno") == i + 1 &&
                      streq_ptr(pj_str(json_object_array_get_idx(parts, i), "type"), "0xfd"), "partition %zu", i + 1);
        json_object *home = target_array(p, "home");
        CHECK(home && pj_u64(json_object_array_get_idx(pj_get(home, "members"), 0), "partno") == 2, "/home on partition 2");
        const struct plan_step *add = plan_find_step(p, "add-swap");
        CHECK(add && pj_u64(pj_get(add->args, "member"), "partno") == 3, "the old sda6 joins as partition 3");
        const struct plan_step *fs = plan_find_step(p, "write-fstab");
        CHECK(fs && json_object_array_length(pj_get(fs->args, "entries")) == 3, "fstab: /, /home and swap");
}

/* /boot, /, /var (xfs), /home and swap each on an array, at RAID 5 but
 * for /boot, which stays a mirror across all three disks. */
static void test_gpt_separate(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("gpt-separate");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;

        CHECK(build(f, 5, false, &p, &err, "/dev/sdb", "/dev/sdc", NULL) == 0, "%s", strna(err));
        if (!p)
                return;
        check_common(p, "gpt-separate");
        static const char *const arrays[] = { "boot", "root", "var", "home", "swap" };
        for (size_t i = 0; i < ELEMENTSOF(arrays); i++) {
                json_object *a = target_array(p, arrays[i]);
                CHECK(a && json_object_array_length(pj_get(a, "members")) == 3, "array %s", arrays[i]);
                CHECK(pj_u64(a, "level") == (i == 0 ? 1u : 5u), "array %s at level %" PRIu64, arrays[i], pj_u64(a, "level"));
        }
        json_object *var = pj_find(pj_get(p->target, "filesystems"), "name", "var");
        CHECK(streq_ptr(pj_str(var, "type"), "xfs") && streq_ptr(pj_str(var, "label"), "var"), "/var stays xfs with its label");
        CHECK(count_kind(p, STEP_COPY_LIVE) == 4 && count_kind(p, STEP_COPY_FINAL) == 4, "four filesystems copied");
        const struct plan_step *m = first_kind(p, STEP_MOUNT_TARGET);
        json_object *mounts = m ? pj_get(m->args, "mounts") : NULL;
        CHECK(mounts && streq_ptr(pj_str(json_object_array_get_idx(mounts, 0), "mountpoint"), "/run/rootraid/target"),
              "the new root is mounted first, the others below it");
}

/* The root array of a plan over four disks at LEVEL: its members, size
 * and chunk. */
static void check_level(const struct plan *p, unsigned level, const char *what) {
        check_common(p, what);
        json_object *a = target_array(p, "root");
        CHECK(pj_u64(a, "level") == level && json_object_array_length(pj_get(a, "members")) == 4, "%s: 4 members", what);
        uint64_t member = pj_u64(a, "member_size"), size = pj_u64(a, "size");
        uint64_t dd = level == 1 ? 1 : level == 5 ? 3 : 2;
        CHECK(size <= dd * member && size + dd * 200 * MIB >= dd * member, "%s: %" PRIu64 " for members of %" PRIu64, what, size, member);
        CHECK(level == 1 ? pj_u64(a, "chunk") == 0 : pj_u64(a, "chunk") == 512 * 1024, "%s: chunk", what);
}

/* /boot in the root filesystem: RAID 1 and RAID 10 of four disks are
 * planned; RAID 5, 6 and 10 of five would let GRUB read the current disk's
 * member while it is rebuilt, and are refused. */
static void test_levels(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("bios-mbr");
        static const struct {
                unsigned level;
                bool refused;
        } cases[] = { { 1, false }, { 5, true }, { 6, true }, { 10, false } };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_plan_free_ struct plan *p = NULL;
                _cleanup_free_ char *err = NULL;
                char what[32];
                int r = build(f, cases[i].level, false, &p, &err, "/dev/sdb", "/dev/sdc", "/dev/sdd", NULL);
                snprintf(what, sizeof what, "raid%u", cases[i].level);
                if (cases[i].refused) {
                        CHECK(r == -EOPNOTSUPP && err && strstr(err, "/boot is in the root filesystem") && strstr(err, "--level 1"),
                              "%s with /boot in the root: %d %s", what, r, strna(err));
                        continue;
                }
                CHECK(r == 0, "%s: %s", what, strna(err));
                if (r == 0)
                        check_level(p, cases[i].level, what);
        }
        _cleanup_plan_free_ struct plan *p5 = NULL;
        _cleanup_free_ char *err5 = NULL;
        int r = build(f, 10, false, &p5, &err5, "/dev/sdb", "/dev/sdc", "/dev/sdd", "/dev/sde", NULL);
        CHECK(r == -EOPNOTSUPP && err5 && strstr(err5, "odd number of disks"), "raid10 of 5 with /boot in the root: %d %s", r, strna(err5));
}

/* With /boot separate every level is planned, /boot a mirror whatever
 * the level. */
static void test_levels_separate(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("gpt-separate");
        static const unsigned levels[] = { 1, 5, 6, 10 };

        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                _cleanup_plan_free_ struct plan *p = NULL;
                _cleanup_free_ char *err = NULL;
                char what[32];
                int r = build(f, levels[i], false, &p, &err, "/dev/sdb", "/dev/sdc", "/dev/sdd", NULL);
                snprintf(what, sizeof what, "raid%u", levels[i]);
                CHECK(r == 0, "%s: %s", what, strna(err));
                if (r < 0)
                        continue;
                check_level(p, levels[i], what);
                json_object *boot = target_array(p, "boot");
                CHECK(pj_u64(boot, "level") == 1 && pj_u64(boot, "chunk") == 0, "%s: /boot is a mirror", what);
        }
}

/* mdadm 4's data offsets for metadata 1.2, as mdadm --examine shows them. */
static void test_md_geometry(void) {
        CHECK(plan_md_data_offset(20 * GIB - MIB, 0) == 34816 * 512, "20 GiB member: %" PRIu64, plan_md_data_offset(20 * GIB - MIB, 0));
        CHECK(plan_md_data_offset(1000 * GIB, 0) == 264192 * 512, "1000 GiB member: %" PRIu64, plan_md_data_offset(1000 * GIB, 0));
        CHECK(plan_md_data_offset(512 * MIB, 0) == 2048 * 512, "512 MiB member: %" PRIu64, plan_md_data_offset(512 * MIB, 0));
        CHECK(plan_md_array_size(1, 2, 20 * GIB) == 20 * GIB - 17 * MIB, "raid1 of 20 GiB");
        CHECK(plan_md_array_size(5, 3, 20 * GIB) == 2 * (20 * GIB - 17 * MIB), "raid5 of 3x20 GiB: %" PRIu64, plan_md_array_size(5, 3, 20 * GIB));
}

static void test_deterministic(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("uefi");
        _cleanup_plan_free_ struct plan *a = NULL, *b = NULL;
        _cleanup_free_ char *sa = NULL, *sb = NULL;

        setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
        CHECK(build(f, 0, false, &a, NULL, "/dev/sdb", NULL) == 0, "first");
        CHECK(build(f, 0, false, &b, NULL, "/dev/disk/by-id/wwn-0x5000c50000000a02", NULL) == 0, "second");
        if (!a || !b)
                return;
        sa = plan_to_string(a);
        sb = plan_to_string(b);
        CHECK(streq(sa, sb), "two plans for the same facts differ");
        CHECK(streq(a->created, "2023-11-14T22:13:20Z"), "SOURCE_DATE_EPOCH: %s", a->created);
}

/* ---- refusals ---- */

static void expect_refusal(const struct facts *f, int expected, const char *needle, unsigned level, bool wipe, ...) {
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;
        char *disks[8] = {};
        size_t n = 0;
        va_list ap;

        va_start(ap, wipe);
        for (const char *d; (d = va_arg(ap, const char *)) && n < 7;)
                disks[n++] = (char *) d;
        va_end(ap);
        struct plan_options o = { .disks = disks, .level = level, .wipe = wipe };
        int r = plan_build(f, &o, &p, &err);
        CHECK(r == expected, "expected %s, got %d (%s): %s", strerror(-expected), r, r < 0 ? strerror(-r) : "ok", strna(err));
        CHECK(!p, "a plan came back with a refusal");
        CHECK(err && strstr(err, needle), "the message \"%s\" lacks \"%s\"", strna(err), needle);
}

static char *xstrdup(const char *s) {
        char *c = strdup(s);
        if (!c)
                abort();
        return c;
}

static void test_refusals(void) {
        _cleanup_facts_free_ struct facts *mbr = load_facts("bios-mbr"), *dirty = load_facts("dirty-targets");
        _cleanup_facts_free_ struct facts *md = load_facts("md-root"), *btrfs = load_facts("btrfs-root");

        /* Arguments. */
        expect_refusal(mbr, -EINVAL, "named twice", 0, false, "/dev/sdb", "/dev/disk/by-id/wwn-0x5000c50000000a02", NULL);
        expect_refusal(mbr, -EINVAL, "RAID 5 needs at least 3 disks", 5, false, "/dev/sdb", NULL);
        expect_refusal(mbr, -EINVAL, "RAID 6 needs at least 4 disks", 6, false, "/dev/sdb", "/dev/sdc", NULL);
        expect_refusal(mbr, -EINVAL, "RAID 10 needs at least 4 disks", 10, false, "/dev/sdb", "/dev/sdc", NULL);
        expect_refusal(mbr, -EINVAL, "level 4 is not supported", 4, false, "/dev/sdb", NULL);
        expect_refusal(mbr, -ENOENT, "/dev/sdq does not exist", 0, false, "/dev/sdq", NULL);
        expect_refusal(mbr, -EINVAL, "not a whole disk", 0, false, "/dev/sdb", "/dev/sda2", NULL);
        /* The source disk, or the root stack. */
        expect_refusal(mbr, -EBUSY, "is the disk the running system is on", 0, false, "/dev/sda", NULL);
        /* Targets in use or not blank, or too small (dirty-targets). */
        expect_refusal(dirty, -EEXIST, "linux_raid_member", 0, false, "/dev/sdb", NULL);
        expect_refusal(dirty, -EEXIST, "--wipe", 0, false, "/dev/sdc", NULL);
        expect_refusal(dirty, -EBUSY, "mounted at /srv", 0, true, "/dev/sdd", NULL);
        expect_refusal(dirty, -ENOSPC, "is too small by ", 0, false, "/dev/sde", NULL);
        /* Root already on md; unsupported stacks. */
        expect_refusal(md, -EALREADY, "already on md array", 0, false, "/dev/sdc", NULL);
        expect_refusal(btrfs, -EOPNOTSUPP, "btrfs subvolume /@", 0, false, "/dev/sdb", NULL);

        /* Conditions no fixture has, made by editing the facts. */
        struct blockdev *sdb = facts_find_kname(mbr, "sdb");
        struct swap_area *sw = realloc(mbr->swaps, (mbr->n_swaps + 1) * sizeof(*sw));
        if (!sdb || !sw)
                abort();
        mbr->swaps = sw;
        mbr->swaps[mbr->n_swaps++] = (struct swap_area) { .source = xstrdup("/dev/sdb"), .kname = xstrdup("sdb"), .size = GIB };
        expect_refusal(mbr, -EBUSY, "active swap", 0, false, "/dev/sdb", NULL);
        free(mbr->swaps[--mbr->n_swaps].source);
        free(mbr->swaps[mbr->n_swaps].kname);

        struct lvm_pv *pvs = realloc(mbr->pvs, (mbr->n_pvs + 1) * sizeof(*pvs));
        if (!pvs)
                abort();
        mbr->pvs = pvs;
        mbr->pvs[mbr->n_pvs++] = (struct lvm_pv) { .name = xstrdup("/dev/sdb"), .kname = xstrdup("sdb"), .vg = xstrdup("vg9") };
        expect_refusal(mbr, -EBUSY, "physical volume of volume group vg9", 0, true, "/dev/sdb", NULL);
        mbr->n_pvs--;
        free(mbr->pvs[mbr->n_pvs].name);
        free(mbr->pvs[mbr->n_pvs].kname);
        free(mbr->pvs[mbr->n_pvs].vg);

        CHECK(strv_extend(&sdb->holders, "md127") == 0, "oom");
        expect_refusal(mbr, -EBUSY, "held by md127", 0, false, "/dev/sdb", NULL);
        sdb->holders = strv_free(sdb->holders);

        uint64_t size = sdb->size;
        sdb->size = 3 * GIB;
        expect_refusal(mbr, -ENOSPC, "too small by 2", 0, false, "/dev/sdb", NULL);
        sdb->size = size;

        struct mount_point *root = facts_find_mount(mbr, "/");
        char *fstype = root->fstype, *kname = root->kname;
        root->fstype = xstrdup("nfs4");
        root->kname = NULL;
        expect_refusal(mbr, -EOPNOTSUPP, "network filesystem", 0, false, "/dev/sdb", NULL);
        free(root->fstype);
        root->fstype = xstrdup("zfs");
        expect_refusal(mbr, -EOPNOTSUPP, "ZFS", 0, false, "/dev/sdb", NULL);
        free(root->fstype);
        root->fstype = fstype;
        root->kname = kname;

        struct blockdev *sda1 = facts_find_kname(mbr, "sda1");
        sda1->type = BLOCKDEV_DM_OTHER;
        expect_refusal(mbr, -EOPNOTSUPP, "multipath", 0, false, "/dev/sdb", NULL);
        sda1->type = BLOCKDEV_PARTITION;

        /* Boot setups the new disks could not boot with. */
        mbr->boot_loader = BOOT_LOADER_OTHER;
        expect_refusal(mbr, -EOPNOTSUPP, "supports only GRUB", 0, false, "/dev/sdb", NULL);
        mbr->boot_loader = BOOT_LOADER_NONE;
        expect_refusal(mbr, -EOPNOTSUPP, "No installed boot loader", 0, false, "/dev/sdb", NULL);
        mbr->boot_loader = BOOT_LOADER_GRUB_PC;
        mbr->firmware = FIRMWARE_UEFI;
        expect_refusal(mbr, -EOPNOTSUPP, "fix the boot setup first", 0, false, "/dev/sdb", NULL);
        mbr->firmware = FIRMWARE_BIOS;
        mbr->initramfs = INITRAMFS_NONE;
        expect_refusal(mbr, -EOPNOTSUPP, "No initramfs generator", 0, false, "/dev/sdb", NULL);
        mbr->initramfs = INITRAMFS_TOOLS;

        /* A filesystem rootraid cannot make again. */
        char *t = sda1->fstype;
        sda1->fstype = xstrdup("jfs");
        expect_refusal(mbr, -EOPNOTSUPP, "cannot re-create", 0, false, "/dev/sdb", NULL);
        free(sda1->fstype);
        sda1->fstype = t;

        /* The root filesystem visible only through a bind of a subdirectory. */
        struct mount_point *rm = facts_find_mount(mbr, "/");
        char *fr = rm->fs_root;
        rm->fs_root = xstrdup("/rootfs");
        expect_refusal(mbr, -EOPNOTSUPP, "only as a bind of its directory /rootfs", 0, false, "/dev/sdb", NULL);
        free(rm->fs_root);
        rm->fs_root = fr;

        /* A disk known only by its kernel name. */
        char *sid = sdb->stable_id;
        sdb->stable_id = NULL;
        expect_refusal(mbr, -EINVAL, "has no stable name", 0, false, "/dev/sdb", NULL);
        sdb->stable_id = sid;

        /* And the same facts, unedited, plan fine again. */
        _cleanup_plan_free_ struct plan *p = NULL;
        CHECK(build(mbr, 0, false, &p, NULL, "/dev/sdb", NULL) == 0, "restored facts refused");
}

/* Layouts that lose something or cannot boot once mirrored. */
static void test_refusals_layout(void) {
        _cleanup_facts_free_ struct facts *gpt = load_facts("bios-gpt"), *uefi = load_facts("uefi"), *lvm = load_facts("lvm");

        /* /boot unmounted: its filesystem would be lost with the old disk. */
        struct mount_point *boot = facts_find_mount(gpt, "/boot");
        char *k = boot->kname;
        boot->kname = NULL;
        expect_refusal(gpt, -EOPNOTSUPP, "unmounted ext4 filesystem", 0, false, "/dev/sdb", NULL);
        boot->kname = k;

        /* BIOS + GPT without a bios_grub partition. */
        struct blockdev *sda = facts_find_kname(gpt, "sda");
        for (size_t i = 0; i < sda->table->n_partitions; i++)
                if (sda->table->partitions[i].role == PARTITION_ROLE_BIOS_GRUB)
                        sda->table->partitions[i].role = PARTITION_ROLE_DATA;
        expect_refusal(gpt, -EOPNOTSUPP, "no BIOS boot partition", 0, false, "/dev/sdb", NULL);

        /* UEFI with no ESP on the disk. */
        struct blockdev *u = facts_find_kname(uefi, "sda");
        for (size_t i = 0; i < u->table->n_partitions; i++)
                if (u->table->partitions[i].role == PARTITION_ROLE_ESP)
                        u->table->partitions[i].role = PARTITION_ROLE_DATA;
        struct mount_point *efi = facts_find_mount(uefi, "/boot/efi");
        free(efi->target);
        efi->target = xstrdup("/efi");
        expect_refusal(uefi, -EOPNOTSUPP, "no EFI system partition", 0, false, "/dev/sdb", NULL);

        /* A 4Kn target under LVM (a copied filesystem does not mind:
         * test_bios_gpt). */
        struct blockdev *t = facts_find_kname(lvm, "sdb");
        t->logical_sector_size = 4096;
        expect_refusal(lvm, -EOPNOTSUPP, "4096-byte logical sectors", 0, false, "/dev/sdb", NULL);
        t->logical_sector_size = 512;

        /* A root LV over two PVs. */
        struct mount_point *root = facts_find_mount(lvm, "/");
        struct blockdev *lv = facts_find_kname(lvm, root->kname);
        CHECK(strv_extend(&lv->slaves, "sdb") == 0, "oom");
        expect_refusal(lvm, -EOPNOTSUPP, "spans several devices", 0, false, "/dev/sdb", NULL);
}

/* LUKS setups the luks strategy does not handle, refused before any change. */
static void test_refusals_luks(void) {
        _cleanup_facts_free_ struct facts *luks = load_facts("luks"), *ll = load_facts("luks-lvm");

        /* A LUKS root whose initramfs dracut builds: the boot chain the
         * strategy updates and checks is cryptsetup-initramfs's. */
        luks->initramfs = INITRAMFS_DRACUT;
        expect_refusal(luks, -EOPNOTSUPP, "initramfs is built by dracut", 0, false, "/dev/sdb", NULL);

        /* Encrypted LVM: its boot chain is cryptsetup-initramfs's too. */
        ll->initramfs = INITRAMFS_DRACUT;
        expect_refusal(ll, -EOPNOTSUPP, "initramfs is built by dracut", 0, false, "/dev/sdb", NULL);
        ll->initramfs = INITRAMFS_TOOLS;

        /* Encrypted LVM whose container is on the whole disk, not on a
         * partition: the disk cannot then take a RAID partition. */
        struct blockdev *crypt = facts_find_kname(ll, "dm-0");
        free(crypt->slaves[0]);
        crypt->slaves[0] = xstrdup("sda");
        expect_refusal(ll, -EOPNOTSUPP, "LUKS container sda5_crypt, which is on sda, not on a partition", 0, false, "/dev/sdb", NULL);
}

/* --switch soft-reboot: switch-root between boot-once and a reboot step
 * that waits for the administrator; refused where the root is not copied. */
static void test_soft_reboot(void) {
        _cleanup_facts_free_ struct facts *mbr = load_facts("bios-mbr"), *lvm = load_facts("lvm");
        _cleanup_facts_free_ struct facts *ll = load_facts("luks-lvm");
        _cleanup_plan_free_ struct plan *p = NULL, *plain = NULL;
        _cleanup_free_ char *err = NULL, *err2 = NULL;
        char *disks[] = { (char *) "/dev/sdb", NULL };
        struct plan_options o = { .disks = disks, .soft_reboot = true };

        CHECK(plan_build(mbr, &o, &p, &err) == 0, "%s", strna(err));
        CHECK(build(mbr, 0, false, &plain, NULL, "/dev/sdb", NULL) == 0, "the same plan with a reboot");
        if (!p || !plain)
                return;
        check_common(p, "bios-mbr --switch soft-reboot");
        CHECK(count_kind(p, STEP_SWITCH_ROOT) == 1 && count_kind(plain, STEP_SWITCH_ROOT) == 0, "one switch-root, only when asked");
        CHECK(p->n_steps == plain->n_steps + 1, "one step more: %zu vs %zu", p->n_steps, plain->n_steps);
        size_t once = (size_t) (first_kind(p, STEP_BOOT_ONCE) - p->steps);
        const struct plan_step *sw = first_kind(p, STEP_SWITCH_ROOT), *rb = first_kind(p, STEP_REBOOT);
        CHECK(sw == &p->steps[once + 1] && rb == &p->steps[once + 2], "boot-once, switch-root, reboot in that order");
        CHECK(json_object_get_boolean(pj_get(rb->args, "after_switch")), "the reboot waits for the administrator");
        CHECK(!pj_get(first_kind(plain, STEP_REBOOT)->args, "after_switch"), "a plain reboot has no after_switch");
        CHECK(p->point_of_no_return > (size_t) (rb - p->steps), "the old disk is overwritten only after the reboot");
        CHECK(streq_ptr(pj_str(sw->args, "root"), "/run/rootraid/target"), "switches to the mounted new root");

        /* Roots that move with a reboot, not by a copy. */
        struct plan *q = NULL;
        CHECK(plan_build(lvm, &o, &q, &err2) == -EOPNOTSUPP && !q, "lvm refused");
        CHECK(err2 && strstr(err2, "this root is on LVM"), "lvm: %s", strna(err2));
        free(err2);
        err2 = NULL;
        CHECK(plan_build(ll, &o, &q, &err2) == -EOPNOTSUPP && !q, "LVM in LUKS refused");
        CHECK(err2 && strstr(err2, "--switch soft-reboot works only when the root filesystem is copied"), "luks-lvm: %s", strna(err2));
}

static void test_wipe(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("dirty-targets");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;

        CHECK(build(f, 0, true, &p, &err, "/dev/sdb", NULL) == 0, "--wipe: %s", strna(err));
        if (!p)
                return;
        const struct plan_step *w = first_kind(p, STEP_WIPE_SIGNATURES);
        CHECK(w && w == &p->steps[0], "the wipe comes first");
        json_object *sigs = w ? pj_get(w->args, "signatures") : NULL;
        bool md = false, ext4 = false, dos = false;
        for (size_t i = 0; i < json_object_array_length(sigs); i++) {
                const char *t = pj_str(json_object_array_get_idx(sigs, i), "type");
                md = md || streq_ptr(t, "linux_raid_member");
                ext4 = ext4 || streq_ptr(t, "ext4");
                dos = dos || streq_ptr(t, "dos");
        }
        CHECK(md && ext4 && dos, "every signature named in the wipe step");
        check_common(p, "dirty-targets --wipe");
}

/* ---- stale plans ---- */

static void test_stale(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("bios-mbr");
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL, *changes = NULL;

        CHECK(build(f, 0, false, &p, &err, "/dev/sdb", NULL) == 0, "%s", strna(err));
        if (!p)
                return;
        CHECK(plan_check_facts(p, f, &changes) == 0, "fresh plan stale: %s", strna(changes));

        _cleanup_facts_free_ struct facts *g = load_facts("bios-mbr");
        struct blockdev *sdb = facts_find_kname(g, "sdb");
        sdb->size /= 2;
        struct signature *s = calloc(1, sizeof(*s));
        s->type = xstrdup("ext4");
        s->offset = 1080;
        sdb->signatures = s;
        sdb->n_signatures = 1;
        CHECK(plan_check_facts(p, g, &changes) == -ESTALE, "changed facts accepted");
        CHECK(changes && strstr(changes, "wwn-0x5000c50000000a02: size 20.0 GiB -> 10.0 GiB"), "size change not named: %s", strna(changes));
        CHECK(changes && strstr(changes, "a new signature ext4@1080 appeared on /dev/disk/by-id/wwn-0x5000c50000000a02"),
              "signature not named: %s", strna(changes));
        free(changes);
        changes = NULL;

        /* Another machine altogether. */
        _cleanup_facts_free_ struct facts *h = load_facts("uefi");
        CHECK(plan_check_facts(p, h, &changes) == -ESTALE, "another machine accepted");
        CHECK(changes && strstr(changes, "firmware: bios -> uefi"), "firmware change not named: %s", strna(changes));

        /* The same disks, another machine-id: a clone, not this machine. */
        free(changes);
        changes = NULL;
        _cleanup_facts_free_ struct facts *k = load_facts("bios-mbr");
        free(k->machine_id);
        k->machine_id = xstrdup("0123456789abcdef0123456789abcdef");
        CHECK(plan_check_facts(p, k, &changes) == -ESTALE && changes && strstr(changes, "another machine"),
              "a clone accepted: %s", strna(changes));
}

/* ---- loader: one invalid document per violation class ---- */

struct violation {
        const char *name;
        const char *path;        /* the path the error must name */
        const char *words;       /* and what it must say */
        bool loader_only;        /* not expressible in JSON Schema (semantic) */
};

static json_object *step_of_kind(json_object *root, const char *kind, size_t *ret_index) {
        json_object *steps = pj_get(root, "steps");
        for (size_t i = 0; i < json_object_array_length(steps); i++)
                if (streq_ptr(pj_str(json_object_array_get_idx(steps, i), "kind"), kind)) {
                        *ret_index = i;
                        return json_object_array_get_idx(steps, i);
                }
        abort();
}

/* Applies violation v to a valid plan document; fills the expected path. */
static char *make_violation(json_object *root, const struct violation *v, char *path, size_t size) {
        size_t i = 0;
        json_object *s;

        snprintf(path, size, "%s", v->path);
        if (streq(v->name, "unknown-field")) {
                json_object_object_add(root, "bogus", json_object_new_int(1));
        } else if (streq(v->name, "unknown-nested-field")) {
                s = step_of_kind(root, "md-create", &i);
                json_object_object_add(pj_get(s, "args"), "spare_devices", json_object_new_int(1));
                snprintf(path, size, "steps[%zu].args.spare_devices", i);
        } else if (streq(v->name, "wrong-type")) {
                s = step_of_kind(root, "md-create", &i);
                json_object_object_add(pj_get(s, "args"), "level", json_object_new_string("1"));
                snprintf(path, size, "steps[%zu].args.level", i);
        } else if (streq(v->name, "wrong-type-bool")) {
                json_object_object_add(json_object_array_get_idx(pj_get(root, "steps"), 0), "reversible", json_object_new_int(1));
        } else if (streq(v->name, "missing-field")) {
                json_object_object_del(json_object_array_get_idx(pj_get(root, "steps"), 0), "description");
        } else if (streq(v->name, "null-not-allowed")) {
                json_object_object_add(root, "fingerprint", NULL);
        } else if (streq(v->name, "unknown-step-kind")) {
                json_object_object_add(json_object_array_get_idx(pj_get(root, "steps"), 1), "kind", json_object_new_string("format-c"));
        } else if (streq(v->name, "unknown-value")) {
                json_object_object_add(root, "strategy", json_object_new_string("zfs"));
        } else if (streq(v->name, "unsupported-level")) {
                json_object_object_add(root, "level", json_object_new_int(4));
        } else if (streq(v->name, "negative-size")) {
                json_object *a = json_object_array_get_idx(pj_get(pj_get(root, "target"), "arrays"), 0);
                json_object_object_add(a, "size", json_object_new_int(-5));
        } else if (streq(v->name, "out-of-range")) {
                json_object *d = json_object_array_get_idx(pj_get(pj_get(root, "target"), "disks"), 0);
                json_object_object_add(json_object_array_get_idx(pj_get(d, "partitions"), 0), "partno", json_object_new_int(0));
        } else if (streq(v->name, "unstable-device-name")) {
                s = step_of_kind(root, "partition-disk", &i);
                json_object_object_add(pj_get(s, "args"), "disk", json_object_new_string("/dev/sdb"));
                snprintf(path, size, "steps[%zu].args.disk", i);
        } else if (streq(v->name, "bad-uuid")) {
                s = step_of_kind(root, "md-create", &i);
                json_object_object_add(pj_get(s, "args"), "uuid", json_object_new_string("not-a-uuid"));
                snprintf(path, size, "steps[%zu].args.uuid", i);
        } else if (streq(v->name, "empty-steps")) {
                json_object_object_add(root, "steps", json_object_new_array());
        } else if (streq(v->name, "not-an-object")) {
                json_object_object_add(root, "target", json_object_new_array());
        } else if (streq(v->name, "broken-array-reference")) {
                s = step_of_kind(root, "md-add", &i);
                json_object_object_add(pj_get(s, "args"), "array", json_object_new_string("boot2"));
                snprintf(path, size, "steps[%zu].args.array", i);
        } else if (streq(v->name, "broken-filesystem-reference")) {
                s = step_of_kind(root, "copy-live", &i);
                json_object_object_add(pj_get(s, "args"), "filesystem", json_object_new_string("home"));
                snprintf(path, size, "steps[%zu].args.filesystem", i);
        } else if (streq(v->name, "broken-disk-reference")) {
                s = step_of_kind(root, "install-bootloader", &i);
                json_object_object_add(pj_get(s, "args"), "disk", json_object_new_string("/dev/disk/by-id/wwn-0x5000c50000000fff"));
                snprintf(path, size, "steps[%zu].args.disk", i);
        } else if (streq(v->name, "broken-partition-reference")) {
                s = step_of_kind(root, "md-add", &i);
                json_object_object_add(pj_get(pj_get(s, "args"), "member"), "partno", json_object_new_int(9));
                snprintf(path, size, "steps[%zu].args.member.partno", i);
        } else if (streq(v->name, "uuid-disagrees-with-target")) {
                s = step_of_kind(root, "md-add", &i);
                json_object_object_add(pj_get(s, "args"), "uuid", json_object_new_string("00000000:00000000:00000000:00000001"));
                snprintf(path, size, "steps[%zu].args.uuid", i);
        } else if (streq(v->name, "duplicate-step-id")) {
                json_object_object_add(json_object_array_get_idx(pj_get(root, "steps"), 2), "id",
                                       json_object_new_string(pj_str(json_object_array_get_idx(pj_get(root, "steps"), 1), "id")));
        } else if (streq(v->name, "undo-without-reversible")) {
                json_object_object_add(json_object_array_get_idx(pj_get(root, "steps"), 0), "reversible", json_object_new_boolean(false));
        } else if (streq(v->name, "wrong-point-of-no-return")) {
                json_object_object_add(root, "point_of_no_return", json_object_new_string("verify"));
        } else if (streq(v->name, "huge-integer")) {
                json_object_object_add(root, "copy_bytes", json_object_new_uint64(UINT64_MAX));
        } else if (streq(v->name, "future-format")) {
                json_object_object_add(root, "format_version", json_object_new_int(2));
        } else if (streq(v->name, "edited-facts")) {
                json_object_object_add(pj_get(root, "facts"), "firmware", json_object_new_string("uefi"));
        } else
                abort();
        return strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static const struct violation violations[] = {
        { "unknown-field", "bogus", "unknown field" , false },
        { "unknown-nested-field", NULL, "unknown field" , false },
        { "wrong-type", NULL, "expected integer, got string" , false },
        { "wrong-type-bool", "steps[0].reversible", "expected boolean, got integer" , false },
        { "missing-field", "steps[0].description", "missing required field" , false },
        { "null-not-allowed", "fingerprint", "expected string, got null" , false },
        { "unknown-step-kind", "steps[1].kind", "unknown step kind \"format-c\"" , false },
        { "unknown-value", "strategy", "unknown value \"zfs\"" , false },
        { "unsupported-level", "level", "unsupported value 4" , false },
        { "negative-size", "target.arrays[0].size", "expected an integer >= 0" , false },
        { "out-of-range", "target.disks[0].partitions[0].partno", "out of range" , false },
        { "unstable-device-name", NULL, "kernel name" , false },
        { "bad-uuid", NULL, "does not match" , false },
        { "empty-steps", "steps", "at least 1 item" , false },
        { "not-an-object", "target", "expected object, got array" , false },
        { "broken-array-reference", NULL, "no array \"boot2\" in target.arrays", true },
        { "broken-filesystem-reference", NULL, "no filesystem \"home\" in target.filesystems", true },
        { "broken-disk-reference", NULL, "no disk \"/dev/disk/by-id/wwn-0x5000c50000000fff\" in target.disks", true },
        { "broken-partition-reference", NULL, "no partition 9 on disk", true },
        { "uuid-disagrees-with-target", NULL, "is not the uuid of target array", true },
        { "duplicate-step-id", "steps[2].id", "duplicate id", true },
        { "undo-without-reversible", "steps[0].undo", "must be null when reversible is false", false },
        { "wrong-point-of-no-return", "point_of_no_return", "must be \"partition-old-disk\"", true },
        { "edited-facts", "fingerprint", "does not match facts", true },
        { "future-format", "format_version", "unsupported format version 2", false },
        { "huge-integer", "copy_bytes", "integer out of range", false },
};

static json_object *valid_document(void) {
        _cleanup_facts_free_ struct facts *f = load_facts("bios-gpt");
        _cleanup_plan_free_ struct plan *p = NULL;
        json_object *o = NULL;

        if (build(f, 0, false, &p, NULL, "/dev/sdb", NULL) < 0 || plan_to_json(p, &o) < 0)
                abort();
        return o;
}

static void test_violations(const char *dump_dir) {
        _cleanup_fclose_ FILE *manifest = NULL;

        if (dump_dir) {
                _cleanup_free_ char *m = NULL;
                (void) mkdir(dump_dir, 0755); /* may exist; the open below reports real trouble */
                if (asprintf(&m, "%s/manifest", dump_dir) < 0 || !(manifest = fopen(m, "we")))
                        abort();
        }
        for (size_t k = 0; k < ELEMENTSOF(violations); k++) {
                const struct violation *v = &violations[k];
                json_object *root = valid_document();
                char path[256];
                _cleanup_free_ char *doc = make_violation(root, v, path, sizeof path), *err = NULL;
                struct plan *p = NULL;

                json_object_put(root);
                int r = plan_load_string(doc, strlen(doc), &p, &err);
                CHECK(r == -EBADMSG, "%s: loaded (%d)", v->name, r);
                CHECK(!p, "%s: a plan came back", v->name);
                char want[300];
                snprintf(want, sizeof want, "%s: ", path);
                CHECK(err && startswith(err, want) && strstr(err, v->words), "%s: error \"%s\", wanted \"%s...%s\"",
                      v->name, strna(err), want, v->words);
                plan_free(p);
                if (manifest) {
                        _cleanup_free_ char *file = NULL;
                        if (asprintf(&file, "%s/%s.json", dump_dir, v->name) < 0 ||
                            write_file_atomic(file, doc, strlen(doc), 0644) < 0)
                                abort();
                        fprintf(manifest, "%s\t%s\t%s\n", v->name, path, v->loader_only ? "loader-only" : "both");
                }
        }

        /* Not JSON at all; never a crash. */
        static const char *const garbage[] = { "", "{", "[]", "null", "{\"format_version\": 1} trailing", "\"x\"", "{\"a\":", "1e999" };
        for (size_t k = 0; k < ELEMENTSOF(garbage); k++) {
                _cleanup_free_ char *err = NULL;
                struct plan *p = NULL;
                CHECK(plan_load_string(garbage[k], strlen(garbage[k]), &p, &err) == -EBADMSG && err && !p, "garbage %zu accepted", k);
                plan_free(p);
        }
        _cleanup_free_ char *err = NULL;
        struct plan *p = NULL;
        CHECK(plan_load_string("{\"a\":\0}", 7, &p, &err) == -EBADMSG && err, "NUL byte accepted");
        plan_free(p);
}

static void test_sha256(void) {
        char hex[SHA256_HEX_SIZE];
        /* FIPS 180-4 examples. */
        CHECK(streq(sha256_hex("abc", 3, hex), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"), "abc: %s", hex);
        CHECK(streq(sha256_hex("", 0, hex), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"), "empty: %s", hex);
        const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        CHECK(streq(sha256_hex(m, strlen(m), hex), "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"), "448 bits: %s", hex);
        /* Fed in pieces across block boundaries, the same digest. */
        char big[1000];
        memset(big, 'a', sizeof big);
        struct sha256_ctx c;
        uint8_t d1[32], d2[32];
        sha256_init(&c);
        for (size_t i = 0; i < sizeof big; i += 7)
                sha256_update(&c, big + i, MIN(7, sizeof big - i));
        sha256_final(&c, d1);
        sha256(big, sizeof big, d2);
        CHECK(memcmp(d1, d2, 32) == 0, "incremental");
}

int main(int argc, char *argv[]) {
        static const struct {
                const char *name;
                void (*run)(void);
        } cases[] = {
                { "bios-mbr", test_bios_mbr },
                { "bios-gpt", test_bios_gpt },
                { "uefi", test_uefi },
                { "lvm", test_lvm },
                { "luks", test_luks },
                { "luks-lvm", test_luks_lvm },
                { "whole-disk", test_whole_disk },
                { "levels", test_levels },
                { "hardware", test_hardware },
                { "debian-logical", test_debian_logical },
                { "gpt-separate", test_gpt_separate },
                { "levels-separate", test_levels_separate },
                { "md-geometry", test_md_geometry },
                { "deterministic", test_deterministic },
                { "refusals", test_refusals },
                { "refusals-layout", test_refusals_layout },
                { "refusals-luks", test_refusals_luks },
                { "wipe", test_wipe },
                { "soft-reboot", test_soft_reboot },
                { "stale", test_stale },
                { "sha256", test_sha256 },
        };

        if (argc < 3) {
                fprintf(stderr, "usage: %s FIXTURES_DIR CASE | FIXTURES_DIR dump DIR\n", argv[0]);
                return 2;
        }
        fixtures = argv[1];
        /* The luks fixture is built only where cryptsetup could write it. */
        if (streq(argv[2], "luks") || streq(argv[2], "refusals-luks")) {
                _cleanup_free_ char *stamp = NULL;
                struct stat st;
                if (asprintf(&stamp, "%s/luks/dev/sda2", fixtures) < 0 || stat(stamp, &st) < 0) {
                        fprintf(stderr, "luks fixture not built here\n");
                        return 77;
                }
        }
        if (streq(argv[2], "violations") || streq(argv[2], "dump"))
                test_violations(streq(argv[2], "dump") ? argv[3] : NULL);
        else {
                bool found = false;
                for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                        if (streq(cases[i].name, argv[2])) {
                                cases[i].run();
                                found = true;
                        }
                if (!found) {
                        fprintf(stderr, "unknown case %s\n", argv[2]);
                        return 2;
                }
        }
        if (failures) {
                fprintf(stderr, "%u check(s) failed\n", failures);
                return 1;
        }
        printf("%s: ok\n", argv[2]);
        return 0;
}
