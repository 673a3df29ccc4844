/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared by the files of src/inspect/: one file per source of facts, each
 * filling its part of the struct facts in the order inspect_system() calls
 * them (sysfs first: every later source looks devices up by kernel name). */

#include <stdbool.h>
#include <stdint.h>

#include "inspect/inspect.h"
#include "util/macro.h"

struct inspect_ctx {
        const char *root;       /* sysroot prefix, or "" for the live system */
        bool live;
        bool no_exec;
        struct facts *f;
        char *error;            /* the first error sentence, for ret_error */
};

/* root + path (path absolute, as on the inspected system).  NULL on OOM. */
char *ictx_path(const struct inspect_ctx *c, const char *path);

/* Reads a whole file / its first line below the root. */
int ictx_read_file(const struct inspect_ctx *c, const char *path, char **ret);
int ictx_read_line(const struct inspect_ctx *c, const char *path, char **ret);

/* Records the first error sentence; returns r (negative errno) so callers
 * can "return ictx_fail(c, r, ...)".  %m is strerror(-r). */
int ictx_fail(struct inspect_ctx *c, int r, const char *format, ...) _printf_(3, 4);

/* Appends a zeroed element to a malloc'd array; returns it or NULL on OOM.
 * Earlier element pointers are invalidated. */
void *array_append(void **array, size_t *n, size_t elem_size);

/* Reads the first line of dir/file (absolute paths, no root added). */
int read_attr(const char *dir, const char *file, char **ret);
int read_attr_u64(const char *dir, const char *file, uint64_t *ret);

/* *dst = strdup(s) (NULL stays NULL), freeing the old *dst.  0 or -ENOMEM. */
int strdup_to(char **dst, const char *s);

/* Resolves a device spec as written in fstab / crypttab / swaps
 * ("UUID=...", "LABEL=...", "PARTUUID=...", "PARTLABEL=...", "/dev/sda1",
 * "/dev/mapper/x", "/dev/vg/lv", "/dev/disk/by-*", "/dev/dm-1") to a device. */
struct blockdev *inspect_resolve(const struct facts *f, const char *spec);

/* "a6d00000-0000-4000-8000-000000000001" -> "a6d00000:00004000:80000000:00000001".
 * Returns NULL on OOM or a malformed UUID. */
char *uuid_to_mdadm(const char *uuid);

/* The sources, in the order inspect_system() calls them.  Each reads one
 * source into c->f and returns 0, or a negative errno with c->error set to
 * a sentence (ictx_fail).  What one cannot read about one device (no
 * permission, no node) is left unset rather than failing the whole. */
int inspect_sysfs(struct inspect_ctx *c);
int inspect_probe(struct inspect_ctx *c);
int inspect_fdisk(struct inspect_ctx *c);
int inspect_luks(struct inspect_ctx *c);
int inspect_md(struct inspect_ctx *c);
int inspect_links(struct inspect_ctx *c);
int inspect_lvm(struct inspect_ctx *c);
int inspect_mounts(struct inspect_ctx *c);
int inspect_swaps(struct inspect_ctx *c);
int inspect_usage(struct inspect_ctx *c);
int inspect_boot(struct inspect_ctx *c);
