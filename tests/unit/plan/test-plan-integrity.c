/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `rootraid plan --integrity` on the fixture sysroots: every member of the
 * arrays except /boot's gets an integrity-format step before the array is
 * made of it (the new disks' before md-create, the old disk's after the
 * point of no return, before md-add), md-create and md-add name the
 * mappings, the boot chain is installed before the initramfs is built and
 * checked after, /etc/integritytab comes once every volume exists, the
 * arrays are sized for what dm-integrity leaves, and the option is refused
 * where the boot chain cannot work (no separate /boot, dracut, LVM).
 *
 *   test-plan-integrity FIXTURES_DIR */
#include <inttypes.h>
#include <stdio.h>

#include "inspect/inspect.h"
#include "plan/plan.h"
#include "plan/plan-internal.h"
#include "util/strutil.h"

#include "plan-test.h"

static int plan(const char *layout, const char *disk, bool integrity, struct plan **ret, char **ret_error) {
        _cleanup_facts_free_ struct facts *f = load_facts(layout);
        char *disks[] = { (char *) disk, NULL };
        struct plan_options o = { .disks = disks, .integrity = integrity };
        return plan_build(f, &o, ret, ret_error);
}

static ssize_t step_index(const struct plan *p, const char *id) {
        for (size_t i = 0; i < p->n_steps; i++)
                if (streq(p->steps[i].id, id))
                        return (ssize_t) i;
        return -1;
}

/* The "integrity" name of member slot `slot` of step id's members. */
static const char *member_integrity(const struct plan *p, const char *id, size_t slot) {
        const struct plan_step *s = plan_find_step(p, id);
        json_object *members = s ? pj_get(s->args, "members") : NULL;
        if (!members)
                return s ? pj_str(pj_get(s->args, "member"), "integrity") : NULL;
        return pj_str(json_object_array_get_idx(members, slot), "integrity");
}

static void test_bios_gpt(void) {
        _cleanup_plan_free_ struct plan *p = NULL, *plain = NULL;
        _cleanup_free_ char *err = NULL, *err2 = NULL;

        CHECK(plan("bios-gpt", "/dev/sdb", true, &p, &err) == 0, "bios-gpt --integrity refused: %s", strna(err));
        CHECK(plan("bios-gpt", "/dev/sdb", false, &plain, &err2) == 0, "bios-gpt: %s", strna(err2));
        if (!p || !plain)
                return;

        /* The order of the runbook. */
        static const char *const order[] = {
                "partition-disk1", "integrity-root-i1", "integrity-swap-i1", "create-root", "create-swap",
                "write-mdadm-conf", "integrity-boot-files", "update-initramfs", "integrity-boot-initramfs", "reboot",
                "partition-old-disk", "integrity-root-i0", "integrity-swap-i0", "add-root", "add-swap",
                "wait-resync", "integrity-boot-integritytab", "verify", NULL,
        };
        ssize_t prev = -1;
        for (size_t i = 0; order[i]; i++) {
                ssize_t k = step_index(p, order[i]);
                CHECK(k > prev, "step %s at %zd, after %s at %zd", order[i], k, i ? order[i - 1] : "-", prev);
                prev = k;
        }
        CHECK(step_index(p, "integrity-boot-i1") < 0 && step_index(p, "integrity-boot-i0") < 0,
              "/boot's array got integrity: GRUB could not read it");
        CHECK(step_index(plain, "integrity-root-i1") < 0 && step_index(plain, "integrity-boot-files") < 0,
              "a plan without --integrity has integrity steps");

        /* The point of no return stays the old disk's repartitioning; the
         * new disk's formats are undoable, the old disk's are not. */
        CHECK(p->point_of_no_return == (size_t) step_index(p, "partition-old-disk"), "point of no return moved");
        const struct plan_step *f1 = plan_find_step(p, "integrity-root-i1"), *f0 = plan_find_step(p, "integrity-root-i0");
        CHECK(f1 && f1->reversible && !f1->writes_old_disk, "new disk's format: reversible, not the old disk");
        CHECK(f0 && !f0->reversible && f0->writes_old_disk, "old disk's format writes the old disk");
        if (f1) {
                CHECK(streq_ptr(pj_str(f1->args, "algorithm"), "crc32c") && pj_u64(f1->args, "tag_size") == 4 &&
                      pj_u64(f1->args, "sector_size") == 4096, "format parameters");
                CHECK(startswith(strempty(pj_str(f1->args, "device")), "/dev/disk/by-partuuid/"), "device %s", strna(pj_str(f1->args, "device")));
        }

        /* md-create and md-add take the mappings; /boot's the partitions.
         * The old disk (i0) takes the last slot. */
        CHECK(streq_ptr(member_integrity(p, "create-root", 0), "root-i1") && streq_ptr(member_integrity(p, "create-root", 1), "root-i0"),
              "create-root members: %s %s", strna(member_integrity(p, "create-root", 0)), strna(member_integrity(p, "create-root", 1)));
        CHECK(!member_integrity(p, "create-boot", 1), "create-boot member has integrity");
        CHECK(streq_ptr(member_integrity(p, "add-root", 0), "root-i0"), "add-root member: %s", strna(member_integrity(p, "add-root", 0)));
        CHECK(!member_integrity(p, "add-boot", 0), "add-boot member has integrity");

        /* The boot chain lists all four volumes by PARTUUID; the files go
         * into the new root, integritytab into the running one. */
        const struct plan_step *bf = plan_find_step(p, "integrity-boot-files"), *bt = plan_find_step(p, "integrity-boot-integritytab");
        json_object *vols = bf ? pj_get(bf->args, "volumes") : NULL;
        CHECK(vols && json_object_array_length(vols) == 4, "%zu volumes", vols ? json_object_array_length(vols) : 0);
        for (size_t i = 0; vols && i < json_object_array_length(vols); i++)
                CHECK(startswith(strempty(pj_str(json_object_array_get_idx(vols, i), "device")), "/dev/disk/by-partuuid/"), "volume %zu", i);
        CHECK(bf && streq_ptr(pj_str(bf->args, "root"), "/run/rootraid/target"), "files into the new root");
        CHECK(bt && streq_ptr(pj_str(bt->args, "root"), "/"), "integritytab into the running root");

        /* Sizes: md gets what dm-integrity provides, so the root array is
         * smaller than without --integrity, by more than the journal and
         * the tags, and still holds the data. */
        json_object *ar = pj_find(pj_get(p->target, "arrays"), "name", "root"), *pr = pj_find(pj_get(plain->target, "arrays"), "name", "root");
        uint64_t member = pj_u64(ar, "member_size"), size = pj_u64(ar, "size");
        /* (swap keeps its size, so its partition grows and root's shrinks) */
        CHECK(member <= pj_u64(pr, "member_size") && member + GIB / 2 > pj_u64(pr, "member_size"), "root partition %" PRIu64, member);
        CHECK(size < pj_u64(pr, "size") && size + MIN(member / 128, 64 * MIB) + member / 1024 <= member,
              "root array %" PRIu64 " with integrity, %" PRIu64 " without, member %" PRIu64, size, pj_u64(pr, "size"), member);
        json_object *as = pj_find(pj_get(p->target, "arrays"), "name", "swap"), *ps = pj_find(pj_get(plain->target, "arrays"), "name", "swap");
        CHECK(pj_u64(as, "size") >= pj_u64(ps, "size") - MIB, "swap keeps its size: %" PRIu64 " vs %" PRIu64, pj_u64(as, "size"), pj_u64(ps, "size"));
        CHECK(size + pj_u64(ar, "data_offset") <= plan_integrity_provided(member), "array fits in what integrity provides");
        json_object *ab = pj_find(pj_get(p->target, "arrays"), "name", "boot"), *pb = pj_find(pj_get(plain->target, "arrays"), "name", "boot");
        CHECK(pj_u64(ab, "size") == pj_u64(pb, "size"), "/boot's array is unchanged");

        /* The round trip: what plan writes, the loader takes back. */
        _cleanup_free_ char *text = plan_to_string(p), *lerr = NULL;
        _cleanup_plan_free_ struct plan *back = NULL;
        CHECK(text && plan_load_string(text, strlen(text), &back, &lerr) == 0, "reload: %s", strna(lerr));
}

static void test_geometry(void) {
        /* The estimate stays below what the kernel leaves.  Measured in a
         * bookworm guest (6.1) with 4096-byte sectors, 4-byte tags and the
         * default journal: see README, "--integrity". */
        CHECK(plan_integrity_provided(GIB) <= GIB - 8 * MIB - MIB, "1 GiB: %" PRIu64, plan_integrity_provided(GIB));
        CHECK(plan_integrity_provided(GIB) >= GIB - 16 * MIB, "1 GiB: %" PRIu64, plan_integrity_provided(GIB));
        CHECK(plan_integrity_provided(100 * GIB) <= 100 * GIB - 64 * MIB - 100 * MIB, "the journal is capped, tags grow");
        CHECK(plan_integrity_provided(100 * GIB) >= 100 * GIB - 300 * MIB, "100 GiB: %" PRIu64, plan_integrity_provided(100 * GIB));
        CHECK(plan_integrity_provided(2 * MIB) == 0, "too small");
        CHECK(plan_integrity_provided(GIB) % MIB == 0, "MiB multiple");
}

static void expect_refused(const char *layout, const char *disk, const char *why) {
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_free_ char *err = NULL;
        int r = plan(layout, disk, true, &p, &err);

        CHECK(r == -EOPNOTSUPP, "%s --integrity: %d (%s)", layout, r, strna(err));
        CHECK(err && strstr(err, why) && strstr(err, "--integrity"), "%s: message '%s' lacks '%s'", layout, strna(err), why);
        CHECK(!p, "%s: a plan was returned", layout);
}

static void test_refusals(void) {
        expect_refused("bios-mbr", "/dev/sdb", "separate /boot");
        expect_refused("uefi", "/dev/sdb", "separate /boot");
        expect_refused("lvm", "/dev/sdb", "LVM");
        expect_refused("rhel", "/dev/sdc", "initramfs-tools");
}

int main(int argc, char *argv[]) {
        if (argc != 2) {
                fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
                return 2;
        }
        fixtures = argv[1];
        test_bios_gpt();
        test_geometry();
        test_refusals();
        if (failures)
                fprintf(stderr, "%u check(s) failed\n", failures);
        return failures ? 1 : 0;
}
