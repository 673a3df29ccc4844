/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"

static enum log_level max_level = LOG_LEVEL_INFO;
static void (*log_sink)(enum log_level, const char *, void *);
static void *log_sink_userdata;
static void (*log_observer)(enum log_level, const char *);

void log_set_max_level(enum log_level level) {
        max_level = level;
}

enum log_level log_get_max_level(void) {
        return max_level;
}

void log_set_sink(void (*sink)(enum log_level, const char *, void *), void *userdata) {
        log_sink = sink;
        log_sink_userdata = userdata;
}

void log_set_observer(void (*observer)(enum log_level, const char *)) {
        log_observer = observer;
}

int log_internal(enum log_level level, int error, const char *format, ...) {
        int saved = errno;
        int e = error < 0 ? -error : error;
        char buf[4096];
        va_list ap;

        if (level < max_level && !log_sink && !(log_observer && level >= LOG_LEVEL_WARNING))
                return e ? -e : -EIO;

        errno = e; /* for %m */
        va_start(ap, format);
        vsnprintf(buf, sizeof buf, format, ap);
        va_end(ap);

        if (level >= max_level) {
                const char *prefix = level >= LOG_LEVEL_ERROR ? "rootraid: error: " :
                                     level == LOG_LEVEL_WARNING ? "rootraid: warning: " : "";
                fprintf(stderr, "%s%s\n", prefix, buf);
        }
        if (log_sink)
                log_sink(level, buf, log_sink_userdata);
        if (log_observer && level >= LOG_LEVEL_WARNING)
                log_observer(level, buf);

        errno = saved;
        return e ? -e : -EIO;
}

int log_oom(void) {
        return log_error_errno(ENOMEM, "Out of memory.");
}
