/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rootraid apply PLAN: checks the plan against the machine, asks, and runs
 * it with a journal (JOURNAL_DIR, and the new root once mounted). */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/exec-common.h"
#include "cli/verbs.h"
#include "exec/events.h"
#include "exec/executor.h"
#include "exec/resume-unit.h"
#include "inspect/inspect.h"
#include "steps/step.h"
#include "util/log.h"
#include "util/run.h"
#include "util/strutil.h"

/* The transient unit of apply --detach. */
#define APPLY_UNIT_NAME "rootraid-apply"

static void help(void) {
        printf("Usage: rootraid apply PLAN [OPTIONS]\n\n"
               "Migrate this machine as the plan (from 'rootraid plan') says.  The plan is refused if\n"
               "the machine changed since it was made.  The run is journaled: after an interruption\n"
               "or the planned reboot, 'rootraid resume' continues; before the point of no return\n"
               "'rootraid rollback' restores the starting system.\n\n"
               "Options:\n"
               "  -y --yes       do not ask for confirmation on a terminal\n"
               "  -n --dry-run   print every command and file the steps would run and write;\n"
               "                 change nothing\n"
               "     --json      print JSON events on stdout, one per line (README: JSON events);\n"
               "                 needs --yes on a terminal\n"
               "     --detach    check the plan here, then run the migration as the transient systemd\n"
               "                 unit " APPLY_UNIT_NAME ".service, which a lost SSH session does not stop;\n"
               "                 follow it with 'rootraid status --follow'.  Needs --yes: nobody is\n"
               "                 there to answer a question\n"
               "  -h --help      show this help\n");
}

/* Runs `rootraid apply --yes PLAN` again, as a transient service: its
 * stdout and stderr go to the system journal, its events to the events
 * file, and it outlives the SSH session that started it. */
static int detach(const char *plan_path) {
        _cleanup_free_ char *plan = NULL, *desc = NULL;
        char self[PATH_MAX];
        ssize_t n;
        int r;

        n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0)
                return log_error_errno(errno, "Cannot find the rootraid binary (/proc/self/exe): %m");
        self[n] = '\0';
        /* The unit starts in /, not here. */
        plan = realpath(plan_path, NULL);
        if (!plan)
                return log_error_errno(errno, "Cannot find the plan %s: %m", plan_path);
        if (asprintf(&desc, "--description=rootraid apply %s", plan) < 0)
                return log_oom();
        const char *argv[16] = {
                "systemd-run", "--quiet", "--unit=" APPLY_UNIT_NAME, desc, "--collect",
                /* SIGTERM stops the executor between steps; give it time. */
                "--property=TimeoutStopSec=5min",
                /* Exit 14 is the planned reboot, not a failure. */
                "--property=SuccessExitStatus=14",
                "--", self,
        };
        size_t k = 9;
        if (log_get_max_level() >= LOG_LEVEL_DEBUG)
                argv[k++] = "--verbose";
        argv[k++] = "apply";
        argv[k++] = "--yes";
        argv[k++] = plan;
        r = run_argv_checked(argv, 0, NULL);
        if (r < 0)
                return log_error_errno(r, "Cannot start the migration as %s.service (systemd-run failed, see above; "
                                       "'systemctl status %s' shows a unit of that name still there). Nothing was changed.",
                                       APPLY_UNIT_NAME, APPLY_UNIT_NAME);
        printf("The migration runs as the systemd unit %s.service; closing this session does not stop it.\n"
               "Follow it from any session:  rootraid status --follow\n"
               "Its log:                     journalctl -u %s\n"
               "It reboots the machine once; %s continues after the boot.\n",
               APPLY_UNIT_NAME, APPLY_UNIT_NAME, RESUME_UNIT_NAME);
        return 0;
}

static bool confirm(const struct plan *p) {
        char answer[16] = {};

        (void) plan_print_summary(p, stdout);
        printf("\nThis changes the disks listed above. Type 'yes' to start: ");
        fflush(stdout);
        if (!fgets(answer, sizeof answer, stdin))
                return false;
        return streq(strstrip_trailing(answer), "yes");
}

int verb_apply(int argc, char *argv[]) {
        static const struct option options[] = {
                { "yes", no_argument, NULL, 'y' },
                { "dry-run", no_argument, NULL, 'n' },
                { "json", no_argument, NULL, 'J' },
                { "detach", no_argument, NULL, 'D' },
                { "help", no_argument, NULL, 'h' },
                { 0 }
        };
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_facts_free_ struct facts *facts = NULL;
        _cleanup_journal_free_ struct journal *j = NULL, *old = NULL;
        _cleanup_(exec_lock_releasep) struct exec_lock *lock = NULL;
        _cleanup_free_ char *error = NULL;
        _cleanup_strv_free_ char **dirs = NULL, **warnings = NULL;
        json_object *json = NULL;
        bool yes = false, dry_run = false, json_events = false, detached = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "ynh", options, NULL)) >= 0)
                switch (c) {
                case 'y':
                        yes = true;
                        break;
                case 'n':
                        dry_run = true;
                        break;
                case 'J':
                        json_events = true;
                        break;
                case 'D':
                        detached = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind + 1 != argc)
                return log_error_errno(-EINVAL, "Name exactly one plan file: rootraid apply PLAN.");
        const char *path = argv[optind];
        /* stdout carries the events: no questions, no printed commands. */
        if (json_events && (dry_run || (!yes && isatty(STDIN_FILENO))))
                return log_error_errno(-EINVAL, "--json is for programs: use it with --yes and without --dry-run.");
        if (detached && (!yes || dry_run || json_events))
                return log_error_errno(-EINVAL, "--detach runs with nobody to answer: review the plan "
                                       "('rootraid show %s'), then use --detach with --yes, without --dry-run "
                                       "or --json (the events go to %s).", path, JOURNAL_DIR "/" EVENTS_FILE_NAME);
        if (json_events)
                (void) exec_events_begin("apply", path);

        r = plan_load_file(path, &p, &error);
        if (r < 0)
                return log_error_errno(r, "Cannot use the plan %s: %s", path, error ? error : strerror(-r));
        r = verb_inspect(NULL, &facts);
        if (r < 0)
                return r;
        free(error);
        error = NULL;
        r = plan_check_facts(p, facts, &error);
        if (r < 0)
                return log_error_errno(r, "The plan %s no longer matches this machine: %s Nothing was changed; make a new plan.",
                                       path, strna(error));

        struct executor_options opts = {
                .dry_run = dry_run,
                .facts = facts,
                .target_dir = exec_target_dir(p),
                .progress = exec_progress,
                .before_apply = exec_before_apply,
        };
        if (dry_run) {
                r = executor_apply(p, NULL, step_table, &opts, &error);
                return exec_report(r, error, "The dry run failed.");
        }

        r = exec_take_lock(&lock);
        if (r < 0)
                return r;

        /* A journal already here: an unfinished run must be resumed or
         * rolled back, not started over. */
        r = exec_journal_dirs(opts.target_dir, &dirs);
        if (r < 0)
                return log_oom();
        free(error);
        error = NULL;
        r = journal_load(dirs, &old, &warnings, &error);
        if (r >= 0 && (old->run_state == RUN_STATE_APPLYING || old->run_state == RUN_STATE_ROLLING_BACK))
                return log_error_errno(-EBUSY,
                                       "A migration is already under way on this machine (journal in %s, %s): run "
                                       "'rootraid resume' to continue it or 'rootraid rollback' to undo it.",
                                       JOURNAL_DIR, run_state_to_string(old->run_state));
        if (r >= 0 && old->run_state == RUN_STATE_FINISHED)
                return log_error_errno(-EALREADY, "A migration of this machine already finished (journal in %s).",
                                       JOURNAL_DIR);

        if (detached) {
                /* The unit takes the lock itself and checks all of this again. */
                lock = exec_lock_release(lock);
                return detach(path);
        }

        if (!yes && isatty(STDIN_FILENO) && !confirm(p))
                return log_error_errno(-ECANCELED, "Not confirmed; nothing was changed.");

        r = plan_to_json(p, &json);
        if (r < 0)
                return log_oom();
        r = journal_new(p, path, json, &j);
        json_object_put(json);
        if (r < 0)
                return log_error_errno(r, "Cannot create the journal: %m");
        /* A rolled-back run's copies stay older than this one's. */
        if (old)
                j->generation = old->generation;
        r = journal_add_location(j, JOURNAL_DIR);
        if (r < 0)
                return log_error_errno(r, "Cannot keep the journal in %s: %m", JOURNAL_DIR);
        r = journal_log_open(j);
        if (r < 0)
                log_warning_errno(r, "Cannot open the journal's log file: %m");
        exec_events_record("apply", path, true);
        (void) executor_install_signal_handlers(); /* without them ^C stops mid-step, which resume handles too */

        free(error);
        error = NULL;
        r = executor_apply(p, j, step_table, &opts, &error);
        r = exec_report(r, error, "The migration stopped.");
        r = exec_run_ended(r, j, opts.target_dir);
        if (r >= 0)
                log_notice("Migration finished: the system runs from RAID and every check passed.");
        return r;
}
