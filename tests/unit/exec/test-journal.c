/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The journal: round trip, torn and corrupted copies, the newest generation
 * wins, and commits cut by SIGKILL at fixed and random points always leave a
 * journal that loads as the previous or the new generation. */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "exec-test.h"
#include "exec/crc32c.h"
#include "exec/journal.h"
#include "util/fileio.h"
#include "util/strutil.h"

static const char *const ids[] = { "partition-sdb", "create-md0", "mkfs-root", "copy-live" };

struct fixture {
        char *tmp, *a, *b;
        char *dirs[3];
        struct plan *plan;
};

static void fixture_init(struct fixture *f) {
        f->tmp = test_tmpdir();
        f->a = test_path(f->tmp, "old-root/var/lib/rootraid");
        f->b = test_path(f->tmp, "new-root/var/lib/rootraid");
        f->dirs[0] = f->a;
        f->dirs[1] = f->b;
        f->dirs[2] = NULL;
        f->plan = test_plan_new("sha256:1111", ids, ELEMENTSOF(ids), STEP_MKFS, ELEMENTSOF(ids));
}

static void fixture_done(struct fixture *f) {
        test_rm_rf(f->tmp);
        free(f->tmp);
        free(f->a);
        free(f->b);
        test_plan_free(f->plan);
}

static struct journal *new_journal(struct fixture *f) {
        return test_journal_new(f->plan, f->dirs);
}

static struct journal *load(struct fixture *f, char ***warnings) {
        return test_journal_load(f->dirs, warnings);
}

static void test_crc32c(void) {
        /* The check value of CRC-32C (RFC 3720, iSCSI). */
        ASSERT(crc32c(0, "123456789", 9) == 0xE3069283u);
        ASSERT(crc32c(crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
}

static void test_round_trip(void) {
        struct fixture f;
        struct journal *j, *k;

        fixture_init(&f);
        j = new_journal(&f);
        ASSERT_OK(journal_set_step_state(j, 0, STEP_STATE_RUNNING, NULL));
        ASSERT_OK(journal_set_step_state(j, 0, STEP_STATE_DONE, NULL));
        ASSERT_OK(journal_set_step_state(j, 1, STEP_STATE_RUNNING, NULL));
        ASSERT_OK(journal_set_step_state(j, 1, STEP_STATE_FAILED, "mdadm: \"cannot\" open /dev/sdb1:\n\tDevice busy ✓"));
        ASSERT_OK(journal_commit(j, NULL));
        ASSERT_OK(journal_commit(j, NULL));
        ASSERT(j->generation == 2);

        k = load(&f, NULL);
        ASSERT(k->generation == 2);
        ASSERT(streq(k->fingerprint, "sha256:1111"));
        ASSERT(streq(k->plan_path, "/root/plan.json"));
        ASSERT(k->run_state == RUN_STATE_APPLYING);
        ASSERT(k->created == j->created && k->updated == j->updated);
        ASSERT(k->n_steps == ELEMENTSOF(ids));
        for (size_t i = 0; i < k->n_steps; i++) {
                ASSERT(streq(k->steps[i].id, ids[i]));
                ASSERT(k->steps[i].state == j->steps[i].state);
                ASSERT(k->steps[i].attempts == j->steps[i].attempts);
                ASSERT(k->steps[i].started == j->steps[i].started);
                ASSERT(k->steps[i].finished == j->steps[i].finished);
                ASSERT(streq_ptr(k->steps[i].error, j->steps[i].error));
                ASSERT(streq_ptr(k->steps[i].boot_id, j->steps[i].boot_id));
        }
        ASSERT(k->steps[1].state == STEP_STATE_FAILED && k->steps[1].attempts == 1);
        /* A started step remembers the boot it started in (for steps that
         * reboot); a pending one has none. */
        char *boot = NULL;
        ASSERT_OK(read_one_line_file("/proc/sys/kernel/random/boot_id", &boot));
        ASSERT(streq_ptr(k->steps[1].boot_id, boot) && !k->steps[2].boot_id);
        free(boot);
        ASSERT(k->steps[2].state == STEP_STATE_PENDING && k->steps[2].started == 0);
        ASSERT(json_object_equal(k->plan, j->plan));
        ASSERT(journal_check_plan(k, f.plan, NULL) == 0);
        ASSERT(strv_length(k->locations) == 2);

        /* A journal for another plan is recognized as such. */
        char *e = NULL;
        free(f.plan->fingerprint);
        f.plan->fingerprint = strdup("sha256:2222");
        ASSERT_ERR(journal_check_plan(k, f.plan, &e), ESTALE);
        ASSERT_CONTAINS(e, "sha256:1111");
        ASSERT_CONTAINS(e, "/root/plan.json");
        free(e);

        journal_free(j);
        journal_free(k);
        fixture_done(&f);
}

static void corrupt_byte(const char *dir, long offset_from_end) {
        char *p = test_path(dir, JOURNAL_FILE_NAME);
        int fd = open(p, O_RDWR);
        ASSERT(fd >= 0);
        off_t size = lseek(fd, 0, SEEK_END);
        char c;
        ASSERT(pread(fd, &c, 1, size - offset_from_end) == 1);
        c ^= 0x01;
        ASSERT(pwrite(fd, &c, 1, size - offset_from_end) == 1);
        close(fd);
        free(p);
}

static void truncate_by(const char *dir, off_t n) {
        char *p = test_path(dir, JOURNAL_FILE_NAME);
        struct stat st;
        ASSERT(stat(p, &st) == 0);
        ASSERT(truncate(p, st.st_size - n) == 0);
        free(p);
}

static void test_torn_and_corrupted(void) {
        struct fixture f;
        struct journal *j, *k;
        char **w = NULL, *e = NULL;

        fixture_init(&f);
        j = new_journal(&f);
        ASSERT_OK(journal_commit(j, NULL));

        /* Torn copy on the old root: the new root's copy is used. */
        truncate_by(f.a, 40);
        k = load(&f, &w);
        ASSERT(k->generation == 1);
        ASSERT(strv_length(w) == 1);
        ASSERT_CONTAINS(w[0], f.a);
        ASSERT_CONTAINS(w[0], "truncated");
        journal_free(k);
        w = strv_free(w);

        /* Rewrite both, then flip one bit inside the body of the second. */
        ASSERT_OK(journal_commit(j, NULL));
        corrupt_byte(f.b, 30);
        k = load(&f, &w);
        ASSERT(k->generation == 2);
        ASSERT(strv_length(w) == 1);
        ASSERT_CONTAINS(w[0], f.b);
        ASSERT_CONTAINS(w[0], "checksum does not match");
        journal_free(k);
        w = strv_free(w);

        /* Both broken: refused, with the reason. */
        truncate_by(f.a, 1);
        ASSERT_ERR(journal_load(f.dirs, &k, &w, &e), EBADMSG);
        ASSERT_CONTAINS(e, "Ignoring the journal copy");
        free(e);
        e = NULL;
        w = strv_free(w);

        /* Garbage that is not a journal at all. */
        test_write(f.a, JOURNAL_FILE_NAME, "{\"hello\": 1}\n");
        test_write(f.b, JOURNAL_FILE_NAME, "");
        ASSERT_ERR(journal_load(f.dirs, &k, &w, &e), EBADMSG);
        ASSERT_CONTAINS(e, f.a);
        ASSERT_CONTAINS(e, f.b);
        ASSERT_CONTAINS(e, "does not start like a rootraid journal");
        free(e);
        e = NULL;
        w = strv_free(w);

        /* Nothing there at all: -ENOENT, the "never applied" case. */
        test_rm_rf(f.a);
        test_rm_rf(f.b);
        ASSERT_ERR(journal_load(f.dirs, &k, &w, &e), ENOENT);
        free(e);

        journal_free(j);
        fixture_done(&f);
}

static void test_highest_generation_wins(void) {
        struct fixture f;
        struct journal *j, *k;
        char **w = NULL;

        fixture_init(&f);
        j = new_journal(&f);
        ASSERT_OK(journal_commit(j, NULL));
        /* The new root is unmounted (or the commit died after the first
         * location): the old root goes on alone for a while. */
        ASSERT_OK(journal_remove_location(j, f.b));
        ASSERT_OK(journal_set_step_state(j, 0, STEP_STATE_RUNNING, NULL));
        ASSERT_OK(journal_commit(j, NULL));
        ASSERT_OK(journal_set_step_state(j, 0, STEP_STATE_DONE, NULL));
        ASSERT_OK(journal_commit(j, NULL));

        k = load(&f, &w);
        ASSERT(k->generation == 3);
        ASSERT(k->steps[0].state == STEP_STATE_DONE);
        ASSERT(strv_length(w) == 1);
        ASSERT_CONTAINS(w[0], "older (generation 1)");
        /* The loaded journal writes both locations again. */
        ASSERT_OK(journal_commit(k, NULL));
        journal_free(k);
        w = strv_free(w);

        /* Now the new root is ahead and the old one behind: order of the
         * directories does not matter. */
        char *swapped[] = { f.b, f.a, NULL };
        k = NULL;
        journal_free(j);
        ASSERT_OK(journal_load(swapped, &j, NULL, NULL));
        ASSERT(j->generation == 4);
        ASSERT_OK(journal_remove_location(j, f.a));
        ASSERT_OK(journal_commit(j, NULL));
        ASSERT_OK(journal_load(f.dirs, &k, NULL, NULL));
        ASSERT(k->generation == 5);

        journal_free(j);
        journal_free(k);
        fixture_done(&f);
}

/* Runs commits in a child until ROOTRAID_FAULT_JOURNAL kills it; returns
 * the generation the parent then loads. */
static uint64_t crash_at(const char *point, uint64_t generation) {
        struct fixture f;
        struct journal *k;
        char env[64];
        int status;

        fixture_init(&f);
        struct journal *j = new_journal(&f);
        snprintf(env, sizeof env, "%s@%llu", point, (unsigned long long) generation);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
                setenv("ROOTRAID_FAULT_JOURNAL", env, 1);
                for (int i = 0; i < 10; i++)
                        if (journal_commit(j, NULL) < 0)
                                _exit(2);
                _exit(0);
        }
        ASSERT(waitpid(pid, &status, 0) == pid);
        ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

        k = load(&f, NULL);
        uint64_t g = k->generation;
        /* Every copy present is complete: the rename is atomic. */
        for (size_t i = 0; i < 2; i++) {
                char *one[] = { f.dirs[i], NULL };
                struct journal *c = NULL;
                int r = journal_load(one, &c, NULL, NULL);
                ASSERT(r == 0 || r == -ENOENT);
                journal_free(c);
        }
        journal_free(k);
        journal_free(j);
        fixture_done(&f);
        return g;
}

static void test_crash_points(void) {
        /* Killed before anything of generation 3 is written: 2 is found. */
        ASSERT(crash_at("before-write", 3) == 2);
        /* Between the two locations: the old root has 3, the new one 2;
         * 3 wins. */
        ASSERT(crash_at("between-locations", 3) == 3);
        ASSERT(crash_at("after-write", 3) == 3);
}

/* The child commits as fast as it can and reports each finished generation
 * through a pipe; the parent kills it at a random moment.  Afterwards the
 * journal must load, as the last reported generation or the one after it
 * (the commit that was under way may have reached its rename). */
static void test_random_kills(void) {
        unsigned iterations = 200, landed_mid_commit = 0;
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        srand((unsigned) ts.tv_nsec);
        for (unsigned it = 0; it < iterations; it++) {
                struct fixture f;
                int pfd[2], status;

                fixture_init(&f);
                struct journal *j = new_journal(&f);
                ASSERT(pipe(pfd) == 0);
                pid_t pid = fork();
                ASSERT(pid >= 0);
                if (pid == 0) {
                        close(pfd[0]);
                        for (;;) {
                                if (journal_set_step_state(j, j->generation % j->n_steps, STEP_STATE_RUNNING, "x") < 0 ||
                                    journal_commit(j, NULL) < 0)
                                        _exit(2);
                                if (write(pfd[1], &j->generation, sizeof j->generation) != sizeof j->generation)
                                        _exit(3);
                        }
                }
                close(pfd[1]);
                usleep((useconds_t) (rand() % 20000));
                ASSERT(kill(pid, SIGKILL) == 0);
                ASSERT(waitpid(pid, &status, 0) == pid);
                ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

                uint64_t last = 0, g;
                while (read(pfd[0], &g, sizeof g) == sizeof g)
                        last = g;
                close(pfd[0]);

                char **w = NULL;
                struct journal *k = NULL;
                if (last == 0) {
                        /* Killed before the first commit finished: either
                         * nothing or generation 1 is there. */
                        int r = journal_load(f.dirs, &k, &w, NULL);
                        ASSERT(r == -ENOENT || (r == 0 && k->generation == 1));
                } else {
                        k = load(&f, &w);
                        ASSERT(k->generation == last || k->generation == last + 1);
                }
                /* Each copy alone is either absent or complete, never torn. */
                for (size_t i = 0; i < 2; i++) {
                        char *one[] = { f.dirs[i], NULL };
                        struct journal *c = NULL;
                        int r = journal_load(one, &c, NULL, NULL);
                        ASSERT(r == 0 || r == -ENOENT);
                        ASSERT(!c || c->generation + 1 >= last);
                        journal_free(c);
                }
                if ((k && k->generation == last + 1) || strv_length(w) > 0)
                        landed_mid_commit++;
                strv_free(w);
                journal_free(k);
                journal_free(j);
                fixture_done(&f);
        }
        printf("random kills: %u iterations, %u landed inside a commit\n", iterations, landed_mid_commit);
}

/* Plain write, no fsync: thousands of damaged copies need not survive a
 * power cut. */
static void write_bytes(const char *path, const char *data, size_t size) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT(fd >= 0);
        ASSERT(write(fd, data, size) == (ssize_t) size);
        close(fd);
}

/* Every truncation and every single-bit flip of a copy is refused (CRC-32C
 * detects all single-bit errors), and nothing crashes on the way. */
static void test_every_truncation_and_bit_flip(void) {
        struct fixture f;
        char *dirs_a[2], *text = NULL, *e = NULL;
        size_t size;
        unsigned refused = 0;

        fixture_init(&f);
        dirs_a[0] = f.a;
        dirs_a[1] = NULL;
        struct journal *j = new_journal(&f), *k = NULL;
        ASSERT_OK(journal_set_step_state(j, 1, STEP_STATE_FAILED, "some error"));
        ASSERT_OK(journal_commit(j, NULL));
        char *path = test_path(f.a, JOURNAL_FILE_NAME);
        ASSERT_OK(read_full_file(path, 1 << 20, &text, &size));

        for (size_t l = 0; l < size; l++) {
                write_bytes(path, text, l);
                ASSERT_ERR(journal_load(dirs_a, &k, NULL, &e), EBADMSG);
                free(e);
                e = NULL;
                refused++;
        }
        for (size_t i = 0; i < size; i++)
                for (int bit = 0; bit < 8; bit++) {
                        text[i] ^= (char) (1 << bit);
                        write_bytes(path, text, size);
                        ASSERT_ERR(journal_load(dirs_a, &k, NULL, &e), EBADMSG);
                        free(e);
                        e = NULL;
                        text[i] ^= (char) (1 << bit);
                        refused++;
                }
        /* The intact bytes still load. */
        write_bytes(path, text, size);
        ASSERT_OK(journal_load(dirs_a, &k, NULL, NULL));
        ASSERT(k->generation == 1 && streq_ptr(k->steps[1].error, "some error"));
        printf("damaged copies: %u of a %zu-byte journal, all refused\n", refused, size);

        journal_free(k);
        journal_free(j);
        free(text);
        free(path);
        fixture_done(&f);
}

/* Fault injection inside write_file_atomic(): this test program's own
 * rename() stands in front of the C library's, and SIGKILLs the process
 * right before or right after the Nth rename when TEST_KILL_RENAME is
 * "before:N" or "after:N" -- that is, between the fsync of the temporary
 * file and its rename, or after the rename before the directory's fsync. */
static unsigned rename_calls; /* since the child started */

int rename(const char *from, const char *to) {
        static int (*real)(const char *, const char *);
        const char *e = getenv("TEST_KILL_RENAME");
        unsigned n = 0;
        bool before = false;

        if (!real)
                real = (int (*)(const char *, const char *)) dlsym(RTLD_NEXT, "rename");
        if (e) {
                before = startswith(e, "before:");
                n = (unsigned) strtoul(strchr(e, ':') ? strchr(e, ':') + 1 : "0", NULL, 10);
        }
        rename_calls++;
        if (n == rename_calls && before)
                raise(SIGKILL);
        int r = real(from, to);
        if (n == rename_calls && !before)
                raise(SIGKILL);
        return r;
}

static unsigned count_temporaries(const char *dir) {
        DIR *d = opendir(dir);
        struct dirent *de;
        unsigned n = 0;
        if (!d)
                return 0;
        while ((de = readdir(d)))
                n += !!startswith(de->d_name, JOURNAL_FILE_NAME ".tmp.");
        closedir(d);
        return n;
}

/* Three commits to two locations are six renames; kill at each, before and
 * after, and check which generation each copy and the journal hold. */
static void test_kill_around_rename(void) {
        for (unsigned k = 1; k <= 6; k++)
                for (int before = 1; before >= 0; before--) {
                        struct fixture f;
                        char env[32];
                        int status;

                        fixture_init(&f);
                        struct journal *j = new_journal(&f);
                        snprintf(env, sizeof env, "%s:%u", before ? "before" : "after", k);
                        pid_t pid = fork();
                        ASSERT(pid >= 0);
                        if (pid == 0) {
                                setenv("TEST_KILL_RENAME", env, 1);
                                rename_calls = 0;
                                for (int i = 0; i < 3; i++)
                                        (void) journal_commit(j, NULL);
                                _exit(0);
                        }
                        ASSERT(waitpid(pid, &status, 0) == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

                        unsigned commit = (k + 1) / 2, loc = (k - 1) % 2;
                        struct journal *c = NULL;
                        /* Killed before its rename, the new copy is only a
                         * temporary file, which is never read. */
                        ASSERT(count_temporaries(f.dirs[loc]) == (before ? 1u : 0u));
                        uint64_t want = commit - (before && loc == 0 ? 1 : 0);
                        if (want == 0)
                                ASSERT(journal_load(f.dirs, &c, NULL, NULL) == -ENOENT);
                        else {
                                c = load(&f, NULL);
                                ASSERT(c->generation == want);
                                /* Taking the locations over removes the
                                 * leftover temporary file. */
                                ASSERT(count_temporaries(f.dirs[loc]) == 0);
                                journal_free(c);
                        }
                        /* The copy being renamed has the new generation
                         * exactly when the rename happened. */
                        char *one[] = { f.dirs[loc], NULL };
                        c = NULL;
                        int r = journal_load(one, &c, NULL, NULL);
                        if (before && commit == 1)
                                ASSERT(r == -ENOENT);
                        else {
                                ASSERT_OK(r);
                                ASSERT(c->generation == commit - (before ? 1 : 0));
                        }
                        journal_free(c);
                        journal_free(j);
                        fixture_done(&f);
                }
}

/* A reader attaching the locations (`status` while apply runs) removes the
 * temporary files of dead writers only: the one of a commit under way
 * (this process, alive) stays, or that commit's rename fails. */
static void test_reader_keeps_live_temporary(void) {
        struct fixture f;
        char *live = NULL, *dead = NULL;
        int status;

        fixture_init(&f);
        struct journal *j = new_journal(&f);
        ASSERT_OK(journal_commit(j, NULL));
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0)
                _exit(0);
        ASSERT(waitpid(pid, &status, 0) == pid);
        ASSERT(asprintf(&live, "%s/" JOURNAL_FILE_NAME ".tmp.%d", f.a, (int) getpid()) > 0);
        ASSERT(asprintf(&dead, "%s/" JOURNAL_FILE_NAME ".tmp.%d", f.a, (int) pid) > 0);
        ASSERT_OK(write_file_atomic(live, "x", 1, 0600));
        ASSERT_OK(write_file_atomic(dead, "x", 1, 0600));
        ASSERT(count_temporaries(f.a) == 2);

        struct journal *c = load(&f, NULL);
        ASSERT(access(live, F_OK) == 0);
        ASSERT(access(dead, F_OK) < 0 && errno == ENOENT);
        ASSERT(count_temporaries(f.a) == 1);
        journal_free(c);
        journal_free(j);
        free(live);
        free(dead);
        fixture_done(&f);
}

int main(void) {
        test_crc32c();
        test_round_trip();
        test_torn_and_corrupted();
        test_highest_generation_wins();
        test_crash_points();
        test_every_truncation_and_bit_flip();
        test_kill_around_rename();
        test_random_kills();
        test_reader_keeps_live_temporary();
        printf("journal: all tests passed\n");
        return 0;
}
