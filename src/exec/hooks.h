/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The hook runner: the executables in HOOKS_DIR/PHASE/ run in name order
 * (C locale byte order) at the phase boundaries of a migration.
 *
 * Which files run: regular files (or symlinks to them) whose name does not
 * start with a dot and does not end in "~" or a package manager's leftover
 * suffix (.dpkg-old, .dpkg-new, .dpkg-dist, .dpkg-tmp, .dpkg-bak,
 * .ucf-old, .ucf-new, .ucf-dist, .rpmsave, .rpmnew, .swp).  A file without
 * an execute bit is skipped with a warning, so `chmod -x` disables a hook.
 *
 * Which files are refused: a hook, its phase directory or the hooks root
 * that is owned by a user other than root (or the running user) or that is
 * writable by group or others.  A refused hook fails the phase before any
 * hook of the phase runs.
 *
 * Environment of every hook: ROOTRAID_PHASE, ROOTRAID_PLAN,
 * ROOTRAID_TARGET, ROOTRAID_STEP, ROOTRAID_JOURNAL (empty when unknown),
 * set over the caller's environment (which otherwise goes through, other
 * ROOTRAID_* included: they configure hooks); argv[1] is the phase.  Its stdout and
 * stderr go to the log (info level), a line at a time, prefixed with the
 * hook's name.  A hook that runs longer than the timeout is killed
 * (SIGTERM, then SIGKILL after 5 s). */

#include <stdbool.h>

#include "plan/plan.h"
#include "util/macro.h"

#define HOOKS_DIR "/etc/rootraid/hooks.d"
#define HOOKS_DEFAULT_TIMEOUT_SEC 600U

enum hook_phase {
        HOOK_PHASE_BEFORE_COPY,        /* before the live copy starts */
        HOOK_PHASE_BEFORE_FINAL_SYNC,  /* before the final sync: stop writers here */
        HOOK_PHASE_AFTER_SWITCH,       /* after the first boot from the array */
        HOOK_PHASE_AFTER_READD,        /* after the old disk joined the array */
        HOOK_PHASE_ON_FAILURE,         /* after a step failed (restart what you stopped) */
        _HOOK_PHASE_MAX,
        _HOOK_PHASE_INVALID = -EINVAL,
};

DECLARE_STRING_TABLE(hook_phase, enum hook_phase);

struct hook_env {
        const char *plan_path;     /* ROOTRAID_PLAN */
        const char *target_dir;    /* ROOTRAID_TARGET: where the new root is mounted */
        const char *step_id;       /* ROOTRAID_STEP: the plan step running the phase */
        const char *journal_path;  /* ROOTRAID_JOURNAL */
        unsigned timeout_sec;      /* per hook; 0: hooks_timeout_from_env() */
};

/* The per-hook timeout in seconds: ROOTRAID_HOOK_TIMEOUT when it is a
 * number from 1 to 604800, else HOOKS_DEFAULT_TIMEOUT_SEC (with a warning
 * when it is set but invalid). */
unsigned hooks_timeout_from_env(void);

/* The hooks of directory dir that would run, in order, as full paths
 * (caller frees the strv; empty when dir does not exist).  Fails with
 * -EPERM and *ret_error naming the file or directory when one is unsafe
 * (see above); non-executable files are left out. */
int hooks_list(const char *dir, char ***ret, char **ret_error);

/* Runs the hooks of phase (any plain name) found in dir, one after the
 * other.  Returns 0 when all succeeded (or there were none); otherwise
 * stops at the first failure and returns -EPROTO (non-zero exit or killed
 * by a signal), -ETIME (timed out) or -EPERM (unsafe permissions), with
 * *ret_error naming the hook (caller frees).  Nothing is remembered: a
 * resume runs the whole phase again, so hooks must be safe to repeat. */
int hooks_run_dir(const char *dir, const char *phase, const struct hook_env *env, char **ret_error);

/* hooks_run_dir() on ROOT/PHASE, ROOT being root or HOOKS_DIR when NULL. */
int hooks_run(const char *root, enum hook_phase phase, const struct hook_env *env, char **ret_error);

/* The hooks root a plan uses: the directory above its run-hooks steps'
 * phase directories (so a plan, or a test, can point all phases
 * elsewhere), or HOOKS_DIR when it has none.  Caller frees *ret. */
int hooks_root_of_plan(const struct plan *p, char **ret);
