/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rootraid show: the summary of a saved plan, its validated JSON, and with
 * --check whether it still matches the machine. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/verbs.h"
#include "inspect/inspect.h"
#include "plan/plan.h"
#include "util/log.h"

static void help(void) {
        printf("Usage: rootraid show FILE [OPTIONS]\n\n"
               "Validate a saved plan and print its summary.\n\n"
               "Options:\n"
               "     --json          print the validated plan as JSON\n"
               "     --check         also inspect the machine and refuse the plan if the facts it\n"
               "                     was made from have changed (exit code 6)\n"
               "     --sysroot DIR   with --check: inspect a fixture tree instead of this machine\n"
               "  -h --help          show this help\n");
}

int verb_show(int argc, char *argv[]) {
        enum { ARG_JSON = 0x100, ARG_CHECK, ARG_SYSROOT };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "check", no_argument, NULL, ARG_CHECK },
                { "sysroot", required_argument, NULL, ARG_SYSROOT },
                { "help", no_argument, NULL, 'h' },
                { 0 }
        };
        _cleanup_plan_free_ struct plan *plan = NULL;
        _cleanup_free_ char *error = NULL;
        const char *sysroot = NULL;
        bool json = false, check = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case ARG_JSON:
                        json = true;
                        break;
                case ARG_CHECK:
                        check = true;
                        break;
                case ARG_SYSROOT:
                        sysroot = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        }
        if (optind + 1 != argc)
                return log_error_errno(-EINVAL, "Name exactly one plan file: rootraid show FILE.");
        const char *path = argv[optind];

        r = plan_load_file(path, &plan, &error);
        if (r == -EBADMSG)
                return log_error_errno(r, "Invalid plan: %s", error ? error : path);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);

        if (check) {
                _cleanup_facts_free_ struct facts *facts = NULL;
                _cleanup_free_ char *changes = NULL;
                r = verb_inspect(sysroot, &facts);
                if (r < 0)
                        return r;
                r = plan_check_facts(plan, facts, &changes);
                if (r == -ESTALE)
                        return log_error_errno(r, "The plan %s no longer matches this machine; make a new plan. What changed:\n%s",
                                               path, changes ? changes : "?");
                if (r < 0)
                        return log_error_errno(r, "Cannot compare the plan with the machine: %m");
        }

        if (json) {
                _cleanup_free_ char *s = plan_to_string(plan);
                if (!s)
                        return log_oom();
                puts(s);
        } else {
                r = plan_print_summary(plan, stdout);
                if (r < 0)
                        return log_error_errno(r, "Cannot print the summary: %m");
                if (check)
                        printf("\nThe plan matches this machine.\n");
        }
        return 0;
}
