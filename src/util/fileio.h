/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Reads a whole file into a NUL-terminated buffer that the caller frees.
 * Returns 0 or a negative errno; fails with -EFBIG above max_size bytes. */
int read_full_file(const char *path, size_t max_size, char **ret_data, size_t *ret_size);

/* Same, relative to a directory fd (or AT_FDCWD). */
int read_full_file_at(int dirfd, const char *path, size_t max_size, char **ret_data, size_t *ret_size);

/* Reads the first line of a (sysfs-style) file with the newline removed. */
int read_one_line_file(const char *path, char **ret_line);

/* Replaces path atomically: writes a temporary file next to it, fsyncs it,
 * renames it over path and fsyncs the directory.  After it returns 0 the
 * new content survives a power cut; before, the old content is intact. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* fsync()s the directory that holds path, so that a rename into it
 * survives a power cut. */
int fsync_directory_of(const char *path);

/* mkdir -p, every missing component with the given mode. */
int mkdir_p(const char *path, mode_t mode);

/* path joined to a prefix (a sysroot); "" or NULL prefix gives path itself.
 * Returns a malloc'd string or NULL on out of memory. */
char *path_join(const char *prefix, const char *path);
