/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The executor's journal: which step of which plan reached which state.
 * Format and commit protocol are described at the top of journal.c.
 * Library-like: nothing here prints; errors come back as negative errno
 * values and, where a sentence helps, through ret_error. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "plan/plan.h"
#include "util/macro.h"

#define JOURNAL_FORMAT_VERSION 1
#define JOURNAL_FILE_NAME "journal.json"
#define JOURNAL_LOG_NAME "rootraid.log"
/* Where the journal lives on a root filesystem (the old root, and the new
 * root once it is mounted: TARGET + JOURNAL_DIR). */
#define JOURNAL_DIR "/var/lib/rootraid"

enum step_state {
        STEP_STATE_PENDING,      /* not started */
        STEP_STATE_RUNNING,      /* apply started; may have done part of its work */
        STEP_STATE_DONE,         /* end state reached (and checked) */
        STEP_STATE_FAILED,       /* apply or its check failed; error says why */
        STEP_STATE_UNDOING,      /* undo started */
        STEP_STATE_UNDONE,       /* undo finished: as if never applied */
        _STEP_STATE_MAX,
        _STEP_STATE_INVALID = -EINVAL,
};

enum run_state {
        RUN_STATE_APPLYING,      /* apply (or resume) in progress or interrupted */
        RUN_STATE_ROLLING_BACK,  /* rollback in progress or interrupted */
        RUN_STATE_FINISHED,      /* every step done */
        RUN_STATE_ROLLED_BACK,   /* every started step undone */
        _RUN_STATE_MAX,
        _RUN_STATE_INVALID = -EINVAL,
};

DECLARE_STRING_TABLE(step_state, enum step_state);
DECLARE_STRING_TABLE(run_state, enum run_state);

struct journal_step {
        char *id;                /* the plan step's id */
        enum step_state state;
        unsigned attempts;       /* how many times apply was started */
        time_t started;          /* last transition to running/undoing; 0 if never */
        time_t finished;         /* last transition to done/failed/undone; 0 if never */
        char *error;             /* last error, NULL when none */
        char *boot_id;           /* the boot in which it last started (running or
                                  * undoing), so that a step that reboots can tell
                                  * afterwards that the reboot happened; NULL if never */
};

struct journal {
        unsigned format_version;
        uint64_t generation;     /* +1 on every commit; the highest valid copy wins */
        char *fingerprint;       /* the plan's fingerprint */
        char *plan_path;         /* where the plan was read from, for people */
        json_object *plan;       /* embedded copy of the plan (owned reference) */
        enum run_state run_state;
        time_t created, updated;
        struct journal_step *steps;
        size_t n_steps;

        /* Not serialized: the directories every commit writes, and the log
         * files opened in them. */
        char **locations;
        FILE **logs;
        size_t n_logs;
};

/* A new journal for plan p (generation 0, every step pending, run state
 * applying), with no location yet.  plan_json is the plan as a document; the
 * journal takes its own reference.  Nothing is written. */
int journal_new(const struct plan *p, const char *plan_path, json_object *plan_json, struct journal **ret);

struct journal *journal_free(struct journal *j);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct journal *, journal_free);
#define _cleanup_journal_free_ _cleanup_(journal_freep)

/* Adds a directory (created if missing) that every later commit writes,
 * e.g. TARGET/var/lib/rootraid once the new root is mounted.  Adding the
 * same directory twice is a no-op.  When the journal's log is open, the log
 * is opened there too. */
int journal_add_location(struct journal *j, const char *dir);

/* Forgets a location (before its filesystem is unmounted).  -ENOENT if it
 * was not one. */
int journal_remove_location(struct journal *j, const char *dir);

/* Increments the generation and writes the journal atomically into every
 * location.  Returns 0 when every location holds the new generation; on
 * failure the locations written so far hold it and the others the previous
 * one, which load() resolves, and *ret_error names the location. */
int journal_commit(struct journal *j, char **ret_error);

/* Reads the journal from every directory in dirs (NULL terminated), ignores
 * missing, torn, corrupted or foreign copies, and returns the valid copy with
 * the highest generation, whose locations are all of dirs.  Each ignored copy
 * that existed adds a sentence to *ret_warnings (a strv, may be NULL).
 * Returns -ENOENT when no directory holds a journal, -EBADMSG when none of
 * the copies is valid (*ret_error says why). */
int journal_load(char *const *dirs, struct journal **ret, char ***ret_warnings, char **ret_error);

/* Serializes the journal (as written to disk, without the checksum
 * envelope), for `status --json`.  Caller puts the returned object. */
int journal_to_json(const struct journal *j, json_object **ret);

/* Index of step id, or -ENOENT. */
int journal_find_step(const struct journal *j, const char *id);

/* Records a step's transition in memory (attempts, timestamps, error; error
 * may be NULL and is copied).  Not written until journal_commit(). */
int journal_set_step_state(struct journal *j, size_t i, enum step_state state, const char *error);

/* 0 when the journal was written for plan p (same fingerprint, same step ids
 * in the same order), else -ESTALE with *ret_error saying what differs. */
int journal_check_plan(const struct journal *j, const struct plan *p, char **ret_error);

/* Opens JOURNAL_LOG_NAME (append) in every location and routes every log
 * message there, with a timestamp (log_set_sink).  journal_free() and
 * journal_log_close() restore the previous state. */
int journal_log_open(struct journal *j);
void journal_log_close(struct journal *j);
