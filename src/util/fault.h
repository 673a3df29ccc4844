/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* The crash tests' pause points.  ROOTRAID_FAULT_STEP=ID:WHEN makes the
 * executor stop itself (SIGSTOP) at one point of step ID, so that a guest
 * test cuts the power exactly there (it sees the stopped process) and a
 * host test kills or continues it:
 *   before  right before the step is committed "running";
 *   midN    inside the step, right after its N-th action returned (an
 *           action: an external command run, or a file written through
 *           step_write_file()), the journal saying "running"; a step with
 *           fewer actions stops "after" instead, and says so;
 *   pctN    inside the step, once the progress it reports reached N% of
 *           its total (N 1..99: a copy's bytes, a resync), the journal
 *           saying "running"; a step that never gets there stops "after"
 *           instead, and says so;
 *   after   right after the step is committed "done".
 * Nothing else reads it. */

/* At the executor's points around step ID: "before" and "after". */
void fault_pause(const char *id, const char *when);

/* The executor brackets the step's apply with these; between them every
 * action counts toward a midN point of that step. */
void fault_step_begin(const char *id);
void fault_step_end(void);

/* After each action (WHAT says which, for the log). */
void fault_action_done(const char *what);

/* Is the step being applied to stop at a pctN point?  A step whose
 * progress reports are far apart (a copy: once a second) reports more
 * often then, so that the stop lands near N%. */
bool fault_progress_wanted(void);

/* At each progress report of the step being applied. */
void fault_progress(uint64_t done, uint64_t total);
