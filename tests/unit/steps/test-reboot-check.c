/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The reboot step's check on the old root (this host is never the plan's
 * new root): the boot ids apply rebooted from, one per line next to the
 * journal.  One recorded boot that is not this one means the machine came
 * back on the old root once (a failed boot from the arrays, or a power cut
 * before confirm-boot): not done, reboot once more.  Two, neither of them
 * this boot: done, and confirm-boot reports the failure.  This boot's own
 * id last (apply ran in this boot, no reboot yet): not done.  Then the
 * one-boot records of the rollback and of the stale old root's retry.
 * Usage: test-reboot-check SOURCE_ROOT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/journal.h"
#include "plan/plan.h"
#include "steps/kinds.h"
#include "steps/reboot.h"
#include "util/fileio.h"
#include "util/strutil.h"

static const char *dir;
static struct step_context ctx;
static const struct plan_step *reboot_step;

#define must(cond, ...)                                                      \
        do {                                                                  \
                if (!(cond)) {                                                \
                        fprintf(stderr, "FAILED: %s: ", #cond);               \
                        fprintf(stderr, __VA_ARGS__);                         \
                        fputc('\n', stderr);                                  \
                        abort();                                              \
                }                                                             \
        } while (0)

static void expect(const char *record, int want) {
        char path[4096];

        snprintf(path, sizeof path, "%s/%s.boot-id", dir, reboot_step->id);
        if (record && write_file_atomic(path, record, strlen(record), 0600) < 0)
                abort();
        int r = step_reboot.check(&ctx, reboot_step);
        if (r != want) {
                fprintf(stderr, "record \"%s\": check %d, expected %d (%s)\n", strna(record), r, want, strna(ctx.error));
                abort();
        }
}

int main(int argc, char *argv[]) {
        char path[4096], tmpl[] = "/tmp/rootraid-reboot-check.XXXXXX", *now = NULL, *rec = NULL, *rec2 = NULL;
        struct plan *p = NULL;
        char *error = NULL;

        if (argc != 2)
                return 2;
        snprintf(path, sizeof path, "%s/plans/examples/bios-mbr.json", argv[1]);
        if (plan_load_file(path, &p, &error) < 0 || !(reboot_step = plan_find_step(p, "reboot"))) {
                fprintf(stderr, "%s: %s\n", path, strna(error));
                return 1;
        }
        dir = mkdtemp(tmpl);
        if (!dir || read_one_line_file("/proc/sys/kernel/random/boot_id", &now) < 0)
                return 1;
        char *locations[] = { (char *) dir, NULL };
        struct journal j = { .locations = locations };
        ctx = (struct step_context) { .plan = p, .journal = &j };

        expect(NULL, 0); /* nothing recorded: not rebooted */
        expect("0f0f0f0f-aaaa-4bbb-8ccc-000000000001\n", 0);
        expect("0f0f0f0f-aaaa-4bbb-8ccc-000000000001\n0f0f0f0f-aaaa-4bbb-8ccc-000000000002\n", 1);
        if (asprintf(&rec, "0f0f0f0f-aaaa-4bbb-8ccc-000000000001\n%s\n", now) < 0)
                return 1;
        expect(rec, 0);
        expect("\n0f0f0f0f-aaaa-4bbb-8ccc-000000000001\n\n0f0f0f0f-aaaa-4bbb-8ccc-000000000002", 1);

        /* The one-boot records (rollback, retry): another boot's id under
         * any location counts, this boot's or an empty one does not. */
        char sub[1024], *failed = NULL;
        snprintf(sub, sizeof sub, "%s/second", dir);
        char *two[] = { (char *) dir, sub, NULL };
        if (mkdir(sub, 0700) < 0)
                return 1;
        must(reboot_record_other_boot(two, reboot_step, REBOOT_RECORD_UNDO, now) == 0, "no record");
        must(reboot_record_write(NULL, locations, reboot_step, REBOOT_RECORD_UNDO, "\n", NULL) == 0 &&
              reboot_record_other_boot(two, reboot_step, REBOOT_RECORD_UNDO, now) == 0, "an empty record");
        if (asprintf(&rec2, "%s\n", now) < 0)
                return 1;
        must(reboot_record_write(NULL, two, reboot_step, REBOOT_RECORD_UNDO, rec2, NULL) == 0 &&
              reboot_record_other_boot(two, reboot_step, REBOOT_RECORD_UNDO, now) == 0, "this boot's record");
        must(reboot_record_write(NULL, locations + 0, reboot_step, REBOOT_RECORD_UNDO, "0f0f0f0f-aaaa-4bbb-8ccc-000000000001\n",
                                  NULL) == 0 &&
              reboot_record_other_boot(two, reboot_step, REBOOT_RECORD_UNDO, now) == 1, "another boot's record in the first location");
        must(reboot_record_other_boot(two, reboot_step, REBOOT_RECORD_RETRY, now) == 0, "the retry record is its own file");
        snprintf(path, sizeof path, "%s/%s." REBOOT_RECORD_UNDO, sub, reboot_step->id);
        _cleanup_free_ char *got = NULL;
        must(read_one_line_file(path, &got) >= 0 && streq(got, now), "the second location's record");
        char *gone[] = { (char *) "/nonexistent-rootraid-test", NULL };
        must(reboot_record_write(NULL, gone, reboot_step, REBOOT_RECORD_RETRY, rec2, &failed) < 0 && failed &&
              strstr(failed, "/nonexistent-rootraid-test/reboot." REBOOT_RECORD_RETRY), "the failed path: %s", strna(failed));
        free(failed);
        (void) unlink(path);
        snprintf(path, sizeof path, "%s/%s." REBOOT_RECORD_UNDO, dir, reboot_step->id);
        (void) unlink(path);
        (void) rmdir(sub);

        snprintf(path, sizeof path, "%s/%s.boot-id", dir, reboot_step->id);
        (void) unlink(path);
        (void) rmdir(dir);
        free(rec2);
        free(rec);
        free(now);
        plan_free(p);
        printf("reboot check: every case as expected\n");
        return 0;
}
