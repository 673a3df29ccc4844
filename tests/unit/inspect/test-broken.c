/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Sysroots that are damaged or odd, built here in a temporary directory:
 * inspection either reads what it can or fails with a sentence that names
 * the file, and never crashes or leaks (the asan build runs this too). */
#include <fcntl.h>
#include <sys/stat.h>

#include "inspect-test.h"
#include "util/fileio.h"
#include "util/run.h"

static char root[] = "/tmp/rootraid-broken-XXXXXX";

static void put(const char *path, const char *content) {
        char *p = path_join(root, path), *dir = strdup(p);
        if (!p || !dir)
                abort();
        *strrchr(dir, '/') = 0;
        if (mkdir_p(dir, 0755) < 0 || write_file_atomic(p, content, strlen(content), 0644) < 0) {
                fprintf(stderr, "cannot write %s\n", p);
                exit(1);
        }
        free(p);
        free(dir);
}

static int inspect(struct facts **ret, char **ret_error) {
        struct inspect_options o = { .sysroot = root };
        *ret = NULL;
        *ret_error = NULL;
        return inspect_system(&o, ret, ret_error);
}

static void rm_rf(void) {
        const char *argv[] = { "rm", "-rf", root, NULL };
        (void) run_argv(argv, 0, NULL, NULL); /* a leftover in /tmp is harmless */
}

int main(void) {
        struct facts *f;
        char *err;
        int r;

        if (!mkdtemp(root))
                return 1;

        /* No sys/block at all: refused, saying where it looked. */
        r = inspect(&f, &err);
        CHECK(r == -ENOENT);
        CHECK(err && strstr(err, "/sys/block"));
        CHECK(f == NULL);
        free(err);

        /* A minimal tree: one disk whose image is missing, one of size 0,
         * junk in mountinfo, swaps, crypttab and fstab. */
        put("sys/block/sda/dev", "8:0\n");
        put("sys/block/sda/size", "2048\n");
        put("sys/block/sdb/dev", "8:16\n");
        put("sys/block/sdb/size", "0\n");
        put("sys/block/sr0/dev", "11:0\n");
        put("sys/block/sr0/size", "2048\n");
        /* (libmount tells mountinfo from fstab by the first line, so the
         * junk comes later, as a line cut short would.) */
        put("proc/self/mountinfo",
            "21 1 8:0 / / rw,relatime shared:1 - ext4 /dev/sda rw\n"
            "22 21 0:5 / /proc\n"
            "23 21 0:5 / /proc rw - proc proc rw\n");
        put("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\nbroken\n");
        put("etc/crypttab", "# nothing\nlonely\n   \n");
        put("etc/fstab", "/dev/sda / ext4 defaults 0 1\ngarbage\n");
        /* GRUB's module packages without GRUB installed (image builders
         * have them): no boot loader. */
        put("usr/lib/grub/x86_64-efi/normal.mod", "");
        put("usr/lib/grub/i386-pc/normal.mod", "");
        put("var/lib/dpkg/status",
            "Package: grub-efi-amd64-bin\nStatus: install ok installed\n\n"
            "Package: grub-pc-bin\nStatus: install ok installed\n\n"
            "Package: grub-pc\nStatus: deinstall ok config-files\n");
        put("etc/default/grub", "GRUB_CMDLINE_LINUX=\"$GRUB_CMDLINE_LINUX a\"\nGRUB_CMDLINE_LINUX=\"${GRUB_CMDLINE_LINUX} b\"\n");

        /* An md array whose members sort by name otherwise than by slot,
         * with a spare; the member devices themselves are not there. */
        put("sys/block/md127/dev", "9:127\n");
        put("sys/block/md127/size", "2048\n");
        put("sys/block/md127/md/level", "raid1\n");
        put("sys/block/md127/md/raid_disks", "2\n");
        put("sys/block/md127/md/dev-sdx1/slot", "none\n");
        put("sys/block/md127/md/dev-sdy1/slot", "1\n");
        put("sys/block/md127/md/dev-sdz1/slot", "0\n");
        put("sys/block/md127/slaves/sdx1", "");
        put("sys/block/md127/slaves/sdy1", "");
        put("sys/block/md127/slaves/sdz1", "");

        r = inspect(&f, &err);
        CHECK(r == 0);
        if (r < 0)
                fprintf(stderr, "inspect: %s\n", strna(err));
        if (f) {
                CHECK_U64(f->n_devices, 2);                 /* sdb has size 0, sr0 is optical */
                struct blockdev *md = dev(f, "md127");
                CHECK(md->md && strv_length(md->md->members) == 3);
                if (md->md && strv_length(md->md->members) == 3) {
                        CHECK_STR(md->md->members[0], "sdz1");
                        CHECK_STR(md->md->members[1], "sdy1");
                        CHECK_STR(md->md->members[2], "sdx1");   /* the spare */
                }
                CHECK(md->md && md->md->uuid == NULL);       /* no member superblock to read it from */
                struct blockdev *sda = dev(f, "sda");
                CHECK_U64(sda->size, 1 * MiB);
                CHECK(sda->fstype == NULL && sda->n_signatures == 0 && sda->table == NULL);
                CHECK(sda->stable_id == NULL);               /* no links: the planner must refuse it */
                CHECK_U64(f->n_mounts, 1);
                CHECK(f->n_mounts == 1 && streq_ptr(f->mounts[0].kname, "sda"));
                CHECK_U64(f->n_swaps, 0);
                CHECK_U64(f->n_crypttab, 0);
                CHECK(f->n_fstab >= 1 && streq_ptr(f->fstab[f->n_fstab - 1].kname, "sda"));
                CHECK_STR(f->grub_cmdline_linux, " a b");
                CHECK(f->firmware == FIRMWARE_BIOS);
                CHECK(f->boot_loader == BOOT_LOADER_NONE);
                CHECK(f->initramfs == INITRAMFS_NONE);
                CHECK(f->hostname == NULL && f->os_id == NULL);
        }
        facts_free(f);
        free(err);

        /* A device number sysfs cannot have written. */
        put("sys/block/sda/dev", "eight:zero\n");
        r = inspect(&f, &err);
        CHECK(r == -EINVAL);
        CHECK(err && strstr(err, "sys/block/sda/dev"));
        CHECK(f == NULL);
        free(err);
        put("sys/block/sda/dev", "8:0\n");

        /* An LVM report that is not JSON. */
        put("run/rootraid-fixture/lvm-fullreport.json", "{ \"report\": [ { \"vg\": [");
        r = inspect(&f, &err);
        CHECK(r == -EBADMSG);
        CHECK(err && strstr(err, "lvm-fullreport.json"));
        free(err);
        /* ... and one with the wrong shapes: ignored, not trusted. */
        put("run/rootraid-fixture/lvm-fullreport.json", "{ \"report\": [ { \"vg\": 3, \"pv\": [ 1, \"x\" ], \"lv\": {} } ] }");
        r = inspect(&f, &err);
        CHECK(r == 0);
        if (f) {
                CHECK_U64(f->n_vgs, 0);
                CHECK_U64(f->n_lvs, 0);
        }
        facts_free(f);
        free(err);

        /* A model name with "-part" in it is still the whole disk's name:
         * only "-partN" at the end makes a partition's link. */
        put("run/rootraid-fixture/lvm-fullreport.json", "{}");
        put("dev/sda", "");
        char *link = path_join(root, "dev/disk/by-id/ata-Hitachi-partner_S1");
        char *dir = link ? strdup(link) : NULL;
        if (!dir)
                abort();
        *strrchr(dir, '/') = 0;
        CHECK(mkdir_p(dir, 0755) >= 0 && symlink("../../sda", link) >= 0);
        free(dir);
        free(link);
        r = inspect(&f, &err);
        CHECK(r == 0);
        if (f) {
                CHECK_STR(dev(f, "sda")->stable_id, "/dev/disk/by-id/ata-Hitachi-partner_S1");
                CHECK(facts_find_device(f, "/dev/disk/by-id/ata-Hitachi-partner_S1") == dev(f, "sda"));
        }
        facts_free(f);
        free(err);

        rm_rf();
        return test_failures ? 1 : 0;
}
