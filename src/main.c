/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The command line: verb table, global options, and the one table that
 * maps errors to exit codes. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "cli/verbs.h"
#include "exec/events.h"
#include "util/log.h"

static int verb_version(int argc, char *argv[]) {
        printf("rootraid %s\n", PROJECT_VERSION);
        return 0;
}

struct verb {
        const char *name;
        int (*run)(int argc, char *argv[]);
        const char *summary;
};

/* Only verbs that work are listed. */
static const struct verb verbs[] = {
        /* VERBS: one line per verb, added as each verb lands. */
        { "version", verb_version, "show the version" },
        { "copy", verb_copy, "copy a filesystem tree exactly and fast; final sync; verify" },
        { "plan", verb_plan, "inspect and plan the migration onto RAID (changes nothing)" },
        { "show", verb_show, "print a saved plan; --check it against the machine" },
        { "apply", verb_apply, "run a plan: migrate this machine onto RAID (journaled)" },
        { "resume", verb_resume, "continue the journaled migration after an interruption or reboot" },
        { "rollback", verb_rollback, "undo the migration, before its point of no return" },
        { "status", verb_status, "show the journaled migration's state" },
        { "verify", verb_verify, "check the migrated system's arrays, configuration and boot loader" },
};

/* Exit codes, documented in the README and rootraid(8).  Errors travel as
 * negative errno values from the library code up to here. */
static const struct {
        int error;
        int code;
        const char *meaning;
} exit_codes[] = {
        { 0, 0, "success" },
        { -EINVAL, 2, "usage error: bad option, argument or device name" },
        { -EBUSY, 3, "refused: a target disk is in use (mounted, swap, holders, part of the root stack)" },
        { -EEXIST, 3, "refused: a target disk carries signatures (use --wipe once you are sure)" },
        { -ENOSPC, 3, "refused: a target disk is too small; or a copy stopped: its target filesystem is full (the message gives the sizes)" },
        { -EALREADY, 3, "refused: the root is already on RAID" },
        { -EOPNOTSUPP, 4, "refused: unsupported storage stack or boot setup" },
        { -EBADMSG, 5, "the plan file is invalid" },
        { -ESTALE, 6, "the plan is stale: the machine changed since it was planned" },
        { -EPROTO, 7, "an external command failed (see the log)" },
        { -ENOENT, 8, "a file or device named does not exist" },
        { -EACCES, 9, "permission denied (run as root)" },
        { -EPERM, 9, "permission denied (run as root)" },
        { -ENOTRECOVERABLE, 10, "rollback refused: a step past the point of no return, or a switch without a reboot, has started (resume instead)" },
        { -EAGAIN, 11, "refused: another rootraid executor is running (the message names it)" },
        { -ECANCELED, 12, "interrupted (SIGINT/SIGTERM) between steps: run 'rootraid resume'" },
        { -EINPROGRESS, 13, "refused: a rollback is unfinished: run 'rootraid rollback' to finish it" },
        { -ERESTART, 14, "the machine is rebooting (or switching) to continue, or waits for your reboot after a switch: 'rootraid resume' goes on once it is back" },
};

static int exit_code_for(int r) {
        if (r >= 0)
                return r > 255 ? 1 : r;
        for (size_t i = 0; i < ELEMENTSOF(exit_codes); i++)
                if (exit_codes[i].error == r)
                        return exit_codes[i].code;
        return 1;
}

static void help(void) {
        printf("Usage: rootraid [--verbose] VERB [OPTIONS...]\n\n"
               "Move a running Linux system from one disk onto software RAID (md).\n\n"
               "Verbs:\n");
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++)
                printf("  %-10s %s\n", verbs[i].name, verbs[i].summary);
        printf("\nOptions:\n"
               "  -h --help      show this help\n"
               "     --version  show the version\n"
               "  -v --verbose   log debug messages and the external commands run\n\n"
               "Exit codes:\n"
               "  1  failure, or differences found by a verification\n");
        int last = 1;
        for (size_t i = 0; i < ELEMENTSOF(exit_codes); i++) {
                if (exit_codes[i].code < last)
                        continue;
                /* Every meaning of a code (3 has several), each once. */
                if (exit_codes[i].code == last) {
                        if (!streq(exit_codes[i].meaning, exit_codes[i - 1].meaning))
                                printf("     %s\n", exit_codes[i].meaning);
                        continue;
                }
                printf("  %-2d %s\n", exit_codes[i].code, exit_codes[i].meaning);
                last = exit_codes[i].code;
        }
        printf("\nRun 'rootraid VERB --help' for the options of a verb.\n");
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, 'V' },
                { "verbose", no_argument, NULL, 'v' },
                { 0 }
        };
        int c;

        /* Stop at the verb: everything after it belongs to the verb. */
        while ((c = getopt_long(argc, argv, "+hv", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        help();
                        return 0;
                case 'V':
                        printf("rootraid %s\n", PROJECT_VERSION);
                        return 0;
                case 'v':
                        log_set_max_level(LOG_LEVEL_DEBUG);
                        break;
                default:
                        return 2;
                }
        }
        if (optind >= argc) {
                help();
                return 2;
        }

        const char *name = argv[optind];
        for (size_t i = 0; i < ELEMENTSOF(verbs); i++) {
                if (!streq(verbs[i].name, name))
                        continue;
                int vargc = argc - optind;
                char **vargv = argv + optind;
                optind = 0; /* reset getopt for the verb's own parsing */
                int r = verbs[i].run(vargc, vargv), code = exit_code_for(r);
                /* --json: the last event says how the run ended. */
                if (events_enabled())
                        (void) events_run_end(r == 0 ? "ok" : r == -ECANCELED ? "interrupted" :
                                              r == -ERESTART ? "rebooting" : "failed", code, NULL);
                return code;
        }
        log_error("Unknown verb '%s'. Run 'rootraid --help' for the list.", name);
        return 2;
}
