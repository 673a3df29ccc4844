/* SPDX-License-Identifier: GPL-2.0-or-later */
/* write-mdadm-conf: the new root's mdadm.conf names the new arrays, so that
 * the initramfs assembles them at boot (forgetting this is the classic
 * failure of a manual migration).  Every existing line is kept except ARRAY
 * records for the same UUIDs or device names, which are replaced; one
 * "ARRAY DEVICE metadata=M UUID=U name=N" line is added per array, as
 * `mdadm --detail --scan` prints it; MAILADDR is set when the plan gives
 * one, and added as "root" when the file has none, so monitoring mails
 * someone.  A missing file is created (and removed again by undo).  The
 * original is kept and restored as config-file.h describes.
 *   check: PATH holds exactly what apply renders from the original.
 *   undo:  puts the original back. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "steps/config-file.h"
#include "steps/kinds.h"

/* mdadm accepts keywords in any case, abbreviated to three letters or more. */
static bool is_keyword(const char *word, size_t len, const char *keyword) {
        return len >= 3 && len <= strlen(keyword) && strncasecmp(word, keyword, len) == 0;
}

/* Does the ARRAY record [p, end) name one of the arrays the plan writes? */
static bool names_planned_array(struct step_context *ctx, json_object *arrays, const char *p, const char *end) {
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                json_object *a = json_object_array_get_idx(arrays, i), *v;
                const char *uuid = json_object_object_get_ex(a, "uuid", &v) ? json_object_get_string(v) : NULL;
                const char *dev = json_object_object_get_ex(a, "device", &v) ? json_object_get_string(v) : NULL;

                for (const char *w = p; w < end;) {
                        while (w < end && strchr(" \t\n", *w))
                                w++;
                        const char *we = w;
                        while (we < end && !strchr(" \t\n", *we))
                                we++;
                        size_t l = (size_t) (we - w);
                        if (uuid && l == 5 + strlen(uuid) && strncasecmp(w, "uuid=", 5) == 0 &&
                            strncasecmp(w + 5, uuid, strlen(uuid)) == 0)
                                return true;
                        if (dev && l == strlen(dev) && memcmp(w, dev, l) == 0)
                                return true;
                        w = we;
                }
        }
        return false;
}

static int render(struct step_context *ctx, const struct plan_step *step, const char *original, size_t size,
                  char **ret, size_t *ret_size) {
        _cleanup_free_ char *text = NULL;
        const char *path, *mailaddr;
        json_object *arrays;
        bool have_mailaddr = false;
        size_t text_size = 0;
        FILE *f;
        int r;

        if ((r = step_arg_string(ctx, step, "path", &path)) < 0 ||
            (r = step_arg_string_optional(ctx, step, "mailaddr", &mailaddr)) < 0 ||
            (r = step_arg_array(ctx, step, "arrays", &arrays)) < 0)
                return r;

        f = open_memstream(&text, &text_size);
        if (!f)
                return step_error(ctx, errno, "Out of memory.");
        /* A record is a line with the lines that continue it (they start
         * with white space). */
        for (const char *p = strempty(original), *end = p + size; p < end;) {
                const char *e = p;
                do {
                        const char *nl = memchr(e, '\n', (size_t) (end - e));
                        e = nl ? nl + 1 : end;
                } while (e < end && (*e == ' ' || *e == '\t'));

                size_t wl = strcspn(p, " \t\n");
                if (wl > (size_t) (e - p))
                        wl = (size_t) (e - p);
                if (*p != '#' && is_keyword(p, wl, "ARRAY") && names_planned_array(ctx, arrays, p, e))
                        ; /* replaced below */
                else if (*p != '#' && is_keyword(p, wl, "MAILADDR")) {
                        have_mailaddr = true;
                        if (mailaddr)
                                fprintf(f, "MAILADDR %s\n", mailaddr);
                        else
                                fwrite(p, 1, (size_t) (e - p), f);
                } else
                        fwrite(p, 1, (size_t) (e - p), f);
                if (e == end && e > p && e[-1] != '\n')
                        fputc('\n', f);
                p = e;
        }
        if (!have_mailaddr)
                fprintf(f, "MAILADDR %s\n", mailaddr ? mailaddr : "root");

        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                struct plan_step sub = { .id = step->id, .args = json_object_array_get_idx(arrays, i) };
                const char *device, *uuid, *name, *metadata;
                if ((r = step_arg_string(ctx, &sub, "device", &device)) < 0 ||
                    (r = step_arg_string(ctx, &sub, "uuid", &uuid)) < 0 ||
                    (r = step_arg_string(ctx, &sub, "name", &name)) < 0 ||
                    (r = step_arg_string(ctx, &sub, "metadata", &metadata)) < 0) {
                        fclose(f);
                        return r;
                }
                fprintf(f, "ARRAY %s metadata=%s UUID=%s name=%s\n", device, metadata, uuid, name);
        }
        if (fclose(f) != 0)
                return step_error(ctx, errno, "Cannot render %s: %m", path);
        *ret = TAKE_PTR(text);
        *ret_size = text_size;
        return 0;
}

DEFINE_CONFIG_FILE_STEP(write_mdadm_conf, STEP_WRITE_MDADM_CONF, render, true);
