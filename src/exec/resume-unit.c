/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The resume unit's installer; see resume-unit.h.  Kept in step with the
 * template in contrib/systemd/rootraid-resume.service. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec/journal.h"
#include "exec/resume-unit.h"
#include "util/fileio.h"
#include "util/macro.h"

int resume_unit_text(const char *exec_path, char **ret) {
        char *s;

        if (!exec_path || exec_path[0] != '/' || strpbrk(exec_path, " \t\n\\%\"'"))
                return -EINVAL;
        if (asprintf(&s,
                     "# Installed by rootraid for the duration of a migration onto RAID;\n"
                     "# rootraid removes it when the migration ends or is rolled back.\n"
                     "[Unit]\n"
                     "Description=Continue the rootraid migration after a reboot\n"
                     "Documentation=man:rootraid(8)\n"
                     "After=local-fs.target\n"
                     "Wants=local-fs.target\n"
                     "ConditionPathExists=" JOURNAL_DIR "/" JOURNAL_FILE_NAME "\n"
                     "\n"
                     "[Service]\n"
                     /* exec, not oneshot: waiting for a resync must not hold
                      * up the boot (and with it the operator's SSH login). */
                     "Type=exec\n"
                     /* ROOTRAID_HOOK_TIMEOUT and the hooks' own settings. */
                     "EnvironmentFile=-/etc/default/rootraid\n"
                     "ExecStart=%s resume\n"
                     /* 14: waiting for a reboot (after a switch without
                      * one), which is how such a resume ends. */
                     "SuccessExitStatus=14\n"
                     "TimeoutStartSec=infinity\n"
                     "\n"
                     "[Install]\n"
                     "WantedBy=" RESUME_UNIT_WANTED_BY "\n",
                     exec_path) < 0)
                return -ENOMEM;
        *ret = s;
        return 0;
}

static int paths(const char *root, char **ret_unit, char **ret_link) {
        const char *r = isempty(root) ? "/" : root;
        _cleanup_free_ char *unit = path_join(r, RESUME_UNIT_DIR "/" RESUME_UNIT_NAME);
        _cleanup_free_ char *link = path_join(r, RESUME_UNIT_DIR "/" RESUME_UNIT_WANTED_BY ".wants/" RESUME_UNIT_NAME);

        if (!unit || !link)
                return -ENOMEM;
        *ret_unit = TAKE_PTR(unit);
        *ret_link = TAKE_PTR(link);
        return 0;
}

static int fail(char **ret_error, int r, const char *what, const char *path) {
        if (ret_error && asprintf(ret_error, "Cannot %s %s: %s", what, path, strerror(-r)) < 0)
                *ret_error = NULL;
        return r;
}

int resume_unit_install_self(const char *root, char **ret_error) {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

        if (n < 0) {
                int r = -errno;
                *ret_error = strdup("cannot find the rootraid binary (/proc/self/exe)");
                return r;
        }
        self[n] = '\0';
        return resume_unit_install(root, self, ret_error);
}

int resume_unit_install(const char *root, const char *exec_path, char **ret_error) {
        _cleanup_free_ char *unit = NULL, *link = NULL, *text = NULL, *wants = NULL;
        char target[PATH_MAX];
        ssize_t n;
        int r;

        r = resume_unit_text(exec_path, &text);
        if (r < 0)
                return r == -EINVAL ? fail(ret_error, r, "use as the resume unit's command", strna(exec_path)) : r;
        r = paths(root, &unit, &link);
        if (r < 0)
                return r;
        wants = strdup(link);
        if (!wants)
                return -ENOMEM;
        *strrchr(wants, '/') = '\0';

        r = mkdir_p(wants, 0755);
        if (r < 0)
                return fail(ret_error, r, "create", wants);
        r = write_file_atomic(unit, text, strlen(text), 0644);
        if (r < 0)
                return fail(ret_error, r, "write", unit);

        /* The symlink names the unit as the booted root will see it. */
        n = readlink(link, target, sizeof target - 1);
        if (n >= 0) {
                target[n] = '\0';
                if (streq(target, RESUME_UNIT_DIR "/" RESUME_UNIT_NAME))
                        return 0;
                if (unlink(link) < 0)
                        return fail(ret_error, -errno, "replace", link);
        } else if (errno != ENOENT && errno != EINVAL)
                return fail(ret_error, -errno, "read", link);
        else if (errno == EINVAL && unlink(link) < 0)
                return fail(ret_error, -errno, "replace", link);
        if (symlink(RESUME_UNIT_DIR "/" RESUME_UNIT_NAME, link) < 0)
                return fail(ret_error, -errno, "create the symlink", link);
        return 0;
}

int resume_unit_remove(const char *root, char **ret_error) {
        _cleanup_free_ char *unit = NULL, *link = NULL;
        int r;

        r = paths(root, &unit, &link);
        if (r < 0)
                return r;
        /* The symlink first: a crash in between leaves a disabled unit,
         * never a dangling enablement. */
        if (unlink(link) < 0 && errno != ENOENT)
                return fail(ret_error, -errno, "remove", link);
        if (unlink(unit) < 0 && errno != ENOENT)
                return fail(ret_error, -errno, "remove", unit);
        return 0;
}
