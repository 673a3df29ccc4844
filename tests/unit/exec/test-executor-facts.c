/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The executor refuses a plan whose facts no longer match the machine,
 * before it writes anything, and names what changed.  A real plan from the
 * planner on a fixture sysroot, and the facts inspected again.
 * Usage: test-executor-facts FIXTURES_DIR */
#include "exec-test.h"
#include "exec/executor.h"
#include "inspect/inspect.h"

/* Step kinds that touch nothing: the plan names the fixture's devices by
 * stable id, which must never reach a real step on the test machine. */
static int untouched_check(struct step_context *ctx, const struct plan_step *step) {
        return step_error(ctx, ECHILD, "step %s reached: the facts check passed", step->id);
}

static int untouched_apply(struct step_context *ctx, const struct plan_step *step) {
        abort(); /* check never lets it get here */
}

static struct step_ops untouched_ops[_STEP_KIND_MAX];
static const struct step_ops *untouched_table[_STEP_KIND_MAX];

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
        for (int k = 0; k < _STEP_KIND_MAX; k++) {
                untouched_ops[k] = (struct step_ops) { .kind = k, .check = untouched_check, .apply = untouched_apply };
                untouched_table[k] = &untouched_ops[k];
        }
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
        ASSERT_ERR(executor_apply(p, j, untouched_table, &opts, &e), ESTALE);
        ASSERT_CONTAINS(e, "no longer matches this machine");
        ASSERT_CONTAINS(e, "size 20.0 GiB -> 10.0 GiB");
        ASSERT(!test_exists(tmp, JOURNAL_FILE_NAME));
        ASSERT(j->generation == 0);

        /* The same facts as when planning pass this check: the run gets to
         * the first step (whose stand-in stops it there). */
        sdb->size = size;
        free(e);
        e = NULL;
        r = executor_apply(p, j, untouched_table, &opts, &e);
        ASSERT_ERR(r, ECHILD);
        ASSERT_CONTAINS(e, p->steps[0].id);
        ASSERT_CONTAINS(e, "the facts check passed");

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
