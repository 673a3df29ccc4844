/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The resume unit: a systemd service that runs `rootraid resume` once per
 * boot while a journal exists, so a migration continues by itself after
 * each of its planned reboots.  It is installed on the old root and on the
 * new root (whichever boots runs it), enabled by the symlink
 * `systemctl enable` would make (so it works on a root that is not
 * running), and removed from both when the migration ends or is rolled
 * back, so nothing of rootraid stays in the boot path. */

#define RESUME_UNIT_NAME "rootraid-resume.service"
#define RESUME_UNIT_DIR "/etc/systemd/system"
#define RESUME_UNIT_WANTED_BY "multi-user.target"

/* The unit file's text for the executable at exec_path (absolute).
 * Caller frees. */
int resume_unit_text(const char *exec_path, char **ret);

/* Writes ROOT/etc/systemd/system/rootraid-resume.service and the
 * multi-user.target.wants symlink to it (root "" or NULL: /).  Idempotent:
 * an existing unit is replaced, an existing symlink kept when it points at
 * the unit.  *ret_error (caller frees) says what failed. */
int resume_unit_install(const char *root, const char *exec_path, char **ret_error);

/* resume_unit_install() for the rootraid binary that is running now
 * (/proc/self/exe): the copy put the same path on the new root. */
int resume_unit_install_self(const char *root, char **ret_error);

/* Removes the symlink and the unit file from root; what is already gone is
 * fine.  Nothing else is touched. */
int resume_unit_remove(const char *root, char **ret_error);
