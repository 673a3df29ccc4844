/* SPDX-License-Identifier: GPL-2.0-or-later */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "steps/config-file.h"
#include "steps/target.h"
#include "util/fileio.h"

#define SAVED_SUFFIX ".rootraid-orig"
#define ABSENT_SUFFIX ".rootraid-absent"
#define CONFIG_MAX_SIZE (4u << 20)

struct original {
        char *saved, *absent;    /* the paths of the two markers */
        char *text;              /* NULL when the file did not exist */
        size_t size;
        mode_t mode;
        bool kept;               /* a marker exists: apply ran before */
};

static void original_done(struct original *o) {
        free(o->saved);
        free(o->absent);
        free(o->text);
}

/* Finds the original: the kept copy, the "absent" marker, or the file as it
 * is now (apply has not run yet). */
static int original_read(struct step_context *ctx, const char *path, bool may_be_absent, struct original *o) {
        _cleanup_free_ char *from = NULL;
        struct stat st;
        int r;

        *o = (struct original) { .mode = 0644 };
        if (asprintf(&o->saved, "%s" SAVED_SUFFIX, path) < 0 || asprintf(&o->absent, "%s" ABSENT_SUFFIX, path) < 0)
                return step_error(ctx, ENOMEM, "Out of memory.");
        if (access(o->absent, F_OK) == 0) {
                o->kept = true;
                return 0;
        }
        const char *source = o->saved;
        r = read_full_file(o->saved, CONFIG_MAX_SIZE, &o->text, &o->size);
        if (r == -ENOENT) {
                source = path;
                r = read_full_file(path, CONFIG_MAX_SIZE, &o->text, &o->size);
                /* A dry run copied nothing into the new root: render from
                 * the file that the copy will bring there. */
                if (r == -ENOENT && ctx->dry_run && ctx->plan && target_copy_source(ctx->plan, path, &from) >= 0) {
                        source = from;
                        r = read_full_file(from, CONFIG_MAX_SIZE, &o->text, &o->size);
                }
                if (r == -ENOENT && may_be_absent)
                        return 0;
        } else
                o->kept = r >= 0;
        if (r < 0)
                return step_error(ctx, r, "Cannot read %s: %m", source);
        if (stat(source, &st) == 0)
                o->mode = st.st_mode & 07777;
        return 0;
}

/* The original, and what render makes of it. */
static int render_original(struct step_context *ctx, const struct plan_step *step, const char *path,
                           config_render_fn render, bool may_be_absent, struct original *o, char **ret, size_t *ret_size) {
        int r = original_read(ctx, path, may_be_absent, o);
        return r < 0 ? r : render(ctx, step, o->text, o->size, ret, ret_size);
}

int config_file_check(struct step_context *ctx, const struct plan_step *step, const char *path, config_render_fn render,
                      bool may_be_absent) {
        _cleanup_(original_done) struct original o = {};
        _cleanup_free_ char *want = NULL, *have = NULL;
        size_t want_size, have_size;
        int r;

        r = render_original(ctx, step, path, render, may_be_absent, &o, &want, &want_size);
        if (r < 0)
                return r;
        r = read_full_file(path, CONFIG_MAX_SIZE, &have, &have_size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return step_error(ctx, r, "Cannot read %s: %m", path);
        return have_size == want_size && memcmp(have, want, want_size) == 0;
}

int config_file_apply(struct step_context *ctx, const struct plan_step *step, const char *path, config_render_fn render,
                      bool may_be_absent) {
        _cleanup_(original_done) struct original o = {};
        _cleanup_free_ char *text = NULL, *dir = NULL;
        size_t size;
        int r;

        r = render_original(ctx, step, path, render, may_be_absent, &o, &text, &size);
        if (r < 0)
                return r;
        if (!o.kept) {
                /* Keep the original before the first change, for undo.
                 * Commit point: from here undo knows what to restore. */
                const char *marker = o.text ? o.saved : o.absent;
                if (ctx->dry_run)
                        printf("would keep the original of %s as %s\n", path, marker);
                else {
                        dir = strdup(path);
                        if (!dir)
                                return step_error(ctx, ENOMEM, "Out of memory.");
                        r = mkdir_p(dirname(dir), 0755);
                        if (r < 0)
                                return step_error(ctx, r, "Cannot create the directory of %s: %m", path);
                        r = write_file_atomic(marker, strempty(o.text), o.size, o.mode);
                        if (r < 0)
                                return step_error(ctx, r, "Cannot keep the original of %s as %s: %m", path, marker);
                }
        }
        return step_write_file(ctx, path, text, size, o.mode);
}

int config_file_undo(struct step_context *ctx, const struct plan_step *step, const char *path) {
        _cleanup_(original_done) struct original o = {};
        int r;

        r = original_read(ctx, path, true, &o);
        if (r < 0)
                return r;
        if (!o.kept)
                return 0; /* apply never changed the file */
        if (o.text) {
                r = step_write_file(ctx, path, o.text, o.size, o.mode);
                if (r < 0)
                        return r;
        } else if (ctx->dry_run)
                printf("would remove %s\n", path);
        else if (unlink(path) < 0 && errno != ENOENT)
                return step_error(ctx, errno, "Cannot remove %s: %m", path);

        const char *marker = o.text ? o.saved : o.absent;
        if (ctx->dry_run)
                printf("would remove %s\n", marker);
        else if (unlink(marker) < 0)
                return step_error(ctx, errno, "Cannot remove %s: %m", marker);
        return 0;
}
