/* SPDX-License-Identifier: GPL-2.0-or-later */
/* copy-live and copy-final through the executor, on two ext4 loop images:
 * the first pass writes the filesystem's link map (in /run, not in the
 * tree it copies), and the final sync in the same process uses it: a
 * hard-linked file changed through one of its names between the steps is
 * settled with all its names from the change record and the map, without a
 * comparison of the whole tree, and the used map is removed.  The same run
 * with the map taken away before the final sync falls back to the full
 * comparison (so the map, not luck, made the difference).  Both end with
 * the target equal to the source; rollback removes markers and map.
 * Run again in a new boot (no markers in /run), copy-live copies every file
 * again: a file damaged behind an intact size and mtime is repaired.
 * Needs root and loop devices; exits 77 otherwise. */
#include <dirent.h>
#include <signal.h>
#include <sys/mount.h>

#include "tests/unit/exec/exec-test.h"
#include "exec/executor.h"
#include "steps/copy-step.h"
#include "steps/kinds.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

static char *tmp, *src, *dst, *loops[2], *fsname;
static bool mounted[2];
static char *logged;           /* every log message of the run, one a line */
static bool drop_map;          /* before copy-final: remove the link map */
static bool map_seen;          /* before copy-final: the map was there, with entries */

static void cleanup(void) {
        const char *mnts[2] = { src, dst };
        for (size_t i = 0; i < 2; i++) {
                if (mounted[i])
                        (void) umount2(mnts[i], MNT_DETACH); /* best effort at exit */
                if (loops[i]) {
                        const char *argv[] = { "losetup", "-d", loops[i], NULL };
                        (void) run_argv(argv, 0, NULL, NULL);
                }
        }
        if (tmp)
                test_rm_rf(tmp);
}

static void on_abort(int sig) {
        cleanup();
        signal(SIGABRT, SIG_DFL);
        raise(SIGABRT);
}

static void sink(enum log_level level, const char *msg, void *userdata) {
        char *n = NULL;
        ASSERT(asprintf(&n, "%s%s\n", strempty(logged), msg) >= 0);
        free(logged);
        logged = n;
}

/* An ext4 image of 64 MiB on a loop device, mounted at mnt; false when
 * no loop device can be had. */
static bool make_fs(size_t i, const char *mnt) {
        char *img = NULL, *out = NULL;
        ASSERT(asprintf(&img, "%s/fs%zu.img", tmp, i) >= 0);
        FILE *f = fopen(img, "we");
        ASSERT(f && ftruncate(fileno(f), 64 << 20) == 0);
        fclose(f);
        const char *mk[] = { "mkfs.ext4", "-q", "-F", "-O", "^has_journal", img, NULL };
        ASSERT(run_argv(mk, 0, NULL, NULL) == 0);
        const char *lo[] = { "losetup", "--find", "--show", img, NULL };
        if (run_argv(lo, RUN_CAPTURE_STDOUT, &out, NULL) != 0 || !out || !startswith(out, "/dev/loop")) {
                free(out);
                free(img);
                return false;
        }
        out[strcspn(out, "\n")] = 0;
        loops[i] = out;
        ASSERT(mkdir(mnt, 0755) == 0);
        ASSERT(mount(out, mnt, "ext4", 0, NULL) == 0);
        mounted[i] = true;
        free(img);
        return true;
}

static struct plan *make_plan(const char *name) {
        static const char *const ids[] = { "copy-live-t", "copy-final-t" };
        struct plan *p = test_plan_new("sha256:copy-steps", ids, 2, STEP_COPY_LIVE, 2);
        p->steps[1].kind = STEP_COPY_FINAL;
        for (size_t i = 0; i < 2; i++) {
                json_object *a = json_object_new_object();
                json_object_object_add(a, "filesystem", json_object_new_string(name));
                json_object_object_add(a, "source", json_object_new_string(src));
                json_object_object_add(a, "target", json_object_new_string(dst));
                json_object_put(p->steps[i].args);
                p->steps[i].args = a;
        }
        return p;
}

static char *map_path(void) {
        char *p = NULL;
        ASSERT(asprintf(&p, COPY_LINK_MAP, fsname) >= 0);
        return p;
}

/* Between the two steps: the map is there, then a hard-linked file is
 * rewritten through its second name and gets a third name elsewhere. */
static int before_apply(const struct step_context *ctx, const struct plan_step *s) {
        if (s->kind != STEP_COPY_FINAL)
                return 0;
        char *map = map_path(), *text = test_read("/", map);
        map_seen = text && startswith(text, "rootraid-copy-links 1\n") && strchr(text + 22, '\n');
        if (drop_map)
                ASSERT(unlink(map) == 0);
        free(text);
        free(map);
        char *b = test_path(src, "b/x2"), *a = test_path(src, "a/x"), *c = test_path(src, "c/x3");
        FILE *f = fopen(b, "ae");
        ASSERT(f);
        fputs("rewritten\n", f);
        ASSERT(fclose(f) == 0);
        ASSERT(link(a, c) == 0);
        free(a);
        free(b);
        free(c);
        return 0;
}

static void assert_target(void) {
        struct stat a, b, c;
        char *pa = test_path(dst, "a/x"), *pb = test_path(dst, "b/x2"), *pc = test_path(dst, "c/x3");
        ASSERT(stat(pa, &a) == 0 && stat(pb, &b) == 0 && stat(pc, &c) == 0);
        ASSERT(a.st_ino == b.st_ino && a.st_ino == c.st_ino && a.st_nlink == 3);
        char *text = test_read(dst, "a/x");
        ASSERT(streq_ptr(text, "one\nrewritten\n"));
        free(text);
        free(pa);
        free(pb);
        free(pc);
}

/* A fresh source tree: a/x with the names b/x2, and an unrelated pair. */
static void make_tree(void) {
        const char *rs[] = { "find", src, "-mindepth", "1", "-delete", NULL },
                   *rd[] = { "find", dst, "-mindepth", "1", "-delete", NULL };
        ASSERT(run_argv(rs, 0, NULL, NULL) == 0 && run_argv(rd, 0, NULL, NULL) == 0);
        for (const char *d = "abc"; *d; d++) {
                char n[2] = { *d, 0 }, *q = test_path(src, n);
                ASSERT(mkdir(q, 0755) == 0);
                free(q);
        }
        test_write(src, "a/x", "one\n");
        test_write(src, "a/y", "two\n");
        char *a = test_path(src, "a/x"), *b = test_path(src, "b/x2"), *y = test_path(src, "a/y"),
             *y2 = test_path(src, "c/y2");
        ASSERT(link(a, b) == 0 && link(y, y2) == 0);
        free(a);
        free(b);
        free(y);
        free(y2);
        /* A ctime in the tracker's first second counts as a change for a
         * full comparison: start it in a later second. */
        ASSERT(usleep(1200 * 1000) == 0);
}

/* One apply of copy-live then copy-final; returns the log. */
static char *run_once(bool drop) {
        struct plan *p = make_plan(fsname);
        struct executor_options opts = { .before_apply = before_apply };
        char *state = test_path(tmp, "state"), *e = NULL;
        char *const dirs[] = { state, NULL };

        test_rm_rf(state);
        ASSERT(mkdir(state, 0700) == 0);
        make_tree();
        drop_map = drop;
        map_seen = false;
        free(logged);
        logged = NULL;
        log_set_sink(sink, NULL);
        struct journal *j = test_journal_new(p, dirs);
        int r = executor_apply(p, j, step_table, &opts, &e);
        if (r < 0)
                fprintf(stderr, "apply: %s\n%s", strna(e), strempty(logged));
        ASSERT_OK(r);
        ASSERT(map_seen);
        assert_target();
        char *map = map_path();
        ASSERT(access(map, F_OK) < 0 && errno == ENOENT); /* used, then removed */

        ASSERT_OK(executor_rollback(p, j, step_table, &opts, &e));
        ASSERT(access(map, F_OK) < 0 && errno == ENOENT);
        log_set_sink(NULL, NULL);
        journal_free(j);
        test_plan_free(p);
        free(map);
        free(state);
        free(e);
        return TAKE_PTR(logged);
}

/* copy-live's undo removes a map that no final sync used. */
static void test_undo_removes_map(void) {
        struct plan *p = make_plan(fsname);
        struct executor_options opts = {};
        char *state = test_path(tmp, "state"), *e = NULL, *map = map_path();
        char *const dirs[] = { state, NULL };

        test_rm_rf(state);
        ASSERT(mkdir(state, 0700) == 0);
        make_tree();
        p->n_steps = 1; /* copy-live only */
        struct journal *j = test_journal_new(p, dirs);
        ASSERT_OK(executor_apply(p, j, step_table, &opts, &e));
        ASSERT(access(map, F_OK) == 0);
        ASSERT_OK(executor_rollback(p, j, step_table, &opts, &e));
        ASSERT(access(map, F_OK) < 0 && errno == ENOENT);
        p->n_steps = 2;
        journal_free(j);
        test_plan_free(p);
        free(map);
        free(state);
        free(e);
}

static void marker_remove(const char *fmt) {
        char *m = NULL;
        ASSERT(asprintf(&m, "%s/%s.done", TARGET_STATE_DIR, fmt) >= 0);
        char *path = NULL;
        ASSERT(asprintf(&path, m, fsname) >= 0);
        ASSERT(unlink(path) == 0);
        free(path);
        free(m);
}

/* Removes everything in the target filesystem but lost+found. */
static void empty_target(void) {
        DIR *d = opendir(dst);
        struct dirent *de;
        ASSERT(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") && !streq(de->d_name, "lost+found")) {
                        char *path = test_path(dst, de->d_name);
                        test_rm_rf(path);
                        free(path);
                }
        closedir(d);
}

/* Applies copy-live alone with a new journal, and with rollback rolls it
 * back (which must remove the copy-target marker); returns the log. */
static char *copy_live_again(struct plan *p, bool rollback) {
        struct executor_options opts = {};
        char *state = test_path(tmp, "state"), *e = NULL, *m = NULL;
        char *const dirs[] = { state, NULL };
        test_rm_rf(state);
        ASSERT(mkdir(state, 0700) == 0);
        free(logged);
        logged = NULL;
        log_set_sink(sink, NULL);
        struct journal *j = test_journal_new(p, dirs);
        ASSERT_OK(executor_apply(p, j, step_table, &opts, &e));
        ASSERT(asprintf(&m, TARGET_STATE_DIR "/" COPY_TARGET_MARKER ".done", fsname) >= 0);
        ASSERT(access(m, F_OK) == 0);
        if (rollback) {
                ASSERT_OK(executor_rollback(p, j, step_table, &opts, &e));
                ASSERT(access(m, F_OK) < 0 && errno == ENOENT);
        }
        log_set_sink(NULL, NULL);
        journal_free(j);
        free(m);
        free(state);
        free(e);
        return TAKE_PTR(logged);
}

/* What a power cut can leave: a/y in the target with its size and times
 * but other data.  Run again in the same boot (the copy-target marker is
 * there), copy-live trusts the target as rsync would, and the damage,
 * invisible to a comparison of size and mtime, stays: page cache and disk
 * agree within a boot, so that is right there.  In a new boot (no markers
 * in /run) it copies every file again and repairs it. */
static void test_new_boot_rewrites(void) {
        struct plan *p = make_plan(fsname);
        char *y = test_path(dst, "a/y");
        struct stat st;
        p->n_steps = 1; /* copy-live only */
        make_tree();
        empty_target();
        /* A fresh target holds what mount-target put there: the journal's
         * copy.  That is no earlier boot's copy, and nothing says so. */
        char *jdir = test_path(dst, JOURNAL_DIR + 1);
        ASSERT_OK(mkdir_p(jdir, 0700));
        test_write(jdir, "journal", "{}\n");
        free(jdir);
        char *log = copy_live_again(p, true);
        ASSERT(!strstr(strempty(log), "earlier boot"));
        free(log);
        free(copy_live_again(p, false));
        ASSERT(stat(y, &st) == 0);
        test_write(dst, "a/y", "TWO\n");
        struct timespec ts[2] = { st.st_atim, st.st_mtim };
        ASSERT(utimensat(AT_FDCWD, y, ts, 0) == 0);

        marker_remove(COPY_LIVE_MARKER); /* the step is to run again */
        log = copy_live_again(p, false);
        char *text = test_read(dst, "a/y");
        ASSERT(streq_ptr(text, "TWO\n"));
        ASSERT(!strstr(strempty(log), "copied again"));
        free(text);
        free(log);

        marker_remove(COPY_LIVE_MARKER);
        marker_remove(COPY_TARGET_MARKER); /* a new boot: /run is empty */
        log = copy_live_again(p, true);
        text = test_read(dst, "a/y");
        ASSERT(streq_ptr(text, "two\n"));
        ASSERT_CONTAINS(log, "copied again");
        free(text);
        free(log);

        p->n_steps = 2;
        test_plan_free(p);
        free(y);
}

int main(void) {
        if (getuid() != 0) {
                printf("skipped: needs root for loop devices and mounts\n");
                return 77;
        }
        log_set_max_level(getenv("ROOTRAID_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING);
        tmp = test_tmpdir();
        atexit(cleanup);
        signal(SIGABRT, on_abort);
        src = test_path(tmp, "src");
        dst = test_path(tmp, "dst");
        /* Markers and maps in /run/rootraid/state are named after the
         * filesystem: a name of our own. */
        ASSERT(asprintf(&fsname, "looptest-%d", (int) getpid()) >= 0);
        if (!make_fs(0, src) || !make_fs(1, dst)) {
                printf("skipped: cannot set up loop devices\n");
                return 77;
        }

        char *log = run_once(false);
        ASSERT_CONTAINS(log, "tracked changes only");
        free(log);
        log = run_once(true);
        ASSERT_CONTAINS(log, "full comparison");
        free(log);
        test_undo_removes_map();
        test_new_boot_rewrites();
        printf("copy-live/copy-final: the link map is written, used and removed; a new boot copies again\n");
        return 0;
}
