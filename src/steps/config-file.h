/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What write-fstab, write-crypttab and write-mdadm-conf share: a
 * configuration file rewritten from its original.
 *
 * The first apply keeps the original as PATH.rootraid-orig (or, when there
 * was no file, an empty PATH.rootraid-absent) before writing anything, and
 * every render starts from that original, so applying again gives the same
 * bytes.  check compares PATH with the rendering; undo puts the original
 * back (or removes PATH) and then the copy.  Writes are atomic and follow
 * the dry run (step_write_file()). */

#include <stdbool.h>
#include <stddef.h>

#include "steps/step.h"

/* Renders the new content from the original (NULL, size 0, when the file
 * did not exist).  Returns 0 and a malloc'd *ret, or a step_error(). */
typedef int (*config_render_fn)(struct step_context *ctx, const struct plan_step *step, const char *original,
                                size_t size, char **ret, size_t *ret_size);

/* may_be_absent: a missing file is an empty original rather than an error. */
int config_file_check(struct step_context *ctx, const struct plan_step *step, const char *path, config_render_fn render,
                      bool may_be_absent);
int config_file_apply(struct step_context *ctx, const struct plan_step *step, const char *path, config_render_fn render,
                      bool may_be_absent);
int config_file_undo(struct step_context *ctx, const struct plan_step *step, const char *path);

/* The three ops of a step kind whose args carry "path" and whose work is
 * render: defines `const struct step_ops step_NAME`. */
#define DEFINE_CONFIG_FILE_STEP(name, step_kind, render, may_be_absent)                                  \
        static int name##_check(struct step_context *ctx, const struct plan_step *step) {               \
                const char *path;                                                                        \
                int r = step_arg_string(ctx, step, "path", &path);                                       \
                return r < 0 ? r : config_file_check(ctx, step, path, render, may_be_absent);            \
        }                                                                                                \
        static int name##_apply(struct step_context *ctx, const struct plan_step *step) {               \
                const char *path;                                                                        \
                int r = step_arg_string(ctx, step, "path", &path);                                       \
                return r < 0 ? r : config_file_apply(ctx, step, path, render, may_be_absent);            \
        }                                                                                                \
        static int name##_undo(struct step_context *ctx, const struct plan_step *step) {                \
                const char *path;                                                                        \
                int r = step_arg_string(ctx, step, "path", &path);                                       \
                return r < 0 ? r : config_file_undo(ctx, step, path);                                    \
        }                                                                                                \
        const struct step_ops step_##name = {                                                            \
                .kind = step_kind,                                                                       \
                .check = name##_check,                                                                   \
                .apply = name##_apply,                                                                   \
                .undo = name##_undo,                                                                     \
        }
