/* SPDX-License-Identifier: GPL-2.0-or-later */
/* write-crypttab: points each migrated crypttab entry (found by its name,
 * the first field) at the LUKS container cloned onto the array, by
 * replacing the second field only: key file, options, comments, spacing and
 * the other entries stay byte for byte.  The original is kept and restored
 * as config-file.h describes.
 *   check: PATH holds exactly what apply renders from the original.
 *   undo:  puts the original back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps/config-file.h"
#include "steps/kinds.h"

static const char WS[] = " \t";

/* In line [p, end): the span of field n (0-based), or false. */
static bool field_span(const char *p, const char *end, unsigned n, const char **ret_start, const char **ret_end) {
        for (unsigned i = 0;; i++) {
                while (p < end && strchr(WS, *p))
                        p++;
                if (p >= end || *p == '#')
                        return false;
                const char *s = p;
                while (p < end && !strchr(WS, *p))
                        p++;
                if (i == n) {
                        *ret_start = s;
                        *ret_end = p;
                        return true;
                }
        }
}

static int render(struct step_context *ctx, const struct plan_step *step, const char *original, size_t size,
                  char **ret, size_t *ret_size) {
        _cleanup_free_ char *text = NULL;
        json_object *entries;
        const char *path;
        size_t text_size = 0;
        FILE *f;
        int r;

        if ((r = step_arg_string(ctx, step, "path", &path)) < 0 || (r = step_arg_array(ctx, step, "entries", &entries)) < 0)
                return r;
        size_t n = json_object_array_length(entries);
        _cleanup_free_ bool *found = calloc(n + 1, sizeof(bool));
        if (!found)
                return step_error(ctx, ENOMEM, "Out of memory.");

        f = open_memstream(&text, &text_size);
        if (!f)
                return step_error(ctx, errno, "Out of memory.");
        for (const char *p = strempty(original), *end = p + size; p < end;) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *eol = nl ? nl : end;
                const char *n0, *n1, *s0, *s1;
                bool replaced = false;

                if (field_span(p, eol, 0, &n0, &n1) && field_span(p, eol, 1, &s0, &s1))
                        for (size_t i = 0; i < n; i++) {
                                struct plan_step sub = { .id = step->id, .args = json_object_array_get_idx(entries, i) };
                                const char *name, *new_source;
                                if ((r = step_arg_string(ctx, &sub, "name", &name)) < 0 ||
                                    (r = step_arg_string(ctx, &sub, "new_source", &new_source)) < 0) {
                                        fclose(f);
                                        return r;
                                }
                                if (strlen(name) != (size_t) (n1 - n0) || memcmp(name, n0, (size_t) (n1 - n0)) != 0)
                                        continue;
                                fprintf(f, "%.*s%s%.*s", (int) (s0 - p), p, new_source, (int) (eol - s1), s1);
                                found[i] = replaced = true;
                                break;
                        }
                if (!replaced)
                        fwrite(p, 1, (size_t) (eol - p), f);
                if (nl)
                        fputc('\n', f);
                p = nl ? nl + 1 : end;
        }
        if (fclose(f) != 0)
                return step_error(ctx, errno, "Cannot render %s: %m", path);

        for (size_t i = 0; i < n; i++)
                if (!found[i]) {
                        const char *name = json_object_get_string(
                                json_object_object_get(json_object_array_get_idx(entries, i), "name"));
                        return step_error(ctx, ENOENT, "%s has no entry named %s; the plan does not fit this file.", path,
                                          strna(name));
                }
        *ret = TAKE_PTR(text);
        *ret_size = text_size;
        return 0;
}

DEFINE_CONFIG_FILE_STEP(write_crypttab, STEP_WRITE_CRYPTTAB, render, false);
