/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rootraid status: what the journal says: the run's state, each step's
 * state, attempts, times and last error; --json prints the journal. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/exec-common.h"
#include "cli/verbs.h"
#include "exec/events.h"
#include "exec/resume-unit.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strutil.h"

/* How long --follow waits for an executor to take the lock when none
 * holds it and the migration is not over (a detached apply still
 * inspecting the machine, the resume unit starting after the boot). */
#define FOLLOW_GRACE_SEC 120

static void help(void) {
        printf("Usage: rootraid status [OPTIONS]\n\n"
               "Show the state of the journaled migration.\n\n"
               "Options:\n"
               "     --json     print the journal as JSON (a snapshot)\n"
               "  -f --follow   print the state, then the run's progress as it happens (from\n"
               "                " JOURNAL_DIR "/" EVENTS_FILE_NAME ") until it ends: exit 0 when the\n"
               "                migration (or rollback) is complete, 14 when the machine reboots to\n"
               "                continue, the run's own exit code when it fails\n"
               "  -h --help     show this help\n");
}

static const char *when(time_t t, char *buf, size_t l) {
        struct tm tm;
        if (t == 0 || !gmtime_r(&t, &tm) || strftime(buf, l, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return "-";
        return buf;
}

/* True while a live process of this boot holds the executor lock: the
 * holder writes its pid and boot id into the lock file and empties it on
 * release; a holder killed outright leaves a pid that no longer runs.
 * Reading the file, not flock(), so that following never takes the lock
 * from under an executor that is just starting. */
static bool executor_running(void) {
        _cleanup_free_ char *text = NULL, *boot = NULL;
        const char *pid = NULL, *holder_boot = NULL;

        if (read_full_file(JOURNAL_DIR "/" EXEC_LOCK_FILE_NAME, 4096, &text, NULL) < 0 || isempty(text))
                return false;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
                if (startswith(line, "pid="))
                        pid = line + 4;
                else if (startswith(line, "boot_id="))
                        holder_boot = line + 8;
        }
        if (!pid || read_one_line_file("/proc/sys/kernel/random/boot_id", &boot) < 0 || !holder_boot ||
            !streq(boot, holder_boot))
                return false;
        return kill((pid_t) atoi(pid), 0) == 0 || errno == EPERM;
}

/* The journal without complaints: it may not exist yet. */
static int load_quietly(struct journal **ret) {
        _cleanup_strv_free_ char **dirs = NULL, **warnings = NULL;
        _cleanup_free_ char *error = NULL;

        if (exec_journal_dirs(EXEC_DEFAULT_TARGET, &dirs) < 0)
                return -ENOMEM;
        return journal_load(dirs, ret, &warnings, &error);
}

/* The outcome of a run that nobody is running any more, from its journal:
 * 0 finished or rolled back, 14 a planned reboot under way, else the
 * error that stopped it. */
static int outcome_from_journal(void) {
        _cleanup_journal_free_ struct journal *j = NULL;
        int r = load_quietly(&j);

        if (r == -ENOENT)
                return log_error_errno(r, "No migration is recorded on this machine (no journal in %s) and none is running.",
                                       JOURNAL_DIR);
        if (r < 0)
                return log_error_errno(r, "Cannot read the journal: %m");
        if (j->run_state == RUN_STATE_FINISHED) {
                printf("The migration is finished.\n");
                return 0;
        }
        if (j->run_state == RUN_STATE_ROLLED_BACK) {
                printf("The migration was rolled back.\n");
                return 0;
        }
        for (size_t i = 0; i < j->n_steps; i++) {
                const struct journal_step *s = &j->steps[i];
                if (s->state == STEP_STATE_FAILED || (s->state == STEP_STATE_UNDOING && s->error))
                        return log_error_errno(-EIO, "No rootraid executor is running; the run stopped at step '%s': %s. "
                                               "Fix the cause, then run 'rootraid resume'.", s->id, strna(s->error));
        }
        return log_error_errno(-ECANCELED, "No rootraid executor is running and the migration is %s, not finished. "
                               "Run 'rootraid resume' to continue it.", run_state_to_string(j->run_state));
}

static int follow(void) {
        _cleanup_(events_tail_done) struct events_tail tail = {};
        const char *path = JOURNAL_DIR "/" EVENTS_FILE_NAME;
        _cleanup_(progress_filter_done) struct progress_filter thin = {};
        struct timespec now, idle_since;
        int r;

        (void) setvbuf(stdout, NULL, _IOLBF, 0); /* each line as it happens, through SSH too */
        r = events_tail_seek_end(&tail, path);
        if (r < 0)
                return log_error_errno(r, "Cannot read %s: %m", path);
        clock_gettime(CLOCK_MONOTONIC, &idle_since);
        printf("\nFollowing the run (%s); ^C stops following, not the run.\n", path);
        for (;;) {
                _cleanup_strv_free_ char **lines = NULL;

                r = events_tail_read(&tail, path, &lines);
                if (r < 0)
                        return log_error_errno(r, "Cannot read %s: %m", path);
                for (size_t i = 0; lines && lines[i]; i++) {
                        _cleanup_free_ char *text = NULL;
                        int code;
                        if (event_describe(lines[i], &text, &code) < 0)
                                continue; /* a line cut short by a crash */
                        clock_gettime(CLOCK_MONOTONIC, &now);
                        /* Progress: a line every 10 s per step is plenty to
                         * read, also when following started mid-step. */
                        if (!progress_filter_show(&thin, lines[i], now.tv_sec))
                                continue;
                        if (text)
                                puts(text);
                        if (code < 0)
                                continue;
                        if (code == 14)
                                printf("The machine reboots now; %s continues the migration after the boot. "
                                       "Run 'rootraid status --follow' again once it is back.\n", RESUME_UNIT_NAME);
                        else if (code == 0)
                                return outcome_from_journal();
                        return code;
                }
                clock_gettime(CLOCK_MONOTONIC, &now);
                if (executor_running())
                        idle_since = now;
                else {
                        /* Nobody runs: a finished migration needs no grace. */
                        _cleanup_journal_free_ struct journal *j = NULL;
                        bool over = load_quietly(&j) >= 0 &&
                                    (j->run_state == RUN_STATE_FINISHED || j->run_state == RUN_STATE_ROLLED_BACK);
                        if (over || now.tv_sec - idle_since.tv_sec >= FOLLOW_GRACE_SEC)
                                return outcome_from_journal();
                }
                (void) nanosleep(&(struct timespec) { .tv_nsec = 500 * 1000 * 1000 }, NULL);
        }
}

static int print_status(bool json) {
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_journal_free_ struct journal *j = NULL;
        int r;

        r = exec_load(&j, &p);
        if (r < 0)
                return r;
        if (json) {
                json_object *o = NULL;
                r = journal_to_json(j, &o);
                if (r < 0)
                        return log_error_errno(r, "Cannot serialize the journal: %m");
                puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED));
                json_object_put(o);
                return 0;
        }
        char a[32], b[32];
        size_t done = 0;
        for (size_t i = 0; i < j->n_steps; i++)
                done += j->steps[i].state == STEP_STATE_DONE;
        printf("Plan:      %s (%s)\n", strna(j->plan_path), strna(j->fingerprint));
        printf("State:     %s, %zu of %zu steps done, journal generation %llu, updated %s UTC\n",
               run_state_to_string(j->run_state), done, j->n_steps, (unsigned long long) j->generation,
               when(j->updated, a, sizeof a));
        for (size_t i = 0; j->locations && j->locations[i]; i++)
                printf("Journal:   %s\n", j->locations[i]);
        printf("\n  %-3s %-26s %-8s %-8s %-19s %s\n", "#", "STEP", "STATE", "ATTEMPTS", "FINISHED (UTC)", "");
        for (size_t i = 0; i < j->n_steps; i++) {
                const struct journal_step *s = &j->steps[i];
                const char *mark = i == p->point_of_no_return ? "  <- point of no return" : "";
                printf("  %-3zu %-26s %-8s %-8u %-19s%s\n", i + 1, s->id, step_state_to_string(s->state), s->attempts,
                       when(s->finished ? s->finished : s->started, b, sizeof b), mark);
                if (s->error)
                        printf("      error: %s\n", s->error);
        }
        return 0;
}

int verb_status(int argc, char *argv[]) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "follow", no_argument, NULL, 'f' },
                { "help", no_argument, NULL, 'h' },
                { 0 }
        };
        bool json = false, follow_run = false;
        int c;

        while ((c = getopt_long(argc, argv, "fh", options, NULL)) >= 0)
                switch (c) {
                case ARG_JSON:
                        json = true;
                        break;
                case 'f':
                        follow_run = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind != argc)
                return log_error_errno(-EINVAL, "status takes no arguments.");
        if (json && follow_run)
                return log_error_errno(-EINVAL, "--json is a snapshot; --follow is for people (programs read %s).",
                                       JOURNAL_DIR "/" EVENTS_FILE_NAME);
        if (!follow_run)
                return print_status(json);
        /* A detached apply may not have written its journal yet. */
        _cleanup_journal_free_ struct journal *j = NULL;
        if (load_quietly(&j) >= 0)
                (void) print_status(false);
        else
                printf("No journal yet; waiting for a run to start.\n");
        return follow();
}
