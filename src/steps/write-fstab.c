/* SPDX-License-Identifier: GPL-2.0-or-later */
/* write-fstab: points the migrated entries of the new root's fstab at the
 * new filesystems (UUID=...), keeping their options, dump and pass fields,
 * every other entry and the comments (libmount).
 *
 * The original file is kept as PATH.rootraid-orig the first time apply runs;
 * every later apply renders from that copy, so running it again gives the
 * same bytes.
 *   check: PATH holds exactly what apply renders.
 *   undo:  puts the original back and removes the copy. */
#include <libmount.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "steps/kinds.h"
#include "util/fileio.h"
#include "util/strutil.h"

#define SAVED_SUFFIX ".rootraid-orig"
#define FSTAB_MAX_SIZE (4u << 20)

DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_table *, mnt_unref_table);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct libmnt_iter *, mnt_free_iter);

static int saved_path(struct step_context *ctx, const char *path, char **ret) {
        if (asprintf(ret, "%s" SAVED_SUFFIX, path) < 0)
                return step_error(ctx, ENOMEM, "Out of memory.");
        return 0;
}

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

/* Renders the rewritten fstab from the original (the saved copy when it
 * exists); *ret_mode receives the original's permissions. */
static int render(struct step_context *ctx, const struct plan_step *step, char **ret_text, size_t *ret_size,
                  mode_t *ret_mode) {
        _cleanup_(mnt_unref_tablep) struct libmnt_table *tb = NULL;
        _cleanup_free_ char *saved = NULL, *text = NULL;
        const char *path, *source;
        json_object *entries;
        struct stat st;
        size_t size = 0;
        FILE *f;
        int r;

        if ((r = step_arg_string(ctx, step, "path", &path)) < 0 || (r = step_arg_array(ctx, step, "entries", &entries)) < 0 ||
            (r = saved_path(ctx, path, &saved)) < 0)
                return r;
        source = access(saved, F_OK) == 0 ? saved : path;
        if (stat(source, &st) < 0)
                return step_error(ctx, errno, "Cannot read %s: %m", source);

        tb = mnt_new_table();
        if (!tb)
                return step_error(ctx, ENOMEM, "Out of memory.");
        mnt_table_enable_comments(tb, 1);
        f = fopen(source, "re");
        if (!f)
                return step_error(ctx, errno, "Cannot open %s: %m", source);
        r = mnt_table_parse_stream(tb, f, source);
        fclose(f);
        if (r < 0)
                return step_error(ctx, r, "Cannot parse %s: %m", source);

        for (size_t i = 0; i < json_object_array_length(entries); i++) {
                struct plan_step sub = { .id = step->id, .args = json_object_array_get_idx(entries, i) };
                const char *mountpoint, *old_uuid, *new_source;
                struct libmnt_fs *fs;

                if ((r = step_arg_string(ctx, &sub, "mountpoint", &mountpoint)) < 0 ||
                    (r = step_arg_string_optional(ctx, &sub, "old_uuid", &old_uuid)) < 0 ||
                    (r = step_arg_string(ctx, &sub, "new_source", &new_source)) < 0)
                        return r;
                fs = find_entry(tb, mountpoint, old_uuid, new_source);
                if (!fs && streq(mountpoint, "none"))
                        return step_error(ctx, ENOENT, "%s has no entry for the swap area UUID=%s; the plan does not fit this file.",
                                          source, strna(old_uuid));
                if (!fs)
                        return step_error(ctx, ENOENT, "%s has no entry for %s; the plan does not fit this file.", source,
                                          mountpoint);
                if (mnt_fs_set_source(fs, new_source) < 0)
                        return step_error(ctx, ENOMEM, "Out of memory.");
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
        if (ret_mode)
                *ret_mode = st.st_mode & 07777;
        return 0;
}

static int write_fstab_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *want = NULL, *have = NULL;
        size_t want_size, have_size;
        const char *path;
        int r;

        r = step_arg_string(ctx, step, "path", &path);
        if (r < 0)
                return r;
        r = render(ctx, step, &want, &want_size, NULL);
        if (r < 0)
                return r;
        r = read_full_file(path, FSTAB_MAX_SIZE, &have, &have_size);
        if (r < 0)
                return step_error(ctx, r, "Cannot read %s: %m", path);
        return have_size == want_size && memcmp(have, want, want_size) == 0;
}

static int write_fstab_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *text = NULL, *saved = NULL, *orig = NULL;
        size_t size, orig_size;
        const char *path;
        mode_t mode;
        int r;

        if ((r = step_arg_string(ctx, step, "path", &path)) < 0 || (r = saved_path(ctx, path, &saved)) < 0)
                return r;
        r = render(ctx, step, &text, &size, &mode);
        if (r < 0)
                return r;
        if (access(saved, F_OK) < 0) {
                /* Keep the original before the first change, for undo. */
                r = read_full_file(path, FSTAB_MAX_SIZE, &orig, &orig_size);
                if (r < 0)
                        return step_error(ctx, r, "Cannot read %s: %m", path);
                if (ctx->dry_run)
                        printf("would save a copy of %s as %s\n", path, saved);
                else {
                        r = write_file_atomic(saved, orig, orig_size, mode);
                        if (r < 0)
                                return step_error(ctx, r, "Cannot save a copy of %s: %m", path);
                }
        }
        return step_write_file(ctx, path, text, size, mode);
}

static int write_fstab_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *saved = NULL, *orig = NULL;
        const char *path;
        struct stat st;
        size_t size;
        int r;

        if ((r = step_arg_string(ctx, step, "path", &path)) < 0 || (r = saved_path(ctx, path, &saved)) < 0)
                return r;
        r = read_full_file(saved, FSTAB_MAX_SIZE, &orig, &size);
        if (r == -ENOENT)
                return 0; /* apply never changed the file */
        if (r < 0)
                return step_error(ctx, r, "Cannot read the saved copy %s: %m", saved);
        if (stat(saved, &st) < 0)
                return step_error(ctx, errno, "Cannot read %s: %m", saved);
        r = step_write_file(ctx, path, orig, size, st.st_mode & 07777);
        if (r < 0)
                return r;
        if (ctx->dry_run)
                printf("would remove %s\n", saved);
        else if (unlink(saved) < 0)
                return step_error(ctx, errno, "Cannot remove %s: %m", saved);
        return 0;
}

const struct step_ops step_write_fstab = {
        .kind = STEP_WRITE_FSTAB,
        .check = write_fstab_check,
        .apply = write_fstab_apply,
        .undo = write_fstab_undo,
};
