/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The hook runner; what runs, what is refused and what a hook sees is
 * described in hooks.h.  The permission rules follow run-parts and sudo's
 * sudoers.d: a file that someone other than root can change must not run
 * as root in the middle of a disk migration. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "exec/hooks.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strutil.h"

extern char **environ;

static const char *const hook_phase_table[_HOOK_PHASE_MAX] = {
        [HOOK_PHASE_BEFORE_COPY] = "before-copy",
        [HOOK_PHASE_BEFORE_FINAL_SYNC] = "before-final-sync",
        [HOOK_PHASE_AFTER_SWITCH] = "after-switch",
        [HOOK_PHASE_AFTER_READD] = "after-readd",
        [HOOK_PHASE_ON_FAILURE] = "on-failure",
};
DEFINE_STRING_TABLE(hook_phase, enum hook_phase, _HOOK_PHASE_MAX)

/* Names a package manager or an editor leaves behind: never hooks. */
static bool hook_name_ignored(const char *name) {
        static const char *const suffixes[] = {
                "~", ".dpkg-old", ".dpkg-new", ".dpkg-dist", ".dpkg-tmp", ".dpkg-bak",
                ".ucf-old", ".ucf-new", ".ucf-dist", ".rpmsave", ".rpmnew", ".swp",
        };
        size_t l = strlen(name);

        if (name[0] == '.' || l == 0)
                return true;
        for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
                size_t k = strlen(suffixes[i]);
                if (l >= k && streq(name + l - k, suffixes[i]))
                        return true;
        }
        return false;
}

/* NULL when st is safe, else why not. */
static const char *unsafe_reason(const struct stat *st) {
        if (st->st_uid != 0 && st->st_uid != geteuid())
                return "is owned by another user";
        if (st->st_mode & S_IWGRP)
                return "is writable by its group";
        if (st->st_mode & S_IWOTH)
                return "is writable by others";
        return NULL;
}

static int check_dir_safe(const char *dir, char **ret_error) {
        struct stat st;
        const char *why;

        if (stat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode)) {
                if (asprintf(ret_error, "The hook directory %s is not a directory.", dir) < 0)
                        *ret_error = NULL;
                return -ENOTDIR;
        }
        why = unsafe_reason(&st);
        if (why) {
                if (asprintf(ret_error, "Refusing the hook directory %s: it %s; make it root's and chmod go-w.", dir, why) < 0)
                        *ret_error = NULL;
                return -EPERM;
        }
        return 0;
}

static int name_cmp(const struct dirent **a, const struct dirent **b) {
        /* Byte order (the C locale), whatever the caller's locale says. */
        return strcmp((*a)->d_name, (*b)->d_name);
}

int hooks_list(const char *dir, char ***ret, char **ret_error) {
        _cleanup_free_ char *parent = NULL, *err = NULL;
        _cleanup_(strv_freep) char **l = NULL;
        struct dirent **names = NULL;
        int n, r;

        /* The phase directory and the hooks root above it: whoever can
         * write either can add or replace a hook. */
        parent = strdup(dir);
        if (!parent)
                return -ENOMEM;
        char *slash = strrchr(parent, '/');
        if (slash && slash != parent)
                *slash = '\0';
        else {
                free(parent);
                parent = NULL;
        }

        r = check_dir_safe(dir, &err);
        if (r == -ENOENT) {
                l = calloc(1, sizeof(char *));
                if (!l)
                        return -ENOMEM;
                *ret = TAKE_PTR(l);
                return 0;
        }
        if (r >= 0 && parent)
                r = check_dir_safe(parent, &err);
        if (r < 0) {
                if (!err && asprintf(&err, "Cannot check the hook directory %s: %s", dir, strerror(-r)) < 0)
                        err = NULL;
                *ret_error = TAKE_PTR(err);
                return r;
        }

        n = scandir(dir, &names, NULL, name_cmp);
        if (n < 0) {
                r = -errno;
                if (asprintf(ret_error, "Cannot read the hook directory %s: %s", dir, strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        l = calloc(1, sizeof(char *));
        if (!l)
                r = -ENOMEM;
        for (int i = 0; r >= 0 && i < n; i++) {
                _cleanup_free_ char *path = NULL;
                const char *why;
                struct stat st;

                if (hook_name_ignored(names[i]->d_name))
                        continue;
                path = path_join(dir, names[i]->d_name);
                if (!path) {
                        r = -ENOMEM;
                        break;
                }
                if (stat(path, &st) < 0) {
                        /* A dangling symlink: nothing that could run. */
                        log_warning("Skipping hook %s: %m", path);
                        continue;
                }
                if (!S_ISREG(st.st_mode)) {
                        log_debug("Skipping %s: not a regular file.", path);
                        continue;
                }
                why = unsafe_reason(&st);
                if (why) {
                        if (asprintf(&err, "Refusing hook %s: it %s; make it root's and chmod go-w (or remove it), then resume.", path, why) < 0)
                                err = NULL;
                        r = -EPERM;
                        break;
                }
                if (!(st.st_mode & 0111)) {
                        log_warning("Skipping hook %s: it is not executable (chmod +x enables it).", path);
                        continue;
                }
                r = strv_extend(&l, path);
        }
        for (int i = 0; i < n; i++)
                free(names[i]);
        free(names);
        if (r < 0) {
                *ret_error = TAKE_PTR(err);
                return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

/* The caller's environment, with our five variables set over any of the
 * caller's own (a stale ROOTRAID_STEP must not leak into a hook).  Other
 * ROOTRAID_* go through: they configure hooks (ROOTRAID_MAIL_TO,
 * ROOTRAID_STOP_SERVICES of the examples, from /etc/default/rootraid in
 * the resume unit). */
/* True when the environment entry e ("NAME=value") sets one of keys. */
static bool env_is_ours(const char *e, const char *const *keys, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const char *rest = startswith(e, keys[i]);
                if (rest && *rest == '=')
                        return true;
        }
        return false;
}

static int build_env(const char *phase, const struct hook_env *env, char ***ret) {
        static const char *const keys[] = {
                "ROOTRAID_PHASE", "ROOTRAID_PLAN", "ROOTRAID_TARGET", "ROOTRAID_STEP", "ROOTRAID_JOURNAL",
        };
        const char *values[] = {
                phase, env->plan_path, env->target_dir, env->step_id, env->journal_path,
        };
        _cleanup_(strv_freep) char **l = calloc(1, sizeof(char *));
        int r;

        if (!l)
                return -ENOMEM;
        for (char **e = environ; e && *e; e++)
                if (!env_is_ours(*e, keys, ELEMENTSOF(keys)) && (r = strv_extend(&l, *e)) < 0)
                        return r;
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                _cleanup_free_ char *s = NULL;
                if (asprintf(&s, "%s=%s", keys[i], strempty(values[i])) < 0)
                        return -ENOMEM;
                if ((r = strv_extend(&l, s)) < 0)
                        return r;
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static long long now_ms(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Logs complete lines from buf (of *len bytes), keeping a partial last
 * line unless flush. */
static void log_lines(const char *name, char *buf, size_t *len, bool flush) {
        size_t start = 0;
        for (size_t i = 0; i < *len; i++)
                if (buf[i] == '\n') {
                        log_info("%s: %.*s", name, (int) (i - start), buf + start);
                        start = i + 1;
                }
        if (flush && start < *len) {
                log_info("%s: %.*s", name, (int) (*len - start), buf + start);
                start = *len;
        }
        memmove(buf, buf + start, *len - start);
        *len -= start;
}

/* Runs one hook; returns its wait status in *ret_status, or -ETIME.  The
 * hook is done when its process exits: something it left running in the
 * background may keep its output open, and is not waited for. */
static int run_one(const char *path, const char *phase, char **envp, unsigned timeout_sec, int *ret_status) {
        const char *name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        char buf[4096];
        size_t len = 0;
        int fds[2], status = 0;
        bool exited = false, eof = false, timed_out = false;
        long long deadline = now_ms() + (long long) timeout_sec * 1000, kill_at = -1;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int e = errno;
                safe_close(fds[0]);
                safe_close(fds[1]);
                return -e;
        }
        if (pid == 0) {
                /* Only async-signal-safe calls from here on. */
                int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
                if (devnull < 0 || dup2(devnull, STDIN_FILENO) < 0 ||
                    dup2(fds[1], STDOUT_FILENO) < 0 || dup2(fds[1], STDERR_FILENO) < 0)
                        _exit(127);
                /* Its own process group, so a timeout kills its children too. */
                (void) setpgid(0, 0);
                char *const argv[] = { (char *) path, (char *) phase, NULL };
                execve(path, argv, envp);
                _exit(126);
        }
        safe_close(fds[1]);

        while (!exited) {
                long long t = now_ms();
                pid_t w = waitpid(pid, &status, WNOHANG);
                if (w == pid) {
                        exited = true;
                        break;
                }
                if (w < 0 && errno != EINTR) {
                        int e = errno;
                        safe_close(fds[0]);
                        return -e;
                }
                if (!timed_out && t >= deadline) {
                        timed_out = true;
                        log_error("Hook %s ran longer than %u s; stopping it.", path, timeout_sec);
                        (void) kill(-pid, SIGTERM);
                        (void) kill(pid, SIGTERM);
                        kill_at = t + 5000;
                }
                if (kill_at >= 0 && t >= kill_at) {
                        (void) kill(-pid, SIGKILL);
                        (void) kill(pid, SIGKILL);
                        kill_at = -1;
                }
                if (eof) {
                        (void) poll(NULL, 0, 50);
                        continue;
                }
                struct pollfd p = { .fd = fds[0], .events = POLLIN };
                if (poll(&p, 1, 100) <= 0)
                        continue;
                ssize_t m = read(fds[0], buf + len, sizeof buf - len);
                if (m < 0 && errno == EINTR)
                        continue;
                if (m <= 0) {
                        eof = true;
                        continue;
                }
                len += (size_t) m;
                log_lines(name, buf, &len, len == sizeof buf);
        }
        /* What it wrote before it exited, without waiting for anything it
         * left behind. */
        while (!eof) {
                struct pollfd p = { .fd = fds[0], .events = POLLIN };
                if (poll(&p, 1, 0) <= 0)
                        break;
                ssize_t m = read(fds[0], buf + len, sizeof buf - len);
                if (m <= 0)
                        break;
                len += (size_t) m;
                log_lines(name, buf, &len, len == sizeof buf);
        }
        log_lines(name, buf, &len, true);
        safe_close(fds[0]);
        if (timed_out) {
                /* Whatever of its group is still there goes too. */
                (void) kill(-pid, SIGKILL);
                return -ETIME;
        }
        *ret_status = status;
        return 0;
}

unsigned hooks_timeout_from_env(void) {
        const char *e = getenv("ROOTRAID_HOOK_TIMEOUT");
        char *end;
        unsigned long v;

        if (isempty(e))
                return HOOKS_DEFAULT_TIMEOUT_SEC;
        errno = 0;
        v = strtoul(e, &end, 10);
        if (errno != 0 || *end || v == 0 || v > 7 * 24 * 3600 || e[0] == '-') {
                log_warning("Ignoring ROOTRAID_HOOK_TIMEOUT=%s: not a number of seconds from 1 to 604800; using %u.",
                            e, HOOKS_DEFAULT_TIMEOUT_SEC);
                return HOOKS_DEFAULT_TIMEOUT_SEC;
        }
        return (unsigned) v;
}

int hooks_run_dir(const char *dir, const char *phase, const struct hook_env *env, char **ret_error) {
        static const struct hook_env empty = {};
        _cleanup_(strv_freep) char **hooks = NULL, **envp = NULL;
        _cleanup_free_ char *err = NULL;
        unsigned timeout;
        int r;

        if (!env)
                env = &empty;
        timeout = env->timeout_sec > 0 ? env->timeout_sec : hooks_timeout_from_env();
        r = hooks_list(dir, &hooks, &err);
        if (r < 0) {
                *ret_error = TAKE_PTR(err);
                return r;
        }
        if (!hooks[0]) {
                log_debug("No hooks for phase %s in %s.", phase, dir);
                return 0;
        }
        r = build_env(phase, env, &envp);
        if (r < 0)
                return r;

        for (char **h = hooks; *h; h++) {
                int status = 0;
                log_info("Running %s hook %s.", phase, *h);
                r = run_one(*h, phase, envp, timeout, &status);
                if (r == -ETIME) {
                        if (asprintf(ret_error, "Hook %s did not finish within %u s and was killed; fix it and resume.", *h, timeout) < 0)
                                *ret_error = NULL;
                        return r;
                }
                if (r < 0) {
                        if (asprintf(ret_error, "Cannot run hook %s: %s", *h, strerror(-r)) < 0)
                                *ret_error = NULL;
                        return r;
                }
                if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                        continue;
                if (WIFEXITED(status)) {
                        if (asprintf(ret_error, "Hook %s failed with exit status %d; fix it (or remove it) and resume.",
                                     *h, WEXITSTATUS(status)) < 0)
                                *ret_error = NULL;
                } else if (asprintf(ret_error, "Hook %s was killed by signal %s; fix it (or remove it) and resume.",
                                    *h, strsignal(WTERMSIG(status))) < 0)
                        *ret_error = NULL;
                return -EPROTO;
        }
        return 0;
}

int hooks_run(const char *root, enum hook_phase phase, const struct hook_env *env, char **ret_error) {
        _cleanup_free_ char *dir = NULL;
        const char *name = hook_phase_to_string(phase);

        if (!name)
                return -EINVAL;
        dir = path_join(root ?: HOOKS_DIR, name);
        if (!dir)
                return -ENOMEM;
        return hooks_run_dir(dir, name, env, ret_error);
}

int hooks_root_of_plan(const struct plan *p, char **ret) {
        for (size_t i = 0; p && i < p->n_steps; i++) {
                json_object *d;
                if (p->steps[i].kind != STEP_RUN_HOOKS ||
                    !json_object_object_get_ex(p->steps[i].args, "directory", &d) ||
                    !json_object_is_type(d, json_type_string))
                        continue;
                char *s = strdup(json_object_get_string(d)), *slash;
                if (!s)
                        return -ENOMEM;
                slash = strrchr(s, '/');
                if (slash && slash != s) {
                        *slash = '\0';
                        *ret = s;
                        return 0;
                }
                free(s);
        }
        *ret = strdup(HOOKS_DIR);
        return *ret ? 0 : -ENOMEM;
}
