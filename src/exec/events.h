/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* JSON events (`--json`): one JSON object per line, for programs that
 * watch a migration (Ansible, a fleet dashboard).  Schema version 1, also
 * documented in the README section "JSON events":
 *
 *   every event  "v": 1, "time": "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC),
 *                "event": one of the names below
 *   run-start    "verb" (apply, resume, rollback), "plan" (path or null)
 *   run-end      "result" ("ok", "failed", "interrupted", "rebooting"),
 *                "exit" (the exit code), "error" (string or null)
 *   step-start   "step" (id), "kind", "index" (0-based), "total"
 *   step-end     "step", "kind", "state" (the journal's step state:
 *                "done", "failed", "undone", ...), "error" (string or null)
 *   progress     "step", "done", "total" (units of the step, bytes for
 *                copies and resyncs), "percent" (0..100, one decimal)
 *   warning      "message", "step" (id or null)
 *   error        "message", "step" (id or null)
 *
 * New keys may appear within a version; consumers ignore keys they do not
 * know.  A removed or retyped key raises "v". */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "util/macro.h"

#define EVENTS_VERSION 1

enum event_type {
        EVENT_RUN_START,
        EVENT_RUN_END,
        EVENT_STEP_START,
        EVENT_STEP_END,
        EVENT_PROGRESS,
        EVENT_WARNING,
        EVENT_ERROR,
        _EVENT_TYPE_MAX,
        _EVENT_TYPE_INVALID = -EINVAL,
};

DECLARE_STRING_TABLE(event_type, enum event_type);

/* The events file: every apply, resume and rollback (not dry runs)
 * appends its events to JOURNAL_DIR/events.jsonl, whether or not --json
 * is given, so `rootraid status --follow` can show a run started
 * elsewhere (a detached apply, the resume unit after a reboot).  apply
 * starts it afresh; resume and rollback append. */
#define EVENTS_FILE_NAME "events.jsonl"

/* Where events go; NULL (the default) turns them off.  The verbs set it to
 * stdout for --json.  While it or the events file (events_set_record()) is
 * set, every warning and error logged (log_internal()) is also a warning
 * or error event. */
void events_set_output(FILE *f);
FILE *events_get_output(void);

/* A second destination, the events file; NULL turns it off (the caller
 * closes the file). */
void events_set_record(FILE *f);

/* True when events go anywhere (stdout or the events file). */
bool events_enabled(void);

/* Writes a run-start event to f (the events file) alone, then makes f the
 * events file (events_set_record()): with --json, stdout had its own
 * run-start already. */
int events_record_begin(FILE *f, const char *verb, const char *plan_path);

/* Renders one event of type with the fields of fields (may be NULL; not
 * taken) and the time t_usec (microseconds since the epoch, UTC) as one
 * line ending in '\n'.  Caller frees *ret. */
int event_format(enum event_type type, uint64_t t_usec, json_object *fields, char **ret);

/* Checks that line is one event of schema version 1: an object with "v",
 * "time", "event" and the keys its type requires, with their types.
 * Returns 0, or -EBADMSG with *ret_error saying what is wrong (caller
 * frees).  Used by the tests and by readers of an events stream. */
int event_validate(const char *line, char **ret_error);

/* Writes an event to the output set with events_set_output(), now, and
 * flushes it.  No-op without an output.  fields is not taken. */
int events_emit(enum event_type type, json_object *fields);

/* The typed shortcuts; strings may be NULL (written as null). */
int events_run_start(const char *verb, const char *plan_path);
/* error NULL with a non-zero exit_code: the last error event's message. */
int events_run_end(const char *result, int exit_code, const char *error);
int events_step_start(const char *step, const char *kind, size_t index, size_t total);
int events_step_end(const char *step, const char *kind, const char *state, const char *error);
int events_progress(const char *step, uint64_t done, uint64_t total);
/* A warning or error event; step NULL means the step between the last
 * step-start and step-end, if any. */
int events_message(enum event_type type, const char *step, const char *message);

/* Reading the events file while it grows (`rootraid status --follow`). */
struct events_tail {
        off_t offset;  /* bytes consumed */
        char *partial; /* a last line without its newline yet */
};

/* Starts at the end of path (0 when it does not exist yet): only events
 * written from now on are read. */
int events_tail_seek_end(struct events_tail *t, const char *path);

/* The complete lines (each with its '\n') appended to path since the last
 * call, as a strv (caller frees; NULL when there are none).  A file that
 * shrank was started afresh by a new run and is read from its start; a
 * missing file has no lines yet. */
int events_tail_read(struct events_tail *t, const char *path, char ***ret_lines);

void events_tail_done(struct events_tail *t);

/* Thins the progress events of a stream for people (`status --follow`):
 * one progress line per PROGRESS_FILTER_SEC seconds per step, and always a
 * step's 100%.  It keys on the step of the last progress line shown, not
 * on step-start, so a follower that joins in the middle of a step is
 * thinned as well. */
#define PROGRESS_FILTER_SEC 10
struct progress_filter {
        char *step;    /* the step of the last progress line shown */
        int64_t shown; /* when it was shown, in the caller's seconds */
};

/* Whether to show line (an event line) read at now_sec (any monotonic
 * seconds).  Every event but progress is shown; a step-start forgets the
 * last step. */
bool progress_filter_show(struct progress_filter *f, const char *line, int64_t now_sec);

void progress_filter_done(struct progress_filter *f);

/* One event line as a sentence for people, e.g. "12:01:02 step 8/27
 * copy-root (copy-live) started".  *ret_text (caller frees) is NULL for an
 * event that needs no line.  *ret_exit is the exit code of a run-end event
 * and -1 for every other event.  -EBADMSG for a line that is no event. */
int event_describe(const char *line, char **ret_text, int *ret_exit);
