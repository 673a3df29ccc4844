/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rootraid resume and rootraid rollback: both continue from the journal
 * alone (it carries the plan), with the lock taken.
 *   resume    continues the journaled run (apply or rollback) after an
 *             interruption or the planned reboot.  The machine's state is
 *             checked step by step, so resuming a finished migration
 *             re-checks everything and changes nothing.
 *   rollback  undoes every started step in reverse order, back to the
 *             starting system with its boot configuration; refused (exit
 *             10) once a step that writes the old disk has started. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/exec-common.h"
#include "cli/verbs.h"
#include "exec/executor.h"
#include "util/log.h"

/* How long resume waits by default for another executor (the resume unit
 * after a reboot, which may wait for a resync) before giving up. */
#define RESUME_WAIT_DEFAULT_SEC (6UL * 3600)

static void help(bool rollback) {
        printf("Usage: rootraid %s [OPTIONS]\n\n%s\n\n"
               "Options:\n"
               "  -n --dry-run   print what would run; change nothing\n"
               "     --json      print JSON events on stdout, one per line (README: JSON events)\n"
               "%s"
               "  -h --help      show this help\n",
               rollback ? "rollback" : "resume",
               rollback ? "Undo the journaled migration, before its point of no return."
                        : "Continue the migration (or rollback) recorded in the journal in " JOURNAL_DIR ".\n"
                          "While another executor runs (rootraid-resume.service after a reboot), wait for it,\n"
                          "then report the outcome (exit 0 when it finished the migration).",
               rollback ? "" :
               "     --wait=SEC  wait up to SEC seconds for another running executor (default 21600,\n"
               "                 6 hours); 0 refuses at once (exit 11)\n");
}

static int run_from_journal(int argc, char *argv[], bool rollback) {
        static const struct option options[] = {
                { "dry-run", no_argument, NULL, 'n' },
                { "json", no_argument, NULL, 'J' },
                { "wait", required_argument, NULL, 'W' },
                { "help", no_argument, NULL, 'h' },
                { 0 }
        };
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_journal_free_ struct journal *j = NULL;
        _cleanup_(exec_lock_releasep) struct exec_lock *lock = NULL;
        _cleanup_free_ char *error = NULL;
        bool dry_run = false, json_events = false, waited = false;
        unsigned long wait_sec = rollback ? 0 : RESUME_WAIT_DEFAULT_SEC;
        int c, r;

        while ((c = getopt_long(argc, argv, "nh", options, NULL)) >= 0)
                switch (c) {
                case 'n':
                        dry_run = true;
                        break;
                case 'J':
                        json_events = true;
                        break;
                case 'W': {
                        char *end;
                        errno = 0;
                        wait_sec = strtoul(optarg, &end, 10);
                        if (rollback || errno != 0 || end == optarg || *end || optarg[0] == '-')
                                return log_error_errno(-EINVAL, "--wait takes a number of seconds (resume only), not '%s'.",
                                                       optarg);
                        break;
                }
                case 'h':
                        help(rollback);
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind != argc)
                return log_error_errno(-EINVAL, "%s takes no arguments: the journal names the plan.", argv[0]);

        if (json_events && dry_run)
                return log_error_errno(-EINVAL, "--json is for programs: use it without --dry-run.");
        /* A resume started while the resume unit works after a reboot
         * waits for it, then re-checks: the outcome, not exit 11. */
        if (!dry_run && (r = exec_take_lock_wait(wait_sec, &lock, &waited)) < 0)
                return r;
        r = exec_load(&j, &p);
        if (r < 0)
                return r;
        if (json_events)
                (void) exec_events_begin(rollback ? "rollback" : "resume", j->plan_path);
        /* The executor we waited for got to the end: report, do not check
         * everything again (a check cut short by the next reboot would
         * leave the journal saying "applying"). */
        if (waited && !rollback && (j->run_state == RUN_STATE_FINISHED || j->run_state == RUN_STATE_ROLLED_BACK)) {
                log_notice("%s", j->run_state == RUN_STATE_FINISHED
                                         ? "The other executor finished the migration: every step is done and checked."
                                         : "The other executor finished the rollback.");
                return 0;
        }
        struct executor_options opts = {
                .dry_run = dry_run,
                .target_dir = exec_target_dir(p),
                .progress = exec_progress,
                .before_apply = rollback ? NULL : exec_before_apply,
        };
        if (!dry_run) {
                exec_events_record(rollback ? "rollback" : "resume", j->plan_path, false);
                r = journal_log_open(j);
                if (r < 0)
                        log_warning_errno(r, "Cannot open the journal's log file: %m");
                /* Without them ^C stops mid-step, which resume copes with too. */
                (void) executor_install_signal_handlers();
        }
        if (rollback) {
                r = executor_rollback(p, j, step_table, &opts, &error);
                r = exec_report(r, error, "The rollback stopped.");
                return dry_run ? r : exec_run_ended(r, j, opts.target_dir);
        }
        log_info("Resuming the plan from %s (%s).", strna(j->plan_path), run_state_to_string(j->run_state));
        r = executor_resume(p, j, step_table, &opts, &error);
        r = exec_report(r, error, "The migration stopped.");
        if (!dry_run)
                r = exec_run_ended(r, j, opts.target_dir);
        if (r >= 0 && !dry_run)
                log_notice("%s", j->run_state == RUN_STATE_ROLLED_BACK ? "The rollback is complete."
                                                                       : "Migration finished: every step is done and checked.");
        return r;
}

int verb_resume(int argc, char *argv[]) {
        return run_from_journal(argc, argv, false);
}

int verb_rollback(int argc, char *argv[]) {
        return run_from_journal(argc, argv, true);
}
