/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rootraid verify: the end-state inspection of the plan's verify step
 * (arrays in sync, mdadm.conf, fstab, initramfs, GRUB on every disk), on
 * demand.  Exit 0 when everything holds, 1 with the list of problems. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/exec-common.h"
#include "cli/verbs.h"
#include "steps/target.h"
#include "util/log.h"
#include "util/strutil.h"

static void help(void) {
        printf("Usage: rootraid verify [PLAN] [OPTIONS]\n\n"
               "Check the migrated system: every array in sync with all members, mdadm.conf\n"
               "and fstab against the arrays and filesystems, the initramfs, GRUB on every disk.\n"
               "Without PLAN, the plan in the journal is used.\n\n"
               "Options:\n"
               "  -h --help   show this help\n");
}

int verb_verify(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { 0 }
        };
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_journal_free_ struct journal *j = NULL;
        _cleanup_strv_free_ char **problems = NULL;
        _cleanup_free_ char *error = NULL;
        const struct plan_step *step = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind + 1 < argc)
                return log_error_errno(-EINVAL, "verify takes at most one plan file.");
        if (geteuid() != 0)
                return log_error_errno(-EACCES, "Reading the arrays and the disks needs root.");
        if (optind < argc) {
                r = plan_load_file(argv[optind], &p, &error);
                if (r < 0)
                        return log_error_errno(r, "Cannot use the plan %s: %s", argv[optind], error ? error : strerror(-r));
        } else if ((r = exec_load(&j, &p)) < 0)
                return r;

        for (size_t i = 0; i < p->n_steps && !step; i++)
                if (p->steps[i].kind == STEP_VERIFY)
                        step = &p->steps[i];
        if (!step)
                return log_error_errno(-EBADMSG, "The plan has no verify step to take the checks from.");

        struct step_context ctx = { .plan = p, .step = step };
        r = verify_run(&ctx, step, &problems);
        free(ctx.error);
        if (r < 0)
                return log_error_errno(r, "Cannot verify: %m");
        if (!problems) {
                printf("Verified: every array is in sync with all its members; mdadm.conf, fstab, the initramfs "
                       "and GRUB on every disk match.\n");
                return 0;
        }
        for (size_t i = 0; problems[i]; i++)
                printf("problem: %s\n", problems[i]);
        return 1;
}
