/* SPDX-License-Identifier: GPL-2.0-or-later */
/* What the lvm step kinds read from lvm2 and what they run: the pvs report
 * gives each PV's VG, UUID and allocated extents (an orphan PV has an
 * empty VG); the lvs report gives the unfinished pvmoves and their
 * percentage, and nothing for ordinary LVs; the pvmove command resumes
 * when asked to (no device arguments) and always runs in the background;
 * an initramfs listing is found to hold lvm only when it does; a plan that
 * keeps the root filesystem is told apart, and rootraid's boot entry is
 * told from the old LVM configuration by the kernel command line.  Anything
 * that is not a report is refused, never read as "no PVs". */
#include <assert.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "steps/lvm.h"

/* Captured from lvm2 2.03.16 (Debian bookworm):
 *   pvs --reportformat json --units b --nosuffix
 *       -o pv_name,vg_name,pv_uuid,pv_pe_alloc_count,vg_extent_size
 * with one PV in vg0 and an orphan PV added. */
static const char pvs_sample[] =
        "  {\n"
        "      \"report\": [\n"
        "          {\n"
        "              \"pv\": [\n"
        "                  {\"pv_name\":\"/dev/md127\", \"vg_name\":\"vg0\", \"pv_uuid\":\"NkRrVE-leDw-U0dn-Sq8s-Y3fq-kD7a-t0zGAE\", "
        "\"pv_pe_alloc_count\":\"0\", \"vg_extent_size\":\"4194304\"},\n"
        "                  {\"pv_name\":\"/dev/vda2\", \"vg_name\":\"vg0\", \"pv_uuid\":\"A4pv00-0000-0000-0000-0000-0000-000001\", "
        "\"pv_pe_alloc_count\":\"767\", \"vg_extent_size\":\"4194304\"},\n"
        "                  {\"pv_name\":\"/dev/vdc1\", \"vg_name\":\"\", \"pv_uuid\":\"zzzzzz-0000-0000-0000-0000-0000-000001\", "
        "\"pv_pe_alloc_count\":\"0\", \"vg_extent_size\":\"0\"}\n"
        "              ]\n"
        "          }\n"
        "      ]\n"
        "  }\n";

/* lvs -a --reportformat json -o lv_name,vg_name,move_pv,copy_percent vg0
 * while a pvmove runs (captured in the bookworm lvm guest of
 * tests/vm/test-lvm, lvm2 2.03.16): the hidden [pvmove0] LV carries
 * move_pv. */
static const char lvs_moving[] =
        "  {\n"
        "      \"report\": [\n"
        "          {\n"
        "              \"lv\": [\n"
        "                  {\"lv_name\":\"[pvmove0]\", \"vg_name\":\"vg0\", \"move_pv\":\"/dev/vda2\", \"copy_percent\":\"15.65\"},\n"
        "                  {\"lv_name\":\"root\", \"vg_name\":\"vg0\", \"move_pv\":\"\", \"copy_percent\":\"\"},\n"
        "                  {\"lv_name\":\"swap\", \"vg_name\":\"vg0\", \"move_pv\":\"\", \"copy_percent\":\"\"}\n"
        "              ]\n"
        "          }\n"
        "      ]\n"
        "  }\n";

static const char lvs_idle[] = "{\"report\":[{\"lv\":[{\"lv_name\":\"root\", \"vg_name\":\"vg0\", \"move_pv\":\"\", "
                               "\"copy_percent\":\"\"}]}]}";

static void test_pvs(void) {
        struct lvm_pv_report *pvs = NULL;
        size_t n = 0;

        assert(lvm_parse_pvs(pvs_sample, &pvs, &n) == 0);
        assert(n == 3);
        assert(strcmp(pvs[0].name, "/dev/md127") == 0 && strcmp(pvs[0].vg, "vg0") == 0);
        assert(strcmp(pvs[0].uuid, "NkRrVE-leDw-U0dn-Sq8s-Y3fq-kD7a-t0zGAE") == 0 && pvs[0].alloc_extents == 0);
        /* what the progress total comes from: 767 extents of 4 MiB */
        assert(pvs[1].alloc_extents == 767 && pvs[1].extent_size == 4194304);
        assert(pvs[1].alloc_extents * pvs[1].extent_size == 3217031168ULL);
        assert(strcmp(pvs[2].vg, "") == 0 && pvs[2].devnum == 0);
        lvm_pvs_free(pvs, n);

        /* no PVs at all is a valid, empty report */
        assert(lvm_parse_pvs("{\"report\":[{\"pv\":[]}]}", &pvs, &n) == 0 && n == 0);
        lvm_pvs_free(pvs, n);
}

static void test_moves(void) {
        struct lvm_move *m = NULL;
        size_t n = 0;

        assert(lvm_parse_moves(lvs_moving, &m, &n) == 0);
        assert(n == 1);
        assert(strcmp(m[0].lv, "[pvmove0]") == 0 && strcmp(m[0].vg, "vg0") == 0);
        assert(strcmp(m[0].from, "/dev/vda2") == 0);
        assert(m[0].percent > 15.64 && m[0].percent < 15.66);
        lvm_moves_free(m, n);

        assert(lvm_parse_moves(lvs_idle, &m, &n) == 0 && n == 0);
        lvm_moves_free(m, n);
}

static void test_bad_reports(void) {
        struct lvm_pv_report *pvs = NULL;
        struct lvm_move *m = NULL;
        size_t n = 7;

        /* what pvs prints when it fails, an empty output, the other kind of
         * report: none of them may read as "no PV" */
        assert(lvm_parse_pvs("  Failed to find physical volume \"/dev/vdb\".\n", &pvs, &n) == -EBADMSG);
        assert(lvm_parse_pvs("", &pvs, &n) == -EBADMSG);
        assert(lvm_parse_pvs(NULL, &pvs, &n) == -EBADMSG);
        assert(lvm_parse_pvs(lvs_idle, &pvs, &n) == -EBADMSG);
        assert(lvm_parse_moves(pvs_sample, &m, &n) == -EBADMSG);
        assert(lvm_parse_moves("{\"report\":[]}", &m, &n) == -EBADMSG);
        assert(n == 7 && !pvs && !m); /* outputs untouched on failure */
}

static void test_pvmove_argv(void) {
        const char *argv[8];

        lvm_pvmove_argv("/dev/disk/by-id/virtio-rr-sys-part2", "/dev/md/pv", argv);
        assert(strcmp(argv[0], "pvmove") == 0 && strcmp(argv[1], "--background") == 0);
        assert(strcmp(argv[2], "/dev/disk/by-id/virtio-rr-sys-part2") == 0 && strcmp(argv[3], "/dev/md/pv") == 0);
        assert(argv[4] == NULL);

        /* resuming: no device, so pvmove carries on with the unfinished move */
        lvm_pvmove_argv(NULL, NULL, argv);
        assert(strcmp(argv[0], "pvmove") == 0 && strcmp(argv[1], "--background") == 0 && argv[2] == NULL);
}

static void test_listing(void) {
        /* lsinitramfs (initramfs-tools, merged /usr) */
        assert(lvm_listing_has_lvm("kernel/x86/microcode/AuthenticAMD.bin\n.\nusr/sbin/mdadm\nusr/sbin/lvm\nusr/sbin/vgchange\n"));
        assert(lvm_listing_has_lvm("sbin/lvm"));
        /* lsinitrd (dracut): ls -l lines */
        assert(lvm_listing_has_lvm("-rwxr-xr-x   1 root     root      2.6M Jan  1 00:00 usr/sbin/lvm\n"));
        /* mdadm alone, lvm's config, a symlink to lvm, lvmpolld: no lvm binary */
        assert(!lvm_listing_has_lvm("usr/sbin/mdadm\netc/lvm\netc/lvm/lvm.conf\nusr/sbin/lvmpolld\n"));
        assert(!lvm_listing_has_lvm("lrwxrwxrwx   1 root root 3 Jan  1 00:00 usr/sbin/vgchange -> lvm\n"));
        assert(!lvm_listing_has_lvm("usr/sbin/notlvm\n"));
        assert(!lvm_listing_has_lvm(""));
}

/* Telling the new system from the old when the root filesystem is kept. */
static void test_kept_root(void) {
        struct plan p = { .strategy = STRATEGY_LVM };

        p.target = json_tokener_parse("{\"filesystems\":[{\"mountpoint\":\"/\",\"uuid\":\"A4000000-0000-4000-8000-000000000002\","
                                      "\"source_uuid\":\"a4000000-0000-4000-8000-000000000002\"},{\"mountpoint\":\"/boot\","
                                      "\"uuid\":\"8fa42322-c70f-49e1-9b1d-09d62dac461b\",\"source_uuid\":\"a4000000-0000-4000-8000-000000000001\"}]}");
        assert(p.target && lvm_plan_keeps_root(&p) && lvm_plan_uses_lvm(&p));
        json_object_put(p.target);
        /* the copy strategy: a new root filesystem */
        p.strategy = STRATEGY_COPY;
        p.target = json_tokener_parse("{\"filesystems\":[{\"mountpoint\":\"/\",\"uuid\":\"b4000000-0000-4000-8000-000000000002\","
                                      "\"source_uuid\":\"a4000000-0000-4000-8000-000000000002\"}]}");
        assert(p.target && !lvm_plan_keeps_root(&p) && !lvm_plan_uses_lvm(&p));
        json_object_put(p.target);

        const char *u = "a4000000-0000-4000-8000-000000000002";
        /* rootraid's entry, and the old configuration's LVM root */
        assert(lvm_cmdline_names_root("BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=UUID=a4000000-0000-4000-8000-000000000002 ro quiet panic=10\n", u));
        assert(lvm_cmdline_names_root("root=UUID=A4000000-0000-4000-8000-000000000002", u));
        assert(!lvm_cmdline_names_root("BOOT_IMAGE=/vmlinuz-6.1.0-18-amd64 root=/dev/mapper/vg0-root ro quiet\n", u));
        assert(!lvm_cmdline_names_root("root=UUID=a4000000-0000-4000-8000-0000000000021 ro", u));
        assert(!lvm_cmdline_names_root("xroot=UUID=a4000000-0000-4000-8000-000000000002 ro", u));
}

int main(void) {
        test_pvs();
        test_moves();
        test_bad_reports();
        test_pvmove_argv();
        test_listing();
        test_kept_root();
        printf("lvm reports, pvmove arguments and initramfs listings: ok\n");
        return 0;
}
