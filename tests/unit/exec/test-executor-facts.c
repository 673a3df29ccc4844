/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The executor refuses a plan whose facts no longer match the machine,
 * before it writes anything, and names what changed.  A real plan from the
 * planner on a fixture sysroot, and the facts inspected again.
 * Usage: test-executor-facts FIXTURES_DIR */
#include "exec-test.h"
#include "exec/executor.h"
#include "inspect/inspect.h"

static struct facts *load_facts(const char *fixtures, const char *layout) {
        struct inspect_options o = {};
        struct facts *f = NULL;
        char *dir = NULL, *e = NULL;

        ASSERT(asprintf(&dir, "%s/%s", fixtures, layout) >= 0);
        o.sysroot = dir;
        int r = inspect_system(&o, &f, &e);
        if (r < 0)
                fprintf(stderr, "inspect_system(%s): %s\n", dir, e);
        ASSERT_OK(r);
        free(dir);
        return f;
}

int main(int argc, char *argv[]) {
        char *disks[] = { (char *) "/dev/sdb", NULL }, *e = NULL, *tmp = test_tmpdir();
        struct plan_options po = { .disks = disks };
        struct plan *p = NULL;

        if (argc != 2) {
                fprintf(stderr, "usage: %s FIXTURES_DIR\n", argv[0]);
                return 2;
        }
        log_set_max_level(LOG_LEVEL_WARNING);
        struct facts *was = load_facts(argv[1], "bios-mbr"), *now = load_facts(argv[1], "bios-mbr");
        int r = plan_build(was, &po, &p, &e);
        if (r < 0)
                fprintf(stderr, "plan_build: %s\n", e);
        ASSERT_OK(r);
        json_object *pj = NULL;
        ASSERT_OK(plan_to_json(p, &pj));
        struct journal *j = NULL;
        ASSERT_OK(journal_new(p, "plan.json", pj, &j));
        json_object_put(pj);
        ASSERT_OK(journal_add_location(j, tmp));

        /* The target disk shrank since planning. */
        struct blockdev *sdb = facts_find_kname(now, "sdb");
        ASSERT(sdb);
        uint64_t size = sdb->size;
        sdb->size /= 2;
        struct executor_options opts = { .facts = now };
        free(e);
        e = NULL;
        ASSERT_ERR(executor_apply(p, j, step_table, &opts, &e), ESTALE);
        ASSERT_CONTAINS(e, "no longer matches this machine");
        ASSERT_CONTAINS(e, "size 20.0 GiB -> 10.0 GiB");
        ASSERT(!test_exists(tmp, JOURNAL_FILE_NAME));
        ASSERT(j->generation == 0);

        /* The same facts as when planning pass this check; what stops the
         * run then is the first step kind this build cannot run yet. */
        sdb->size = size;
        free(e);
        e = NULL;
        r = executor_apply(p, j, step_table, &opts, &e);
        ASSERT(r != -ESTALE);
        ASSERT_ERR(r, EOPNOTSUPP);
        ASSERT_CONTAINS(e, "cannot run");
        ASSERT(!test_exists(tmp, JOURNAL_FILE_NAME));

        journal_free(j);
        plan_free(p);
        facts_free(was);
        facts_free(now);
        test_rm_rf(tmp);
        free(tmp);
        free(e);
        printf("executor facts check: all tests passed\n");
        return 0;
}
