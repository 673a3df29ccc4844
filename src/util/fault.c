/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/fault.h"
#include "util/log.h"
#include "util/macro.h"

/* The step whose actions are being counted toward its midN point. */
static char counted_id[128];
static unsigned wanted, actions;
static bool counting;

/* The WHEN of ROOTRAID_FAULT_STEP when it names step ID, else NULL. */
static const char *when_for(const char *id) {
        const char *e = getenv("ROOTRAID_FAULT_STEP");
        size_t l = strlen(id);

        if (!e || strncmp(e, id, l) != 0 || e[l] != ':')
                return NULL;
        return e + l + 1;
}

/* N of a "midN" WHEN, or 0. */
static unsigned mid_of(const char *when) {
        char *end;

        if (!when || strncmp(when, "mid", 3) != 0)
                return 0;
        unsigned long n = strtoul(when + 3, &end, 10);
        return end == when + 3 || *end || n > 1000 ? 0 : (unsigned) n;
}

void fault_pause(const char *id, const char *when) {
        const char *w = when_for(id);

        if (w && streq(w, when)) {
                log_notice("ROOTRAID_FAULT_STEP: stopping %s step '%s'.", when, id);
                (void) raise(SIGSTOP);
        } else if (streq(when, "after") && mid_of(w) > 0 && !(streq(counted_id, id) && actions >= wanted)) {
                log_notice("ROOTRAID_FAULT_STEP: step '%s' did not reach its action %u (it ran %u); stopping after it.", id,
                           mid_of(w), streq(counted_id, id) ? actions : 0);
                (void) raise(SIGSTOP);
        }
}

void fault_step_begin(const char *id) {
        wanted = mid_of(when_for(id));
        actions = 0;
        counting = wanted > 0 && strlen(id) < sizeof counted_id;
        snprintf(counted_id, sizeof counted_id, "%s", counting ? id : "");
}

void fault_step_end(void) {
        /* The checks after the step's apply are not its actions. */
        counting = false;
}

void fault_action_done(const char *what) {
        if (!counting || ++actions != wanted)
                return;
        log_notice("ROOTRAID_FAULT_STEP: stopping in step '%s' after its action %u (%s).", counted_id, actions, strna(what));
        counting = false;
        (void) raise(SIGSTOP);
}
