/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "exec/lock.h"
#include "util/fileio.h"
#include "util/strutil.h"

struct exec_lock {
        int fd;
};

static char *current_boot_id(void) {
        char *id = NULL;
        if (read_one_line_file("/proc/sys/kernel/random/boot_id", &id) < 0)
                return NULL;
        return id;
}

static void describe_holder(const char *path, char **ret_error) {
        _cleanup_free_ char *text = NULL, *boot = current_boot_id(), *pid = NULL, *started = NULL,
                           *holder_boot = NULL;

        if (!ret_error)
                return;
        if (read_full_file(path, 4096, &text, NULL) < 0)
                text = NULL;
        if (!isempty(text)) {
                pid = line_field(text, "pid", '=');
                started = line_field(text, "started", '=');
                holder_boot = line_field(text, "boot_id", '=');
                if (asprintf(ret_error,
                             "Another rootraid executor is running (pid %s, started %s%s) and holds %s. "
                             "Wait for it to finish ('rootraid status'), or stop it; then run 'rootraid resume'.",
                             strna(pid), strna(started),
                             !holder_boot || !boot ? "" : streq(holder_boot, boot) ? ", this boot" : ", another boot",
                             path) < 0)
                        *ret_error = NULL;
                return;
        }
        if (asprintf(ret_error, "Another rootraid executor holds %s. Wait for it to finish, or stop it.", path) < 0)
                *ret_error = NULL;
}

int exec_lock_acquire(const char *path, struct exec_lock **ret, char **ret_error) {
        _cleanup_free_ char *boot = current_boot_id(), *text = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct exec_lock *l;
        char stamp[32] = "";
        struct tm tm;
        time_t now = time(NULL);

        /* The first apply on a machine finds no /var/lib/rootraid yet. */
        _cleanup_free_ char *dir = strdup(path);
        if (!dir)
                return -ENOMEM;
        (void) mkdir_p(dirname(dir), 0700); /* a failure shows in open() below */

        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
        if (fd < 0) {
                int r = -errno;
                if (ret_error && asprintf(ret_error, "Cannot open the lock file %s: %s", path, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno == EINTR)
                        continue;
                if (errno == EWOULDBLOCK) {
                        describe_holder(path, ret_error);
                        return -EAGAIN;
                }
                return -errno;
        }

        if (gmtime_r(&now, &tm))
                (void) strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (asprintf(&text, "pid=%d\nboot_id=%s\nstarted=%s\n", (int) getpid(), strna(boot), stamp) < 0)
                return -ENOMEM;
        /* The description is informative only; a failure to write it does
         * not weaken the lock, which is the flock itself. */
        if (ftruncate(fd, 0) == 0)
                (void) !pwrite(fd, text, strlen(text), 0);

        l = malloc(sizeof *l);
        if (!l)
                return -ENOMEM;
        l->fd = TAKE_FD(fd);
        *ret = l;
        return 0;
}

int exec_lock_acquire_wait(const char *path, unsigned long timeout_ms, unsigned long interval_ms,
                           void (*on_wait)(const char *holder, unsigned long timeout_ms), struct exec_lock **ret,
                           char **ret_error) {
        struct timespec start, now;
        bool told = false;

        clock_gettime(CLOCK_MONOTONIC, &start);
        for (;;) {
                _cleanup_free_ char *e = NULL;
                int r = exec_lock_acquire(path, ret, &e);
                if (r != -EAGAIN)
                        return r;
                clock_gettime(CLOCK_MONOTONIC, &now);
                unsigned long waited = (unsigned long) ((now.tv_sec - start.tv_sec) * 1000 +
                                                        (now.tv_nsec - start.tv_nsec) / 1000000);
                if (waited >= timeout_ms) {
                        if (ret_error)
                                *ret_error = TAKE_PTR(e);
                        return r;
                }
                if (!told && on_wait)
                        on_wait(e, timeout_ms);
                told = true;
                unsigned long ms = MIN(interval_ms ?: 1000, timeout_ms - waited);
                (void) nanosleep(&(struct timespec) { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 },
                                 NULL); /* a signal only shortens one wait */
        }
}

struct exec_lock *exec_lock_release(struct exec_lock *l) {
        if (!l)
                return NULL;
        /* Clear the description first so nobody reads a finished holder;
         * then closing the fd drops the flock. */
        (void) !ftruncate(l->fd, 0);
        safe_close(l->fd);
        free(l);
        return NULL;
}
