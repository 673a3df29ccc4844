/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The old root's boot configuration that boot-once and confirm-boot change
 * must come back byte for byte on rollback: custom.cfg sections added and
 * removed in any order restore the original file (or its absence), and the
 * one-time entry names the newest kernel with an initramfs, the array's
 * filesystem and panic=10. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "steps/grub-entry.h"
#include "util/fileio.h"

static char *slurp(const char *path) {
        char *s = NULL;
        return read_full_file(path, 1 << 20, &s, NULL) < 0 ? NULL : s;
}

static void put(const char *path, const char *text) {
        assert(write_file_atomic(path, text, strlen(text), 0644) == 0);
}

static void check_sections(const char *dir, const char *original) {
        struct step_context ctx = {};
        char cfg[4096];

        snprintf(cfg, sizeof cfg, "%s/custom.cfg", dir);
        if (original)
                put(cfg, original);
        else
                unlink(cfg);

        assert(grub_custom_has(dir, "entry", "menuentry x {}\n") == 0);
        assert(grub_custom_set(&ctx, dir, "entry", "menuentry x {}\n") == 0);
        assert(grub_custom_has(dir, "entry", "menuentry x {}\n") > 0);
        assert(grub_custom_has(dir, "entry", "menuentry y {}\n") == 0);
        /* applying again gives the same file */
        char *once = slurp(cfg);
        assert(grub_custom_set(&ctx, dir, "entry", "menuentry x {}\n") == 0);
        char *twice = slurp(cfg);
        assert(once && twice && strcmp(once, twice) == 0);
        free(once);
        free(twice);
        assert(grub_custom_set(&ctx, dir, "default", "set default=\"x\"\n") == 0);
        char *both = slurp(cfg);
        assert(both && strstr(both, "menuentry x") && strstr(both, "set default=\"x\""));
        if (original)
                assert(strncmp(both, original, strlen(original)) == 0);
        free(both);

        /* confirm-boot's undo, then boot-once's: the original is back */
        assert(grub_custom_set(&ctx, dir, "default", NULL) == 0);
        assert(grub_custom_has(dir, "entry", "menuentry x {}\n") > 0);
        assert(grub_custom_set(&ctx, dir, "entry", NULL) == 0);
        char *after = slurp(cfg);
        if (original)
                assert(after && strcmp(after, original) == 0);
        else
                assert(!after && access(cfg, F_OK) < 0);
        free(after);
        /* removing what is not there is fine */
        assert(grub_custom_set(&ctx, dir, "entry", NULL) == 0);
        free(ctx.error);
}

int main(void) {
        char dir[] = "/tmp/test-boot-config.XXXXXX", path[4096];
        assert(mkdtemp(dir));

        check_sections(dir, NULL);
        check_sections(dir, "menuentry 'mine' {\n}\n");
        check_sections(dir, "# no newline at the end");

        /* The entry: a root with two kernels, the newer without initramfs. */
        static const char *files[] = { "boot/vmlinuz-6.1.0-9-amd64", "boot/initrd.img-6.1.0-9-amd64",
                                       "boot/vmlinuz-6.1.0-10-amd64" };
        snprintf(path, sizeof path, "%s/boot", dir);
        assert(mkdir(path, 0755) == 0);
        for (size_t i = 0; i < 3; i++) {
                snprintf(path, sizeof path, "%s/%s", dir, files[i]);
                put(path, "x");
        }
        char args[8192];
        snprintf(args, sizeof args,
                 "{\"root\": \"%s\", \"loader\": \"grub-pc\", \"entry_id\": \"rootraid\", \"title\": \"rootraid: first "
                 "boot\", \"root_fs_uuid\": \"11111111-2222-3333-4444-555555555555\", \"boot_fs_uuid\": "
                 "\"11111111-2222-3333-4444-555555555555\", \"root_device\": \"/dev/md/root\", \"cmdline\": "
                 "\"console=ttyS0 quiet\", \"arrays\": []}",
                 dir);
        struct plan_step step = { .id = (char *) "boot-once", .kind = STEP_BOOT_ONCE, .args = json_tokener_parse(args) };
        struct plan p = { .steps = &step, .n_steps = 1 };
        struct step_context ctx = { .plan = &p, .step = &step };
        char *entry = NULL;
        assert(step.args);
        assert(grub_entry_render(&ctx, &step, &entry) == 0);
        printf("%s", entry);
        assert(strstr(entry, "--id 'rootraid'"));
        assert(strstr(entry, "insmod mdraid1x"));
        assert(strstr(entry, "search --no-floppy --fs-uuid --set=root 11111111-2222-3333-4444-555555555555"));
        assert(strstr(entry, "linux /boot/vmlinuz-6.1.0-9-amd64 root=UUID=11111111-2222-3333-4444-555555555555 ro "
                             "console=ttyS0 quiet panic=10\n"));
        assert(strstr(entry, "initrd /boot/initrd.img-6.1.0-9-amd64\n"));
        free(entry);
        free(ctx.error);
        json_object_put(step.args);

        char cmd[8192];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        (void) system(cmd);
        printf("ok\n");
        return 0;
}
