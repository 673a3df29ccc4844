/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rootraid status: what the journal says: the run's state, each step's
 * state, attempts, times and last error; --json prints the journal. */
#include <getopt.h>
#include <stdio.h>
#include <time.h>

#include "cli/exec-common.h"
#include "cli/verbs.h"
#include "util/log.h"

static void help(void) {
        printf("Usage: rootraid status [OPTIONS]\n\n"
               "Show the state of the journaled migration.\n\n"
               "Options:\n"
               "     --json   print the journal as JSON\n"
               "  -h --help   show this help\n");
}

static const char *when(time_t t, char *buf, size_t l) {
        struct tm tm;
        if (t == 0 || !gmtime_r(&t, &tm) || strftime(buf, l, "%Y-%m-%d %H:%M:%S", &tm) == 0)
                return "-";
        return buf;
}

int verb_status(int argc, char *argv[]) {
        enum { ARG_JSON = 0x100 };
        static const struct option options[] = {
                { "json", no_argument, NULL, ARG_JSON },
                { "help", no_argument, NULL, 'h' },
                { 0 }
        };
        _cleanup_plan_free_ struct plan *p = NULL;
        _cleanup_journal_free_ struct journal *j = NULL;
        bool json = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case ARG_JSON:
                        json = true;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        if (optind != argc)
                return log_error_errno(-EINVAL, "status takes no arguments.");
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
