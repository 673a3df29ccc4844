/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The write-fstab step through the executor: migrated entries get the new
 * source, everything else (options, dump/pass, other entries, comments)
 * stays; applying twice gives the same bytes; a plan that does not fit the
 * file is refused; rollback restores the original byte for byte. */
#include "exec-test.h"
#include "exec/executor.h"
#include "steps/kinds.h"

static const char original[] =
        "# /etc/fstab: static file system information.\n"
        "#\n"
        "# <file system> <mount point>   <type>  <options>       <dump>  <pass>\n"
        "UUID=11111111-2222-3333-4444-555555555555 /               ext4    errors=remount-ro 0       1\n"
        "# /boot was on /dev/sda1 during installation\n"
        "UUID=aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee /boot           ext4    defaults,noatime        0       2\n"
        "UUID=99999999-8888-7777-6666-555555555555 none            swap    sw              0       0\n"
        "UUID=ABCD-1234  /boot/efi       vfat    umask=0077      0       1\n"
        "/dev/sr0        /media/cdrom0   udf,iso9660 user,noauto     0       0\n"
        "tmpfs /tmp tmpfs nosuid,nodev,size=2G 0 0\n";

static struct plan *fstab_plan(const char *path, bool with_missing_entry) {
        static const char *const ids[] = { "write-fstab" };
        struct plan *p = test_plan_new("sha256:fstab", ids, 1, STEP_WRITE_FSTAB, 1);
        json_object *args = json_object_new_object(), *entries = json_object_new_array();

        json_object_array_add(entries, test_fstab_entry("/", "ext4", "11111111-2222-3333-4444-555555555555",
                                             "UUID=0b0b0b0b-0000-4000-8000-000000000001"));
        json_object_array_add(entries, test_fstab_entry("/boot", "ext4", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
                                             "UUID=0b0b0b0b-0000-4000-8000-000000000002"));
        json_object_array_add(entries, test_fstab_entry("none", "swap", "99999999-8888-7777-6666-555555555555",
                                             "UUID=0b0b0b0b-0000-4000-8000-000000000003"));
        /* The ESP: on one disk of several, so the machine must boot
         * without it (nofail, added once however often the step runs). */
        json_object *esp = test_fstab_entry("/boot/efi", "vfat", "ABCD-1234", "UUID=5E1F-0001");
        json_object_object_add(esp, "add_options", json_object_new_string("nofail"));
        json_object_array_add(entries, esp);
        if (with_missing_entry)
                json_object_array_add(entries, test_fstab_entry("/srv", "xfs", "12345678-1234-1234-1234-123456789012",
                                                     "UUID=0b0b0b0b-0000-4000-8000-000000000004"));
        json_object_object_add(args, "path", json_object_new_string(path));
        json_object_object_add(args, "entries", entries);
        json_object_put(p->steps[0].args);
        p->steps[0].args = args;
        return p;
}


int main(void) {
        char *tmp = test_tmpdir(), *etc = test_path(tmp, "etc"), *state = test_path(tmp, "state"), *path, *e = NULL;
        struct executor_options opts = {};

        log_set_max_level(LOG_LEVEL_WARNING);
        ASSERT(mkdir(etc, 0755) == 0);
        path = test_path(etc, "fstab");
        test_write(etc, "fstab", original);

        /* A plan naming an entry the file does not have fails, naming it,
         * and leaves the file alone. */
        struct plan *p = fstab_plan(path, true);
        char *dirs[] = { state, NULL };
        struct journal *j = test_journal_new(p, dirs);
        ASSERT_ERR(executor_apply(p, j, step_table, &opts, &e), ENOENT);
        ASSERT_CONTAINS(e, "/srv");
        char *c = test_read(etc, "fstab");
        ASSERT(streq(c, original));
        free(c);
        journal_free(j);
        test_plan_free(p);

        p = fstab_plan(path, false);
        j = test_journal_new(p, dirs);
        ASSERT_OK(executor_apply(p, j, step_table, &opts, &e));
        c = test_read(etc, "fstab");
        /* Migrated entries carry the new UUIDs with their own options. */
        ASSERT_CONTAINS(c, "UUID=0b0b0b0b-0000-4000-8000-000000000001 / ext4 errors=remount-ro 0 1\n");
        ASSERT_CONTAINS(c, "UUID=0b0b0b0b-0000-4000-8000-000000000002 /boot ext4 defaults,noatime 0 2\n");
        ASSERT_CONTAINS(c, "UUID=0b0b0b0b-0000-4000-8000-000000000003 none swap sw 0 0\n");
        ASSERT_CONTAINS(c, "UUID=5E1F-0001 /boot/efi vfat umask=0077,nofail 0 1\n");
        ASSERT(!strstr(c, "ABCD-1234"));
        ASSERT(!strstr(c, "11111111-2222") && !strstr(c, "aaaaaaaa-bbbb") && !strstr(c, "99999999-8888"));
        /* The rest stays, comments included. */
        ASSERT_CONTAINS(c, "/dev/sr0 /media/cdrom0 udf,iso9660 user,noauto 0 0\n");
        ASSERT_CONTAINS(c, "tmpfs /tmp tmpfs nosuid,nodev,size=2G 0 0\n");
        ASSERT_CONTAINS(c, "# /boot was on /dev/sda1 during installation\n");
        ASSERT_CONTAINS(c, "# /etc/fstab: static file system information.\n");
        char *saved = test_read(etc, "fstab.rootraid-orig");
        ASSERT(saved && streq(saved, original));
        free(saved);

        /* Check holds; applying again (even as if "done" were lost) gives
         * the same bytes. */
        struct step_context ctx = { .plan = p };
        ASSERT(step_write_fstab.check(&ctx, &p->steps[0]) > 0);
        ASSERT_OK(step_write_fstab.apply(&ctx, &p->steps[0]));
        char *c2 = test_read(etc, "fstab");
        ASSERT(streq(c, c2));
        free(c2);
        free(c);

        /* Someone edits the file: check notices. */
        test_write(etc, "fstab", original);
        ASSERT(step_write_fstab.check(&ctx, &p->steps[0]) == 0);
        ASSERT_OK(step_write_fstab.apply(&ctx, &p->steps[0]));
        ASSERT(step_write_fstab.check(&ctx, &p->steps[0]) > 0);
        free(ctx.error);

        /* Rollback puts the original back, byte for byte, and removes the copy. */
        ASSERT_OK(executor_rollback(p, j, step_table, &opts, &e));
        c = test_read(etc, "fstab");
        ASSERT(streq(c, original));
        free(c);
        ASSERT(!test_exists(etc, "fstab.rootraid-orig"));

        journal_free(j);
        test_plan_free(p);
        test_rm_rf(tmp);
        free(tmp);
        free(etc);
        free(state);
        free(path);
        free(e);
        printf("write-fstab: all tests passed\n");
        return 0;
}
