/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/fault.h"
#include "util/log.h"
#include "util/run.h"

extern char **environ;

static bool dry_run;

void run_set_dry_run(bool b) {
        dry_run = b;
}

bool run_get_dry_run(void) {
        return dry_run;
}

char *argv_to_string(const char *const *argv) {
        size_t len = 1;
        for (size_t i = 0; argv[i]; i++)
                len += strlen(argv[i]) * 4 + 3;
        char *s = malloc(len), *p = s;
        if (!s)
                return NULL;
        for (size_t i = 0; argv[i]; i++) {
                const char *a = argv[i];
                bool plain = *a && strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=+:,./@%") == strlen(a);
                if (i > 0)
                        *p++ = ' ';
                if (plain) {
                        p = stpcpy(p, a);
                        continue;
                }
                *p++ = '\'';
                for (; *a; a++) {
                        if (*a == '\'')
                                p = stpcpy(p, "'\\''");
                        else
                                *p++ = *a;
                }
                *p++ = '\'';
        }
        *p = 0;
        return s;
}

struct buf {
        char *data;
        size_t size, alloc;
};

static int buf_read(struct buf *b, int fd) {
        if (b->alloc - b->size < 4096) {
                size_t n = b->alloc ? b->alloc * 2 : 16384;
                char *p = realloc(b->data, n + 1);
                if (!p)
                        return -ENOMEM;
                b->data = p;
                b->alloc = n;
        }
        ssize_t k = read(fd, b->data + b->size, b->alloc - b->size);
        if (k < 0)
                return errno == EINTR || errno == EAGAIN ? 1 : -errno;
        b->size += (size_t) k;
        b->data[b->size] = 0;
        return k > 0;
}

int run_argv(const char *const *argv, unsigned flags, char **ret_stdout, char **ret_stderr) {
        _cleanup_free_ char *cmd = argv_to_string(argv);
        int out[2] = { -1, -1 }, err[2] = { -1, -1 };
        struct buf bo = {}, be = { 0 };
        posix_spawn_file_actions_t fa;
        pid_t pid;
        int r, status;

        if (dry_run) {
                printf("would run: %s\n", strempty(cmd));
                if (ret_stdout)
                        *ret_stdout = strdup("");
                if (ret_stderr)
                        *ret_stderr = strdup("");
                return 0;
        }
        log_debug("Running: %s", strempty(cmd));

        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) {
                r = -errno;
                goto finish;
        }
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        if (flags & RUN_CAPTURE_STDOUT)
                posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        else
                posix_spawn_file_actions_adddup2(&fa, err[1], 1);
        if (flags & RUN_QUIET_STDERR)
                posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        else
                posix_spawn_file_actions_adddup2(&fa, err[1], 2);
        r = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *) argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(out[1]);
        close(err[1]);
        out[1] = err[1] = -1;
        if (r != 0) {
                r = -r;
                goto finish;
        }

        struct pollfd pfd[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
        int open_fds = 2;
        while (open_fds > 0) {
                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        int k = buf_read(i == 0 ? &bo : &be, pfd[i].fd);
                        if (k <= 0) {
                                pfd[i].fd = -1;
                                open_fds--;
                        }
                }
        }
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        r = -errno;
                        goto finish;
                }
        }
        if (WIFEXITED(status))
                r = WEXITSTATUS(status);
        else
                r = -EINTR;
        fault_action_done(cmd);

        if (be.size > 0 && !ret_stderr)
                log_debug("%s: %s", argv[0], be.data);
        if (ret_stdout) {
                *ret_stdout = bo.data ? bo.data : strdup("");
                bo.data = NULL;
        }
        if (ret_stderr) {
                *ret_stderr = be.data ? be.data : strdup("");
                be.data = NULL;
        }

finish:
        for (int i = 0; i < 2; i++) {
                if (out[i] >= 0)
                        close(out[i]);
                if (err[i] >= 0)
                        close(err[i]);
        }
        free(bo.data);
        free(be.data);
        return r;
}

int run_argv_checked(const char *const *argv, unsigned flags, char **ret_stdout) {
        _cleanup_free_ char *err = NULL, *out = NULL, *cmd = NULL;
        int r;

        r = run_argv(argv, flags, &out, &err);
        if (r < 0)
                return log_error_errno(r, "Cannot run %s: %m", argv[0]);
        if (r > 0) {
                cmd = argv_to_string(argv);
                size_t l = err ? strlen(err) : 0;
                while (l > 0 && err[l - 1] == '\n')
                        err[--l] = 0;
                return log_error_errno(EPROTO, "Command failed with exit status %d: %s%s%s", r, strempty(cmd),
                                       isempty(err) ? "" : ": ", strempty(err));
        }
        if (ret_stdout)
                *ret_stdout = TAKE_PTR(out);
        return 0;
}
