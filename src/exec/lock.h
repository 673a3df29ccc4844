/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* One executor at a time.  The lock is flock(LOCK_EX) on a file in the
 * journal's directory on the old root (JOURNAL_DIR "/lock"), so it is the
 * same file before and after a reboot, and the kernel drops it when its
 * holder dies (kill -9, power cut): there is no stale lock to break by hand.
 * The holder writes its pid, boot id and start time into the file, so a
 * refusal can say who holds it. */

#include "util/macro.h"

#define EXEC_LOCK_FILE_NAME "lock"

struct exec_lock;

/* Takes the lock at path (created, with its directory, if missing) without
 * waiting.  Returns 0
 * and *ret (release with exec_lock_release()), or -EAGAIN when another
 * process holds it, with *ret_error naming that process (pid, start time,
 * and whether it runs in this boot); other negative errno values when the
 * file cannot be opened. */
int exec_lock_acquire(const char *path, struct exec_lock **ret, char **ret_error);

/* Like exec_lock_acquire(), but while another process holds the lock,
 * retries every interval_ms for up to timeout_ms (0: do not wait), calling
 * on_wait (may be NULL) once, with the holder's description, before the
 * first wait.  -EAGAIN, with *ret_error naming the holder, when the time
 * ran out. */
int exec_lock_acquire_wait(const char *path, unsigned long timeout_ms, unsigned long interval_ms,
                           void (*on_wait)(const char *holder, unsigned long timeout_ms), struct exec_lock **ret,
                           char **ret_error);

/* Releases and frees; accepts NULL, returns NULL. */
struct exec_lock *exec_lock_release(struct exec_lock *l);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct exec_lock *, exec_lock_release);
#define _cleanup_exec_lock_release_ _cleanup_(exec_lock_releasep)
