/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stdbool.h>
#include "util/macro.h"

/* Logging for the command line and the executor.  Library-like code
 * (inspect, plan, copy, journal) does not log; it returns errors and, where
 * a sentence helps, an error message through a ret_ parameter. */

enum log_level {
        LOG_LEVEL_DEBUG,
        LOG_LEVEL_INFO,
        LOG_LEVEL_NOTICE,
        LOG_LEVEL_WARNING,
        LOG_LEVEL_ERROR,
        _LOG_LEVEL_MAX,
        _LOG_LEVEL_INVALID = -EINVAL,
};

void log_set_max_level(enum log_level level);
enum log_level log_get_max_level(void);

/* Every message also goes to this sink when set (the journal's log file). */
void log_set_sink(void (*sink)(enum log_level level, const char *msg, void *userdata), void *userdata);

/* Every message at warning level or above also goes to this observer when
 * set, independently of the sink (the JSON events of --json). */
void log_set_observer(void (*observer)(enum log_level level, const char *msg));

/* Logs the message; %m expands to strerror(-error).  Returns -abs(error),
 * or -EIO when error is 0, so callers can "return log_error_errno(r, ...)". */
int log_internal(enum log_level level, int error, const char *format, ...) _printf_(3, 4);

#define log_debug(...)   log_internal(LOG_LEVEL_DEBUG, 0, __VA_ARGS__)
#define log_info(...)    log_internal(LOG_LEVEL_INFO, 0, __VA_ARGS__)
#define log_notice(...)  log_internal(LOG_LEVEL_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_LEVEL_WARNING, 0, __VA_ARGS__)
#define log_error(...)   log_internal(LOG_LEVEL_ERROR, 0, __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_LEVEL_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...)   log_internal(LOG_LEVEL_ERROR, (e), __VA_ARGS__)
#define log_debug_errno(e, ...)   log_internal(LOG_LEVEL_DEBUG, (e), __VA_ARGS__)

/* For the "out of memory" case, so callers stay one line. */
int log_oom(void);
