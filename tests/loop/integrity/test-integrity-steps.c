/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The --integrity step kinds outside a guest.
 *
 *   test-integrity-steps boot    (no root, no devices) integrity-boot:
 *       "files" writes the initramfs hook, the local-top and local-block
 *       scripts (executable, valid sh) and the volume list into a root, its
 *       check then holds and fails again once a file changes, its undo
 *       removes them; "integritytab" writes /etc/integritytab in
 *       systemd's format; "initramfs" refuses a root whose images lack
 *       the hook's work and says which; a dry run of integrity-format
 *       prints the format and writes nothing.
 *   test-integrity-steps format  (root, loop device, device-mapper with
 *       dm-integrity) integrity-format on partition 1 of a loop device: the
 *       superblock is written with the planned parameters (read back with
 *       `integritysetup dump`), the mapping is open on it, applying again
 *       changes nothing, a superblock with other parameters is refused,
 *       and the undo closes the mapping and erases the superblock.  This
 *       host's kernel has no device-mapper: there it exits 77 (the guest
 *       test tests/vm/test-integrity runs the step for real). */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "tests/unit/exec/exec-test.h"
#include "steps/kinds.h"
#include "util/run.h"

static char *tmp, *loop;

static void cleanup(void) {
        if (loop) {
                const char *close_[] = { "integritysetup", "close", "rrtest-int", NULL };
                const char *detach[] = { "losetup", "-d", loop, NULL };
                (void) run_argv(close_, RUN_QUIET_STDERR, NULL, NULL); /* best effort: may not be open */
                (void) run_argv(detach, 0, NULL, NULL);
                free(loop);
                loop = NULL;
        }
        if (tmp)
                test_rm_rf(tmp);
        free(tmp);
        tmp = NULL;
}

static void on_abort(int sig) {
        cleanup();
        signal(SIGABRT, SIG_DFL);
        raise(SIGABRT);
}

static struct plan_step step_new(enum step_kind kind, const char *id, const char *args) {
        struct plan_step s = { .kind = kind, .id = (char *) id, .reversible = true };
        s.args = json_tokener_parse(args);
        ASSERT(s.args);
        return s;
}

#define VOLUMES "[{\"name\":\"root-i0\",\"device\":\"/dev/disk/by-partuuid/aaaa-03\"}," \
                "{\"name\":\"root-i1\",\"device\":\"/dev/disk/by-partuuid/bbbb-03\"}]"

static int test_boot(void) {
        struct step_context ctx = {};
        char args[1024];

        tmp = test_tmpdir();
        snprintf(args, sizeof args, "{\"root\":\"%s\",\"what\":\"files\",\"volumes\":" VOLUMES "}", tmp);
        struct plan_step files = step_new(STEP_INTEGRITY_BOOT, "integrity-boot-files", args);
        ASSERT(step_integrity_boot.check(&ctx, &files) == 0);
        ASSERT_OK(step_integrity_boot.apply(&ctx, &files));
        ASSERT(step_integrity_boot.check(&ctx, &files) > 0);

        char *conf = test_read(tmp, "etc/rootraid/integrity.conf");
        ASSERT(conf);
        ASSERT_CONTAINS(conf, "\nroot-i0 /dev/disk/by-partuuid/aaaa-03\n");
        ASSERT_CONTAINS(conf, "\nroot-i1 /dev/disk/by-partuuid/bbbb-03\n");
        free(conf);
        static const char *const scripts[] = {
                "etc/initramfs-tools/hooks/rootraid-integrity",
                "etc/initramfs-tools/scripts/local-top/rootraid-integrity",
                "etc/initramfs-tools/scripts/local-block/rootraid-integrity",
                NULL,
        };
        for (size_t i = 0; scripts[i]; i++) {
                char *p = test_path(tmp, scripts[i]);
                struct stat st;
                ASSERT(stat(p, &st) == 0 && (st.st_mode & 0111) == 0111);
                const char *sh[] = { "sh", "-n", p, NULL };
                ASSERT(run_argv(sh, 0, NULL, NULL) == 0);
                /* initramfs-tools asks every script for its prerequisites */
                char *out = NULL;
                const char *prereqs[] = { "sh", p, "prereqs", NULL };
                ASSERT(run_argv(prereqs, RUN_CAPTURE_STDOUT, &out, NULL) == 0);
                ASSERT(out && streq(out, "\n"));
                free(out);
                free(p);
        }
        char *script = test_read(tmp, scripts[1]);
        ASSERT(script);
        ASSERT_CONTAINS(script, "integritysetup open \"$dev\" \"$name\" --integrity crc32c");
        free(script);
        char *hook = test_read(tmp, scripts[0]);
        ASSERT(hook);
        ASSERT_CONTAINS(hook, "manual_add_modules dm_integrity");
        ASSERT_CONTAINS(hook, "copy_exec");
        free(hook);

        /* A changed file is not the planned state any more. */
        test_write(tmp, "etc/rootraid/integrity.conf", "root-i0 /dev/sdz3\n");
        ASSERT(step_integrity_boot.check(&ctx, &files) == 0);
        ASSERT_OK(step_integrity_boot.apply(&ctx, &files));
        ASSERT(step_integrity_boot.check(&ctx, &files) > 0);

        snprintf(args, sizeof args, "{\"root\":\"%s\",\"what\":\"integritytab\",\"volumes\":" VOLUMES "}", tmp);
        struct plan_step tab = step_new(STEP_INTEGRITY_BOOT, "integrity-boot-integritytab", args);
        ASSERT(step_integrity_boot.check(&ctx, &tab) == 0);
        ASSERT_OK(step_integrity_boot.apply(&ctx, &tab));
        ASSERT(step_integrity_boot.check(&ctx, &tab) > 0);
        char *itab = test_read(tmp, "etc/integritytab");
        ASSERT(itab);
        ASSERT_CONTAINS(itab, "\nroot-i1 /dev/disk/by-partuuid/bbbb-03 - -\n");
        free(itab);

        /* No image holds the hook's work: refused, saying what is missing. */
        char *bootdir = test_path(tmp, "boot");
        ASSERT(mkdir(bootdir, 0755) == 0 || errno == EEXIST);
        free(bootdir);
        test_write(tmp, "boot/initrd.img-6.1.0-test", "not an initramfs");
        snprintf(args, sizeof args, "{\"root\":\"%s\",\"what\":\"initramfs\",\"volumes\":" VOLUMES "}", tmp);
        struct plan_step img = step_new(STEP_INTEGRITY_BOOT, "integrity-boot-initramfs", args);
        ASSERT(step_integrity_boot.check(&ctx, &img) == 0);
        ASSERT(step_integrity_boot.apply(&ctx, &img) < 0);
        ASSERT(ctx.error && strstr(ctx.error, "initrd.img-6.1.0-test"));

        /* A real (uncompressed cpio) image holding what the hook puts in:
         * accepted.  lsinitramfs lists it as initramfs-tools would. */
        char *cmd = NULL;
        ASSERT(asprintf(&cmd,
                        "set -e; cd %s; rm -rf img; mkdir -p img/etc/rootraid img/scripts/local-top img/scripts/local-block img/usr/sbin "
                        "img/usr/lib/modules/6.1.0-test/kernel/drivers/md; cp etc/rootraid/integrity.conf img/etc/rootraid/; "
                        "touch img/scripts/local-top/rootraid-integrity img/scripts/local-block/rootraid-integrity img/usr/sbin/integritysetup "
                        "img/usr/lib/modules/6.1.0-test/kernel/drivers/md/dm-integrity.ko; "
                        "(cd img && find . | cpio -o -H newc --quiet) >boot/initrd.img-6.1.0-test",
                        tmp) > 0);
        const char *lsi[] = { "lsinitramfs", "-h", NULL };
        if (run_argv(lsi, RUN_QUIET_STDERR, NULL, NULL) < 0 || system("command -v cpio >/dev/null") != 0)
                printf("lsinitramfs or cpio missing: the accepted-image case is not run\n");
        else {
                ASSERT(system(cmd) == 0);
                ASSERT(step_integrity_boot.check(&ctx, &img) > 0);
                ASSERT_OK(step_integrity_boot.apply(&ctx, &img));
                /* without the module: refused, naming it */
                free(cmd);
                ASSERT(asprintf(&cmd, "set -e; cd %s/img; rm usr/lib/modules/6.1.0-test/kernel/drivers/md/dm-integrity.ko; "
                                "(find . | cpio -o -H newc --quiet) >../boot/initrd.img-6.1.0-test", tmp) > 0);
                ASSERT(system(cmd) == 0);
                ASSERT(step_integrity_boot.check(&ctx, &img) == 0);
                ASSERT(step_integrity_boot.apply(&ctx, &img) < 0);
                ASSERT(ctx.error && strstr(ctx.error, "dm-integrity.ko"));
        }
        free(cmd);

        /* Rollback removes what was written. */
        ASSERT_OK(step_integrity_boot.undo(&ctx, &files));
        ASSERT_OK(step_integrity_boot.undo(&ctx, &tab));
        for (size_t i = 0; scripts[i]; i++)
                ASSERT(!test_exists(tmp, scripts[i]));
        ASSERT(!test_exists(tmp, "etc/integritytab") && !test_exists(tmp, "etc/rootraid/integrity.conf"));
        ASSERT(step_integrity_boot.check(&ctx, &files) == 0);
        ASSERT_OK(step_integrity_boot.undo(&ctx, &files)); /* again: nothing left, fine */

        /* A dry run of integrity-format says what it would do and does it
         * not (the disk does not exist here). */
        struct step_context dry = { .dry_run = true };
        struct plan_step fmt = step_new(STEP_INTEGRITY_FORMAT, "integrity-root-i1",
                                        "{\"array\":\"root\",\"name\":\"root-i1\",\"member\":{\"disk\":\"/dev/disk/by-id/rootraid-test-none\","
                                        "\"partno\":3,\"missing\":false,\"integrity\":\"root-i1\"},\"device\":\"/dev/disk/by-partuuid/bbbb-03\","
                                        "\"algorithm\":\"crc32c\",\"tag_size\":4,\"sector_size\":4096}");
        ASSERT(step_integrity_format.check(&dry, &fmt) == 0);
        ASSERT_OK(step_integrity_format.apply(&dry, &fmt));
        ASSERT(access("/dev/mapper/root-i1", F_OK) < 0);

        json_object_put(files.args);
        json_object_put(tab.args);
        json_object_put(img.args);
        json_object_put(fmt.args);
        free(ctx.error);
        free(dry.error);
        printf("integrity-boot files/integritytab/initramfs with undo, integrity-format dry run: ok\n");
        return 0;
}

static int test_format(void) {
        struct step_context ctx = {};
        char args[1024], *out = NULL;

        if (getuid() != 0) {
                printf("skipped: needs root for loop devices and device-mapper\n");
                return 77;
        }
        /* /dev/mapper/control may exist without a driver behind it. */
        if (system("modprobe dm_integrity >/dev/null 2>&1; dmsetup targets 2>/dev/null | grep -q '^integrity '") != 0) {
                printf("skipped: this kernel has no device-mapper with the integrity target (dmsetup targets); "
                       "tests/vm/test-integrity runs the step in a guest\n");
                return 77;
        }
        const char *isv[] = { "integritysetup", "--version", NULL };
        if (run_argv(isv, RUN_QUIET_STDERR, NULL, NULL) != 0) {
                printf("skipped: integritysetup (cryptsetup-bin) is not installed\n");
                return 77;
        }
        tmp = test_tmpdir();
        atexit(cleanup);
        signal(SIGABRT, on_abort);

        char *image = test_path(tmp, "disk.img");
        int fd = open(image, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ASSERT(fd >= 0 && ftruncate(fd, 96 << 20) == 0);
        close(fd);
        const char *losetup[] = { "losetup", "--find", "--show", "--partscan", image, NULL };
        if (run_argv(losetup, RUN_CAPTURE_STDOUT, &loop, NULL) != 0 || !loop || !startswith(loop, "/dev/loop")) {
                printf("skipped: cannot set up a loop device\n");
                return 77;
        }
        loop[strcspn(loop, "\n")] = 0;
        char *sfdisk_in = test_path(tmp, "table");
        test_write(tmp, "table", "label: gpt\nstart=2048, size=80MiB\n");
        char *cmd = NULL;
        ASSERT(asprintf(&cmd, "sfdisk -q %s <%s && partx -u %s 2>/dev/null; udevadm settle 2>/dev/null; true", loop, sfdisk_in, loop) > 0);
        ASSERT(system(cmd) == 0);
        free(cmd);

        snprintf(args, sizeof args,
                 "{\"array\":\"root\",\"name\":\"rrtest-int\",\"member\":{\"disk\":\"%s\",\"partno\":1,\"missing\":false,"
                 "\"integrity\":\"rrtest-int\"},\"device\":\"%sp1\",\"algorithm\":\"crc32c\",\"tag_size\":4,\"sector_size\":4096}",
                 loop, loop);
        struct plan_step fmt = step_new(STEP_INTEGRITY_FORMAT, "integrity-rrtest", args);
        ASSERT(step_integrity_format.check(&ctx, &fmt) == 0);
        ASSERT_OK(step_integrity_format.apply(&ctx, &fmt));
        ASSERT(step_integrity_format.check(&ctx, &fmt) > 0);
        ASSERT(access("/dev/mapper/rrtest-int", F_OK) == 0);

        char part[64];
        snprintf(part, sizeof part, "%sp1", loop);
        const char *dump[] = { "integritysetup", "dump", part, NULL };
        ASSERT(run_argv(dump, RUN_CAPTURE_STDOUT, &out, NULL) == 0 && out);
        printf("%s", out);
        ASSERT_CONTAINS(out, "tag_size 4");
        ASSERT_CONTAINS(out, "sector_size 4096");
        free(out);
        out = NULL;

        /* Again: the superblock and the mapping are there, nothing changes. */
        ASSERT_OK(step_integrity_format.apply(&ctx, &fmt));
        ASSERT(step_integrity_format.check(&ctx, &fmt) > 0);

        /* Another step's parameters: that superblock is not its own. */
        snprintf(args, sizeof args,
                 "{\"array\":\"root\",\"name\":\"rrtest-other\",\"member\":{\"disk\":\"%s\",\"partno\":1,\"missing\":false},"
                 "\"device\":\"%sp1\",\"algorithm\":\"crc32c\",\"tag_size\":4,\"sector_size\":512}", loop, loop);
        struct plan_step other = step_new(STEP_INTEGRITY_FORMAT, "integrity-other", args);
        ASSERT(step_integrity_format.check(&ctx, &other) == 0);
        ASSERT(step_integrity_format.apply(&ctx, &other) < 0);

        /* Undo: closed and erased. */
        ASSERT_OK(step_integrity_format.undo(&ctx, &fmt));
        ASSERT(access("/dev/mapper/rrtest-int", F_OK) < 0);
        ASSERT(run_argv(dump, RUN_QUIET_STDERR, NULL, NULL) != 0);
        ASSERT(step_integrity_format.check(&ctx, &fmt) == 0);
        ASSERT_OK(step_integrity_format.undo(&ctx, &fmt)); /* again: nothing there */

        json_object_put(fmt.args);
        json_object_put(other.args);
        free(ctx.error);
        free(image);
        free(sfdisk_in);
        printf("integrity-format on a loop device (format, open, again, foreign parameters, undo): ok\n");
        return 0;
}

int main(int argc, char *argv[]) {
        log_set_max_level(getenv("ROOTRAID_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING);
        if (argc == 2 && streq(argv[1], "boot")) {
                int r = test_boot();
                cleanup();
                return r;
        }
        if (argc == 2 && streq(argv[1], "format"))
                return test_format();
        fprintf(stderr, "usage: %s boot|format\n", argv[0]);
        return 2;
}
