/* SPDX-License-Identifier: GPL-2.0-or-later */
/* write-fstab: points the migrated entries of the new root's fstab at the
 * new filesystems (UUID=...), keeping their options, dump and pass fields,
 * every other entry and the comments (libmount).
 *
 * The original is kept and restored as config-file.h describes.
 *   check: PATH holds exactly what apply renders from the original.
 *   undo:  puts the original back. */
#include <libmount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "steps/config-file.h"
#include "steps/kinds.h"
#include "util/fileio.h"
#include "util/strutil.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_table *, mnt_unref_table);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_iter *, mnt_free_iter);

/* The fstab entry that entry e of the plan rewrites, or NULL. */
static struct libmnt_fs *find_entry(struct libmnt_table *tb, const char *mountpoint, const char *old_uuid,
                                    const char *new_source) {
        _cleanup_(mnt_free_iterp) struct libmnt_iter *it = mnt_new_iter(MNT_ITER_BACKWARD);
        _cleanup_free_ char *old_source = NULL;
        struct libmnt_fs *fs, *swap_only = NULL;
        unsigned n_swaps = 0;

        if (!it || (old_uuid && asprintf(&old_source, "UUID=%s", old_uuid) < 0))
                return NULL;
        /* Backward: with duplicate mount points the last entry is the one
         * that counts at boot. */
        while (mnt_table_next_fs(tb, it, &fs) == 0) {
                if (!streq(mountpoint, "none")) {
                        if (streq_ptr(mnt_fs_get_target(fs), mountpoint))
                                return fs;
                        continue;
                }
                if (!mnt_fs_is_swaparea(fs))
                        continue;
                if (streq_ptr(mnt_fs_get_source(fs), old_source) || streq_ptr(mnt_fs_get_source(fs), new_source))
                        return fs;
                swap_only = fs;
                n_swaps++;
        }
        /* A swap area named some other way (/dev/sda2, LABEL=): only when it
         * is the single one is there no doubt which it is. */
        return n_swaps == 1 ? swap_only : NULL;
}

/* Appends each option of the comma-separated list opts (NULL: none) that
 * fs lacks, keeping the ones it has ("nofail" added once). */
static int add_missing_options(struct libmnt_fs *fs, const char *opts) {
        _cleanup_free_ char *copy = opts ? strdup(opts) : NULL;
        char *save = NULL;

        if (opts && !copy)
                return -ENOMEM;
        for (char *o = copy ? strtok_r(copy, ",", &save) : NULL; o; o = strtok_r(NULL, ",", &save)) {
                _cleanup_free_ char *name = strndup(o, strcspn(o, "="));
                if (!name)
                        return -ENOMEM;
                if (mnt_fs_get_option(fs, name, NULL, NULL) == 0)
                        continue;
                int r = mnt_fs_append_options(fs, o);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Renders the rewritten fstab from the original's text. */
static int render(struct step_context *ctx, const struct plan_step *step, const char *original, size_t original_size,
                  char **ret_text, size_t *ret_size) {
        _cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
        _cleanup_free_ char *text = NULL;
        const char *path;
        json_object *entries;
        size_t size = 0;
        FILE *f;
        int r;

        if ((r = step_arg_string(ctx, step, "path", &path)) < 0 || (r = step_arg_array(ctx, step, "entries", &entries)) < 0)
                return r;
        tb = mnt_new_table();
        if (!tb)
                return step_error(ctx, ENOMEM, "Out of memory.");
        mnt_table_enable_comments(tb, 1);
        if (original_size > 0) { /* fmemopen() refuses an empty buffer */
                f = fmemopen((void *) original, original_size, "r");
                if (!f)
                        return step_error(ctx, errno, "Cannot read the original of %s: %m", path);
                r = mnt_table_parse_stream(tb, f, path);
                fclose(f);
                if (r < 0)
                        return step_error(ctx, r, "Cannot parse %s: %m", path);
        }

        for (size_t i = 0; i < json_object_array_length(entries); i++) {
                struct plan_step sub = { .id = step->id, .args = json_object_array_get_idx(entries, i) };
                const char *mountpoint, *old_uuid, *new_source, *add_options = NULL;
                struct libmnt_fs *fs;

                if ((r = step_arg_string(ctx, &sub, "mountpoint", &mountpoint)) < 0 ||
                    (r = step_arg_string_optional(ctx, &sub, "old_uuid", &old_uuid)) < 0 ||
                    (r = step_arg_string(ctx, &sub, "new_source", &new_source)) < 0)
                        return r;
                fs = find_entry(tb, mountpoint, old_uuid, new_source);
                if (!fs && streq(mountpoint, "none"))
                        return step_error(ctx, ENOENT, "%s has no entry for the swap area UUID=%s; the plan does not fit this file.",
                                          path, strna(old_uuid));
                if (!fs)
                        return step_error(ctx, ENOENT, "%s has no entry for %s; the plan does not fit this file.", path,
                                          mountpoint);
                if (mnt_fs_set_source(fs, new_source) < 0)
                        return step_error(ctx, ENOMEM, "Out of memory.");
                if ((r = step_arg_string_optional(ctx, &sub, "add_options", &add_options)) < 0 ||
                    (r = add_missing_options(fs, add_options)) < 0)
                        return step_error(ctx, r, "Cannot add the options %s to the entry for %s: %m", strna(add_options), mountpoint);
        }

        f = open_memstream(&text, &size);
        if (!f)
                return step_error(ctx, errno, "Out of memory.");
        r = mnt_table_write_file(tb, f);
        if (fclose(f) != 0 && r >= 0)
                r = -errno;
        if (r < 0)
                return step_error(ctx, r, "Cannot render %s: %m", path);
        *ret_text = TAKE_PTR(text);
        *ret_size = size;
        return 0;
}

DEFINE_CONFIG_FILE_STEP(write_fstab, STEP_WRITE_FSTAB, render, false);
