/* SPDX-License-Identifier: GPL-2.0-or-later */
/* `rootraid apply --dry-run` over a whole real plan: the example plans of
 * plans/examples/ (made by the planner on fixture machines whose disks this
 * host does not have) run through the executor in dry-run mode, with the
 * real step table.  For each plan:
 *   - the dry run goes through every step and returns 0 (it used to stop at
 *     write-fstab, whose file exists only once the copy has run);
 *   - every step is announced, and the commands and files a user reviews
 *     are printed: mdadm --create per array, mkfs/mkswap, the copy, the new
 *     root's fstab and mdadm.conf (with the new UUIDs), the initramfs,
 *     grub-install per disk, the one-time boot entry, the reboot, the
 *     old disk's md --add and the verify;
 *   - nothing is written: the target directory and the journal directory
 *     do not appear, and no /dev/md device was made.
 * The copy steps' source is pointed at the fixture tree the plan was made
 * from, so the configuration files are rendered from that machine's files
 * (on a real machine the source is /, whose files the copy brings over).
 * Usage: test-dry-run SOURCE_ROOT FIXTURES_DIR [EXAMPLE...] (default: the
 * copy strategy's examples). */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests/unit/exec/exec-test.h"
#include "exec/executor.h"
#include "exec/journal.h"
#include "steps/kinds.h"
#include "util/strutil.h"

static unsigned n_checked;

/* Runs the dry run of plan in a child whose stdout goes to a file, so the
 * printed commands can be read back; returns that output and the exit. */
static char *dry_run(const char *plan_path, int *ret_status) {
        char *dir = test_tmpdir(), *out = test_path(dir, "out"), *text;
        pid_t pid;
        int status;

        fflush(stdout);
        pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
                struct plan *p = NULL;
                char *error = NULL;
                int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(99);
                setvbuf(stdout, NULL, _IOLBF, 0); /* in order with the log on stderr */
                if (plan_load_file(plan_path, &p, &error) < 0) {
                        printf("cannot load %s: %s\n", plan_path, strna(error));
                        _exit(98);
                }
                struct executor_options opts = { .dry_run = true, .target_dir = "/run/rootraid/target" };
                int r = executor_apply(p, NULL, step_table, &opts, &error);
                if (r < 0)
                        printf("DRY RUN FAILED: %s\n", strna(error));
                fflush(stdout);
                _exit(r < 0 ? 1 : 0);
        }
        ASSERT(waitpid(pid, &status, 0) == pid);
        text = test_read(dir, "out");
        ASSERT(text);
        *ret_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        test_rm_rf(dir);
        free(dir);
        free(out);
        return text;
}

/* The fixture an example was made on, from plans/examples/examples.list. */
static char *fixture_of(const char *src, const char *name) {
        _cleanup_free_ char *list = NULL, *dir = NULL;
        char *line, *save = NULL;

        ASSERT(asprintf(&dir, "%s/plans/examples", src) > 0);
        list = test_read(dir, "examples.list");
        ASSERT(list);
        for (line = strtok_r(list, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char a[128], b[128];
                if (line[0] != '#' && sscanf(line, "%127s %127s", a, b) == 2 && streq(a, name))
                        return strdup(b);
        }
        fprintf(stderr, "%s is not in examples.list\n", name);
        abort();
}

/* A copy of the example whose copy steps read from the fixture tree. */
static char *plan_from_fixture(const char *src, const char *example, const char *fixtures, const char *name,
                               char **ret_tmp) {
        _cleanup_free_ char *fixture = fixture_of(src, name), *tree = NULL;
        json_object *root = json_object_from_file(example), *steps = NULL;
        char *tmp = test_tmpdir(), *path = test_path(tmp, "plan.json");

        ASSERT(root && json_object_object_get_ex(root, "steps", &steps));
        ASSERT(asprintf(&tree, "%s/%s", fixtures, fixture) > 0);
        for (size_t i = 0; i < json_object_array_length(steps); i++) {
                json_object *s = json_object_array_get_idx(steps, i), *args, *kind, *source;
                if (!json_object_object_get_ex(s, "kind", &kind) || !json_object_object_get_ex(s, "args", &args) ||
                    !json_object_object_get_ex(args, "source", &source))
                        continue;
                if (!streq(json_object_get_string(kind), "copy-live") && !streq(json_object_get_string(kind), "copy-final"))
                        continue;
                _cleanup_free_ char *moved = NULL;
                ASSERT(asprintf(&moved, "%s%s", tree, json_object_get_string(source)) > 0);
                json_object_object_add(args, "source", json_object_new_string(moved));
        }
        ASSERT(json_object_to_file_ext(path, root, JSON_C_TO_STRING_PRETTY) == 0);
        json_object_put(root);
        *ret_tmp = tmp;
        return path;
}

static void expect(const char *name, const char *text, const char *needle) {
        if (!strstr(text, needle)) {
                fprintf(stderr, "%s: the dry run does not print \"%s\"\n--- output ---\n%s\n", name, needle, text);
                abort();
        }
        n_checked++;
}

static void check_plan(const char *src, const char *fixtures, const char *name) {
        _cleanup_free_ char *example = NULL, *path = NULL, *tmp = NULL, *text = NULL, *error = NULL;
        _cleanup_plan_free_ struct plan *p = NULL;
        struct stat st_target, st_journal;
        bool had_target = stat("/run/rootraid/target", &st_target) == 0;
        bool had_journal = stat(JOURNAL_DIR, &st_journal) == 0;
        int status;
        char line[512];

        ASSERT(asprintf(&example, "%s/plans/examples/%s.json", src, name) > 0);
        path = plan_from_fixture(src, example, fixtures, name, &tmp);
        if (plan_load_file(path, &p, &error) < 0) {
                fprintf(stderr, "%s: cannot load the plan: %s\n", name, strna(error));
                abort();
        }
        text = dry_run(path, &status);
        test_rm_rf(tmp);
        if (status != 0) {
                fprintf(stderr, "%s: the dry run exited %d\n--- output ---\n%s\n", name, status, text);
                abort();
        }

        /* Every step, in order. */
        const char *at = text;
        for (size_t i = 0; i < p->n_steps; i++) {
                snprintf(line, sizeof line, "Step %zu/%zu %s (", i + 1, p->n_steps, p->steps[i].id);
                const char *s = strstr(at, line);
                if (!s) {
                        fprintf(stderr, "%s: step %s is not announced after the previous one\n--- output ---\n%s\n", name,
                                p->steps[i].id, text);
                        abort();
                }
                at = s + strlen(line);
                n_checked++;
        }

        /* What a reviewer looks for, with the plan's own values. */
        json_object *arrays = NULL, *fss = NULL;
        ASSERT(json_object_object_get_ex(p->target, "arrays", &arrays));
        ASSERT(json_object_object_get_ex(p->target, "filesystems", &fss));
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                json_object *a = json_object_array_get_idx(arrays, i), *v;
                ASSERT(json_object_object_get_ex(a, "uuid", &v));
                snprintf(line, sizeof line, "--uuid=%s", json_object_get_string(v));
                if (!strstr(text, line))
                        snprintf(line, sizeof line, "--uuid %s", json_object_get_string(v));
                expect(name, text, "would run: mdadm --create");
                expect(name, text, line);
        }
        for (size_t i = 0; i < json_object_array_length(fss); i++) {
                json_object *fs = json_object_array_get_idx(fss, i), *v;
                if (!json_object_object_get_ex(fs, "array", &v) || !v)
                        continue; /* an ESP */
                ASSERT(json_object_object_get_ex(fs, "uuid", &v));
                expect(name, text, json_object_get_string(v)); /* mkfs -U, fstab */
        }
        expect(name, text, "would write: /run/rootraid/target/etc/fstab");
        expect(name, text, "would write: /run/rootraid/target/etc/mdadm/mdadm.conf");
        expect(name, text, "ARRAY ");
        expect(name, text, "would run: grub-install");
        expect(name, text, "would run: mdadm /dev/md/root --add ");
        expect(name, text, "no after-readd hooks to run");
        expect(name, text, "would run: update-grub");
        expect(name, text, "update-initramfs");
        expect(name, text, "Point of no return");
        expect(name, text, "Dry run: all");

        /* Nothing written. */
        struct stat st;
        ASSERT(had_target || stat("/run/rootraid/target", &st) < 0);
        ASSERT(had_journal || stat(JOURNAL_DIR, &st) < 0);
        ASSERT(access("/dev/md/root", F_OK) < 0);
        printf("%s: dry run of %zu steps ok\n", name, p->n_steps);
}

int main(int argc, char **argv) {
        static const char *const defaults[] = { "bios-mbr", "bios-gpt", "bios-mbr-raid10", "uefi", NULL };

        ASSERT(argc >= 3);
        if (argc > 3)
                for (int i = 3; i < argc; i++)
                        check_plan(argv[1], argv[2], argv[i]);
        else
                for (size_t i = 0; defaults[i]; i++)
                        check_plan(argv[1], argv[2], defaults[i]);
        printf("ok: %u checks\n", n_checked);
        return 0;
}
