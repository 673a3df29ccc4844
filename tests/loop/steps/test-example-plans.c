/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The real plans of plans/examples/ (one per supported layout, made by the
 * planner) against the step kinds of this directory, so that the two never
 * drift apart:
 *   - each disk's wipe-signatures and partition-disk steps run on a sparse
 *     loop device of the planned size; sfdisk --json must read back the
 *     planned label, disk id and every partition's start, size, type and
 *     boot flag; rollback must leave no signature;
 *   - write-fstab, write-crypttab and write-mdadm-conf run on copies of the
 *     fixture's own files (the plan was made from that fixture);
 *   - mkfs and mkswap run as a dry run (their devices are md arrays).
 * Usage: test-example-plans SOURCE_ROOT.  Needs root; exits 77 otherwise. */
#include <strings.h>

#include "tests/unit/exec/exec-test.h"
#include "exec/executor.h"
#include "steps/kinds.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

static char *tmp, *loopdev;
static unsigned n_disks, n_partitions, n_files, n_mkfs;

static void detach(void) {
        if (loopdev) {
                const char *argv[] = { "losetup", "-d", loopdev, NULL };
                (void) run_argv(argv, 0, NULL, NULL); /* best effort */
                free(loopdev);
                loopdev = NULL;
        }
}

static void cleanup(void) {
        detach();
        if (tmp)
                test_rm_rf(tmp);
}

static void on_abort(int sig) {
        cleanup();
        signal(SIGABRT, SIG_DFL);
        raise(SIGABRT);
}

static char *run_out(const char *const *argv) {
        char *out = NULL;
        ASSERT(run_argv(argv, RUN_CAPTURE_STDOUT, &out, NULL) == 0);
        return out;
}

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;
        (void) json_object_object_get_ex(o, key, &v);
        return v;
}

static const char *str(json_object *o, const char *key) {
        return json_object_get_string(get(o, key));
}

/* A plan of the given steps of p (deep copies of their args, with key
 * replaced by value when key is not NULL), everything done by nothing. */
static struct plan *sub_plan(const struct plan *p, const size_t *idx, size_t n, const char *key, const char *value) {
        const char *ids[8];
        for (size_t i = 0; i < n; i++)
                ids[i] = p->steps[idx[i]].id;
        struct plan *s = test_plan_new("sha256:examples", ids, n, p->steps[idx[0]].kind, n);
        for (size_t i = 0; i < n; i++) {
                const struct plan_step *o = &p->steps[idx[i]];
                json_object *args = json_tokener_parse(json_object_to_json_string(o->args));
                ASSERT(args);
                if (key)
                        json_object_object_add(args, key, json_object_new_string(value));
                json_object_put(s->steps[i].args);
                s->steps[i].args = args;
                s->steps[i].kind = o->kind;
                s->steps[i].reversible = o->reversible;
        }
        return s;
}

static void run_plan(struct plan *s, bool dry_run, bool rollback) {
        char *state = test_path(tmp, "state"), *dirs[] = { state, NULL }, *e = NULL;
        struct executor_options opts = { .dry_run = dry_run };

        test_rm_rf(state);
        struct journal *j = dry_run ? NULL : test_journal_new(s, dirs);
        int r = executor_apply(s, j, step_table, &opts, &e);
        if (r < 0)
                fprintf(stderr, "apply %s: %s\n", s->steps[0].id, e);
        ASSERT_OK(r);
        if (rollback) {
                r = executor_rollback(s, j, step_table, &opts, &e);
                if (r < 0)
                        fprintf(stderr, "rollback %s: %s\n", s->steps[0].id, e);
                ASSERT_OK(r);
        }
        journal_free(j);
        free(state);
        free(e);
}

static void check_table(json_object *args) {
        const char *sf[] = { "sfdisk", "--json", loopdev, NULL };
        char *out = run_out(sf);
        json_object *root = json_tokener_parse(out), *pt = get(root, "partitiontable");
        bool dos = streq(str(args, "label"), "dos");

        ASSERT(pt && streq(str(pt, "label"), str(args, "label")));
        ASSERT(strcasecmp(str(pt, "id"), str(args, "disk_id")) == 0);
        json_object *have = get(pt, "partitions"), *want = get(args, "partitions");
        ASSERT(json_object_array_length(have) == json_object_array_length(want));
        for (size_t i = 0; i < json_object_array_length(want); i++) {
                json_object *w = json_object_array_get_idx(want, i), *h = NULL;
                char node[64];
                snprintf(node, sizeof node, "%sp%d", loopdev, json_object_get_int(get(w, "partno")));
                for (size_t k = 0; k < json_object_array_length(have); k++)
                        if (streq(str(json_object_array_get_idx(have, k), "node"), node))
                                h = json_object_array_get_idx(have, k);
                ASSERT(h);
                ASSERT((uint64_t) json_object_get_int64(get(h, "start")) * 512 == (uint64_t) json_object_get_int64(get(w, "start")));
                ASSERT((uint64_t) json_object_get_int64(get(h, "size")) * 512 == (uint64_t) json_object_get_int64(get(w, "size")));
                if (dos) {
                        ASSERT(strtoul(str(h, "type"), NULL, 16) == strtoul(str(w, "type"), NULL, 16));
                        ASSERT(json_object_get_boolean(get(h, "bootable")) == json_object_get_boolean(get(w, "bootable")));
                } else {
                        ASSERT(strcasecmp(str(h, "type"), str(w, "type")) == 0);
                        if (get(w, "uuid"))
                                ASSERT(strcasecmp(str(h, "uuid"), str(w, "uuid")) == 0);
                        if (get(w, "name"))
                                ASSERT(streq_ptr(str(h, "name"), str(w, "name")));
                        bool boot = get(h, "attrs") && strstr(str(h, "attrs"), "LegacyBIOSBootable");
                        ASSERT(boot == json_object_get_boolean(get(w, "bootable")));
                }
                n_partitions++;
        }
        json_object_put(root);
        free(out);
}

static void test_disk(const struct plan *p, json_object *target_disks, size_t part_idx) {
        json_object *args = p->steps[part_idx].args;
        const char *disk = str(args, "disk");
        uint64_t size = 0;
        size_t idx[2], n = 0;

        for (size_t i = 0; i < json_object_array_length(target_disks); i++)
                if (streq(str(json_object_array_get_idx(target_disks, i), "device"), disk))
                        size = (uint64_t) json_object_get_int64(get(json_object_array_get_idx(target_disks, i), "size"));
        ASSERT(size > 0);
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].kind == STEP_WIPE_SIGNATURES && streq(str(p->steps[i].args, "disk"), disk))
                        idx[n++] = i;
        idx[n++] = part_idx;

        /* A sparse image of the planned size: only the tables take space. */
        char *img = test_path(tmp, "disk.img");
        FILE *f = fopen(img, "we");
        ASSERT(f && ftruncate(fileno(f), (off_t) size) == 0);
        fclose(f);
        const char *los[] = { "losetup", "--find", "--show", img, NULL };
        loopdev = run_out(los);
        loopdev[strcspn(loopdev, "\n")] = 0;

        struct plan *s = sub_plan(p, idx, n, "disk", loopdev);
        run_plan(s, false, false);
        check_table(args);
        /* And back: nothing left on the disk. */
        run_plan(s, false, true);
        const char *wf[] = { "wipefs", "--no-act", loopdev, NULL };
        char *out = run_out(wf);
        ASSERT(streq(out, ""));
        free(out);
        test_plan_free(s);

        detach();
        unlink(img);
        free(img);
        n_disks++;
}

/* The fixture's copy of /etc/NAME under the tree the plan was made from. */
static char *fixture_file(const char *src, const char *fixture, const char *name) {
        static const char *const bases[] = { "tests/fixtures", "tests/unit/plan/layouts" };
        for (size_t i = 0; i < ELEMENTSOF(bases); i++) {
                char *p = NULL;
                ASSERT(asprintf(&p, "%s/%s/%s/root/etc/%s", src, bases[i], fixture, name) >= 0);
                if (access(p, F_OK) == 0)
                        return p;
                free(p);
        }
        return NULL;
}

static void test_config_file(const struct plan *p, size_t i, const char *src, const char *fixture) {
        const char *name = p->steps[i].kind == STEP_WRITE_FSTAB ? "fstab" :
                           p->steps[i].kind == STEP_WRITE_CRYPTTAB ? "crypttab" : "mdadm/mdadm.conf";
        char *orig = fixture_file(src, fixture, name), *dst = NULL, *text = NULL, *etc = test_path(tmp, "etc");

        test_rm_rf(etc);
        ASSERT(mkdir(etc, 0755) == 0);
        ASSERT(asprintf(&dst, "%s/%s", etc, name) >= 0);
        if (orig) {
                size_t size;
                char *dir = test_path(etc, "mdadm");
                (void) mkdir(dir, 0755); /* for mdadm.conf; unused otherwise */
                free(dir);
                ASSERT_OK(read_full_file(orig, 1 << 20, &text, &size));
                ASSERT_OK(write_file_atomic(dst, text, size, 0644));
                free(text);
        } else
                ASSERT(p->steps[i].kind == STEP_WRITE_MDADM_CONF); /* fstab and crypttab must exist */

        struct plan *s = sub_plan(p, &i, 1, "path", dst);
        run_plan(s, false, false);

        /* What the boot needs is there. */
        char *dir = strdup(dst), *base = strrchr(dir, '/');
        *base++ = 0;
        text = test_read(dir, base);
        json_object *list = get(s->steps[0].args, p->steps[i].kind == STEP_WRITE_MDADM_CONF ? "arrays" : "entries");
        for (size_t k = 0; k < json_object_array_length(list); k++) {
                json_object *e = json_object_array_get_idx(list, k);
                ASSERT_CONTAINS(text, str(e, p->steps[i].kind == STEP_WRITE_MDADM_CONF ? "uuid" : "new_source"));
        }
        free(text);
        free(dir);
        test_plan_free(s);
        free(orig);
        free(dst);
        free(etc);
        n_files++;
}

static void test_mkfs_dry_run(const struct plan *p) {
        size_t idx[8], n = 0;
        struct test_capture cap;

        for (size_t i = 0; i < p->n_steps && n < ELEMENTSOF(idx); i++)
                if (p->steps[i].kind == STEP_MKFS || p->steps[i].kind == STEP_MKSWAP)
                        idx[n++] = i;
        if (n == 0)
                return;
        struct plan *s = sub_plan(p, idx, n, NULL, NULL);
        test_capture_begin(&cap, tmp);
        run_plan(s, true, false);
        char *out = test_capture_end(&cap);
        for (size_t i = 0; i < n; i++) {
                json_object *a = s->steps[i].args;
                char *want = NULL;
                if (s->steps[i].kind == STEP_MKSWAP)
                        ASSERT(asprintf(&want, "would run: mkswap -U %s", str(a, "uuid")) >= 0);
                else
                        ASSERT(asprintf(&want, "would run: mkfs.%s ", str(a, "type")) >= 0);
                ASSERT_CONTAINS(out, want);
                free(want);
                n_mkfs++;
        }
        free(out);
        test_plan_free(s);
}

int main(int argc, char *argv[]) {
        char line[512], *list = NULL;

        if (argc != 2) {
                fprintf(stderr, "usage: %s SOURCE_ROOT\n", argv[0]);
                return 2;
        }
        if (getuid() != 0) {
                printf("skipped: needs root for loop devices\n");
                return 77;
        }
        const char *probe[] = { "losetup", "--find", NULL };
        if (run_argv(probe, RUN_CAPTURE_STDOUT | RUN_QUIET_STDERR, NULL, NULL) != 0) {
                printf("skipped: no free loop device\n");
                return 77;
        }
        log_set_max_level(LOG_LEVEL_WARNING);
        tmp = test_tmpdir();
        atexit(cleanup);
        signal(SIGABRT, on_abort);

        ASSERT(asprintf(&list, "%s/plans/examples/examples.list", argv[1]) >= 0);
        FILE *f = fopen(list, "re");
        ASSERT(f);
        unsigned n_plans = 0;
        while (fgets(line, sizeof line, f)) {
                char name[128], fixture[128], *path = NULL, *e = NULL;
                struct plan *p = NULL;

                if (line[0] == '#' || sscanf(line, "%127s %127s", name, fixture) != 2)
                        continue;
                ASSERT(asprintf(&path, "%s/plans/examples/%s.json", argv[1], name) >= 0);
                int r = plan_load_file(path, &p, &e);
                if (r < 0)
                        fprintf(stderr, "%s: %s\n", path, e);
                ASSERT_OK(r);
                json_object *disks = get(p->target, "disks");
                for (size_t i = 0; i < p->n_steps; i++) {
                        if (p->steps[i].kind == STEP_PARTITION_DISK)
                                test_disk(p, disks, i);
                        else if (p->steps[i].kind == STEP_WRITE_FSTAB || p->steps[i].kind == STEP_WRITE_CRYPTTAB ||
                                 p->steps[i].kind == STEP_WRITE_MDADM_CONF)
                                test_config_file(p, i, argv[1], fixture);
                }
                test_mkfs_dry_run(p);
                plan_free(p);
                free(path);
                free(e);
                n_plans++;
        }
        fclose(f);
        free(list);
        ASSERT(n_plans >= 10);
        printf("example plans: %u plans, %u disks partitioned (%u partitions checked), %u configuration files written, "
               "%u mkfs/mkswap commands\n", n_plans, n_disks, n_partitions, n_files, n_mkfs);
        return 0;
}
