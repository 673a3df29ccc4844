/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the step kinds: logging with the step's id, errors
 * recorded for the journal, dry-run aware file writing, argument access. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps/step.h"
#include "util/fault.h"
#include "util/fileio.h"

static int step_vlog(const struct step_context *ctx, enum log_level level, int error, const char *format, va_list ap,
                     char **ret_msg) {
        _cleanup_free_ char *msg = NULL;
        int saved = errno;

        errno = error < 0 ? -error : error; /* for %m */
        if (vasprintf(&msg, format, ap) < 0)
                return log_oom();
        errno = saved;
        int r = log_internal(level, error, "%s%s%s", ctx && ctx->step ? ctx->step->id : "",
                             ctx && ctx->step ? ": " : "", msg);
        if (ret_msg)
                *ret_msg = TAKE_PTR(msg);
        return r;
}

int step_log(const struct step_context *ctx, enum log_level level, int error, const char *format, ...) {
        va_list ap;
        va_start(ap, format);
        int r = step_vlog(ctx, level, error, format, ap, NULL);
        va_end(ap);
        return r;
}

int step_error(struct step_context *ctx, int error, const char *format, ...) {
        char *msg = NULL;
        va_list ap;

        va_start(ap, format);
        int r = step_vlog(ctx, LOG_LEVEL_ERROR, error, format, ap, &msg);
        va_end(ap);
        if (ctx && msg) {
                free(ctx->error);
                ctx->error = msg;
        } else
                free(msg);
        return r;
}

bool step_interrupted(const struct step_context *ctx) {
        return ctx && ctx->interrupted && *ctx->interrupted;
}

void step_progress(const struct step_context *ctx, uint64_t done, uint64_t total) {
        if (ctx && ctx->progress)
                ctx->progress(ctx, done, total);
        fault_progress(done, total);
}

int step_write_file(struct step_context *ctx, const char *path, const void *data, size_t size, mode_t mode) {
        int r;

        if (ctx->dry_run) {
                printf("would write: %s (%zu bytes, mode %04o)\n", path, size, (unsigned) mode);
                fwrite(data, 1, size, stdout);
                if (size > 0 && ((const char *) data)[size - 1] != '\n')
                        putchar('\n');
                return 0;
        }
        r = write_file_atomic(path, data, size, mode);
        if (r < 0)
                return step_error(ctx, r, "Cannot write %s: %m", path);
        fault_action_done(path);
        return 0;
}

static int arg_get(struct step_context *ctx, const struct plan_step *step, const char *key, json_type type,
                   bool optional, json_object **ret) {
        json_object *v = NULL;

        if (!step->args || !json_object_object_get_ex(step->args, key, &v) || !v) {
                if (optional) {
                        *ret = NULL;
                        return 0;
                }
                return step_error(ctx, EBADMSG, "The plan gives no argument '%s' to step '%s'.", key, step->id);
        }
        if (!json_object_is_type(v, type))
                return step_error(ctx, EBADMSG, "Argument '%s' of step '%s' must be a %s.", key, step->id,
                                  json_type_to_name(type));
        *ret = v;
        return 0;
}

int step_arg_string(struct step_context *ctx, const struct plan_step *step, const char *key, const char **ret) {
        json_object *v;
        int r = arg_get(ctx, step, key, json_type_string, false, &v);
        if (r < 0)
                return r;
        *ret = json_object_get_string(v);
        return 0;
}

int step_arg_string_optional(struct step_context *ctx, const struct plan_step *step, const char *key, const char **ret) {
        json_object *v;
        int r = arg_get(ctx, step, key, json_type_string, true, &v);
        if (r < 0)
                return r;
        *ret = v ? json_object_get_string(v) : NULL;
        return 0;
}

int step_arg_uint64(struct step_context *ctx, const struct plan_step *step, const char *key, uint64_t *ret) {
        json_object *v;
        int r = arg_get(ctx, step, key, json_type_int, false, &v);
        if (r < 0)
                return r;
        if (json_object_get_int64(v) < 0)
                return step_error(ctx, EBADMSG, "Argument '%s' of step '%s' must not be negative.", key, step->id);
        /* json-c keeps integers above INT64_MAX as unsigned */
        *ret = json_object_get_uint64(v);
        return 0;
}

int step_arg_bool(struct step_context *ctx, const struct plan_step *step, const char *key, bool def, bool *ret) {
        json_object *v;
        int r = arg_get(ctx, step, key, json_type_boolean, true, &v);
        if (r < 0)
                return r;
        *ret = v ? json_object_get_boolean(v) : def;
        return 0;
}

int step_arg_array(struct step_context *ctx, const struct plan_step *step, const char *key, json_object **ret) {
        return arg_get(ctx, step, key, json_type_array, false, ret);
}
