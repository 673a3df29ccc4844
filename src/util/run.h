/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>

/* External programs always run from an argv, never through a shell. */

enum {
        RUN_CAPTURE_STDOUT = 1 << 0, /* collect stdout into *ret_stdout */
        RUN_QUIET_STDERR   = 1 << 1, /* send stderr to /dev/null instead of the log */
        RUN_CHROOT         = 1 << 2, /* reserved: chroot handled by the caller's argv (chroot DIR ...) */
};

/* When set, run_argv() prints each argv instead of running it and returns 0.
 * The executor's --dry-run uses it. */
void run_set_dry_run(bool b);
bool run_get_dry_run(void);

/* Runs argv[0] (looked up in PATH) with the arguments in argv (NULL
 * terminated), waits for it, and returns its exit status (0..255), or a
 * negative errno when it could not be started or was killed by a signal
 * (-EINTR).  With RUN_CAPTURE_STDOUT, *ret_stdout receives its standard
 * output (caller frees), also when the status is non-zero.  Its stderr is
 * forwarded to the log at debug level, or to *ret_stderr when non-NULL. */
int run_argv(const char *const *argv, unsigned flags, char **ret_stdout, char **ret_stderr);

/* Like run_argv(), but a non-zero exit status becomes -EPROTO and logs the
 * command with its stderr. */
int run_argv_checked(const char *const *argv, unsigned flags, char **ret_stdout);

/* Renders argv for people (quoted where needed).  Caller frees. */
char *argv_to_string(const char *const *argv);
