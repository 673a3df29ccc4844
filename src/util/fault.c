/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fault.h"
#include "util/log.h"
#include "util/macro.h"

/* The step being applied, when ROOTRAID_FAULT_STEP names a point inside
 * it: its midN (actions counted) or pctN (progress reported). */
static char point_id[128];
static unsigned wanted_actions, actions, wanted_percent;
static bool armed, reached;

/* The WHEN of ROOTRAID_FAULT_STEP when it names step ID, else NULL. */
static const char *when_for(const char *id) {
        const char *e = getenv("ROOTRAID_FAULT_STEP");
        size_t l = strlen(id);

        if (!e || strncmp(e, id, l) != 0 || e[l] != ':')
                return NULL;
        return e + l + 1;
}

/* N of a WHEN "<prefix>N" with N in 1..max, or 0. */
static unsigned number_of(const char *when, const char *prefix, unsigned max) {
        size_t l = strlen(prefix);
        char *end;

        if (!when || strncmp(when, prefix, l) != 0)
                return 0;
        unsigned long n = strtoul(when + l, &end, 10);
        return end == when + l || *end || n > max ? 0 : (unsigned) n;
}

static unsigned mid_of(const char *when) {
        return number_of(when, "mid", 1000);
}

static unsigned pct_of(const char *when) {
        return number_of(when, "pct", 99);
}

static void stop_inside(const char *what) {
        log_notice("ROOTRAID_FAULT_STEP: stopping in step '%s' %s.", point_id, what);
        armed = false;
        reached = true;
        (void) raise(SIGSTOP);
}

void fault_pause(const char *id, const char *when) {
        const char *w = when_for(id);

        if (w && streq(w, when)) {
                log_notice("ROOTRAID_FAULT_STEP: stopping %s step '%s'.", when, id);
                (void) raise(SIGSTOP);
        } else if (streq(when, "after") && (mid_of(w) > 0 || pct_of(w) > 0) && !(streq(point_id, id) && reached)) {
                if (mid_of(w) > 0)
                        log_notice("ROOTRAID_FAULT_STEP: step '%s' did not reach its action %u (it ran %u); stopping "
                                   "after it.", id, mid_of(w), streq(point_id, id) ? actions : 0);
                else
                        log_notice("ROOTRAID_FAULT_STEP: step '%s' did not report %u%% of its progress; stopping after it.",
                                   id, pct_of(w));
                (void) raise(SIGSTOP);
        }
}

void fault_step_begin(const char *id) {
        const char *w = when_for(id);

        wanted_actions = mid_of(w);
        wanted_percent = pct_of(w);
        actions = 0;
        reached = false;
        armed = (wanted_actions > 0 || wanted_percent > 0) && strlen(id) < sizeof point_id;
        snprintf(point_id, sizeof point_id, "%s", armed ? id : "");
}

void fault_step_end(void) {
        /* The checks after the step's apply are not its actions. */
        armed = false;
}

void fault_action_done(const char *what) {
        char b[512];

        if (!armed || wanted_actions == 0 || ++actions != wanted_actions)
                return;
        snprintf(b, sizeof b, "after its action %u (%s)", actions, strna(what));
        stop_inside(b);
}

bool fault_progress_wanted(void) {
        return armed && wanted_percent > 0;
}

void fault_progress(uint64_t done, uint64_t total) {
        char b[128];

        if (!fault_progress_wanted() || total == 0 || done > UINT64_MAX / 100 || done * 100 < (uint64_t) wanted_percent * total)
                return;
        snprintf(b, sizeof b, "at %u%% of its progress (%llu of %llu)", (unsigned) (done * 100 / total),
                 (unsigned long long) done, (unsigned long long) total);
        stop_inside(b);
}
