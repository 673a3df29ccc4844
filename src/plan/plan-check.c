/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Is a saved plan still about this machine?  The facts are inspected again,
 * reduced to the same canonical form for the same disks, and compared: the
 * fingerprint decides, and a field-by-field comparison says what changed,
 * in words an administrator can act on. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "plan/plan.h"
#include "plan/plan-internal.h"
#include "util/strutil.h"




static bool strv_json_has(json_object *a, const char *s) {
        for (size_t i = 0; i < json_object_array_length(a); i++)
                if (streq_ptr(json_object_get_string(json_object_array_get_idx(a, i)), s))
                        return true;
        return false;
}

static void say(FILE *f, size_t *n, const char *format, ...) _printf_(3, 4);
static void say(FILE *f, size_t *n, const char *format, ...) {
        va_list ap;
        fputs(*n ? "\n" : "", f);
        va_start(ap, format);
        vfprintf(f, format, ap);
        va_end(ap);
        (*n)++;
}

static void diff_devices(FILE *out, size_t *n, json_object *was, json_object *now) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];

        for (size_t i = 0; i < json_object_array_length(was); i++) {
                json_object *w = json_object_array_get_idx(was, i);
                const char *id = pj_str(w, "id");
                json_object *c = pj_find(now, "id", id);
                if (!c) {
                        say(out, n, "%s: no longer present", id);
                        continue;
                }
                int64_t ws = json_object_get_int64(pj_get(w, "size")), cs = json_object_get_int64(pj_get(c, "size"));
                if (ws != cs)
                        say(out, n, "%s: size %s -> %s", id, format_bytes(a, sizeof a, (uint64_t) ws), format_bytes(b, sizeof b, (uint64_t) cs));
                static const char *const fields[] = { "type", "table", "table_id", "fstype", "fs_uuid" };
                for (size_t k = 0; k < ELEMENTSOF(fields); k++)
                        if (!streq_ptr(pj_str(w, fields[k]), pj_str(c, fields[k])))
                                say(out, n, "%s: %s %s -> %s", id, fields[k], strna(pj_str(w, fields[k])), strna(pj_str(c, fields[k])));
                static const char *const sizes[] = { "logical_sector_size", "physical_sector_size" };
                for (size_t k = 0; k < ELEMENTSOF(sizes); k++)
                        if (json_object_get_int64(pj_get(w, sizes[k])) != json_object_get_int64(pj_get(c, sizes[k])))
                                say(out, n, "%s: %s %" PRIi64 " -> %" PRIi64, id, sizes[k],
                                    json_object_get_int64(pj_get(w, sizes[k])), json_object_get_int64(pj_get(c, sizes[k])));
                json_object *ws_ = pj_get(w, "signatures"), *cs_ = pj_get(c, "signatures");
                for (size_t k = 0; k < json_object_array_length(cs_); k++) {
                        const char *s = json_object_get_string(json_object_array_get_idx(cs_, k));
                        if (!strv_json_has(ws_, s))
                                say(out, n, "a new signature %s appeared on %s", s, id);
                }
                for (size_t k = 0; k < json_object_array_length(ws_); k++) {
                        const char *s = json_object_get_string(json_object_array_get_idx(ws_, k));
                        if (!strv_json_has(cs_, s))
                                say(out, n, "signature %s disappeared from %s", s, id);
                }
                json_object *wh = pj_get(w, "holders"), *ch = pj_get(c, "holders");
                for (size_t k = 0; k < json_object_array_length(ch); k++) {
                        const char *s = json_object_get_string(json_object_array_get_idx(ch, k));
                        if (!strv_json_has(wh, s))
                                say(out, n, "%s is now held by %s", id, s);
                }
                for (size_t k = 0; k < json_object_array_length(wh); k++) {
                        const char *s = json_object_get_string(json_object_array_get_idx(wh, k));
                        if (!strv_json_has(ch, s))
                                say(out, n, "%s is no longer held by %s", id, s);
                }
        }
        for (size_t i = 0; i < json_object_array_length(now); i++) {
                json_object *c = json_object_array_get_idx(now, i);
                if (!pj_find(was, "id", pj_str(c, "id")))
                        say(out, n, "new device %s (%s%s%s)", pj_str(c, "id"), strna(pj_str(c, "type")),
                            pj_str(c, "fstype") ? ", " : "", strempty(pj_str(c, "fstype")));
        }
}

static void diff_keyed(FILE *out, size_t *n, const char *what, const char *key, json_object *was, json_object *now) {
        for (size_t i = 0; i < json_object_array_length(was); i++) {
                json_object *w = json_object_array_get_idx(was, i);
                json_object *c = pj_find(now, key, pj_str(w, key));
                if (!c)
                        say(out, n, "%s %s: gone", what, pj_str(w, key));
                else if (!json_object_equal(w, c))
                        say(out, n, "%s %s: changed from %s to %s", what, pj_str(w, key),
                            json_object_to_json_string_ext(w, JSON_C_TO_STRING_PLAIN),
                            json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN));
        }
        for (size_t i = 0; i < json_object_array_length(now); i++) {
                json_object *c = json_object_array_get_idx(now, i);
                if (!pj_find(was, key, pj_str(c, key)))
                        say(out, n, "new %s %s", what, pj_str(c, key));
        }
}

int plan_check_facts(const struct plan *p, const struct facts *now, char **ret_error) {
        const struct blockdev *disks[64];
        size_t n_disks = 0, n = 0;
        json_object *devs = pj_get(p->facts, "devices"), *cur = NULL;
        _cleanup_free_ char *fp = NULL, *text = NULL;
        size_t text_size = 0;
        FILE *out;
        int r;

        if (!p || !now)
                return -EINVAL;

        out = open_memstream(&text, &text_size);
        if (!out)
                return -ENOMEM;

        /* The old disk first, as when planning, then the targets. */
        json_object *tdisks = pj_get(p->target, "disks");
        for (size_t i = 0; i < json_object_array_length(tdisks) && n_disks < ELEMENTSOF(disks); i++) {
                const char *id = pj_str(json_object_array_get_idx(tdisks, i), "device");
                const struct blockdev *d = facts_find_device(now, id);
                if (!d)
                        say(out, &n, "disk %s: no longer present", id);
                else
                        disks[n_disks++] = d;
        }

        r = plan_facts_json(now, disks, n_disks, &cur);
        if (r < 0) {
                fclose(out);
                return r;
        }
        r = plan_fingerprint(cur, &fp);
        if (r < 0) {
                json_object_put(cur);
                fclose(out);
                return r;
        }
        if (n == 0 && streq_ptr(fp, p->fingerprint) &&
            !(p->machine_id && now->machine_id && !streq(p->machine_id, now->machine_id))) {
                json_object_put(cur);
                fclose(out);
                return 0;
        }

        if (p->machine_id && now->machine_id && !streq(p->machine_id, now->machine_id))
                say(out, &n, "machine-id %s -> %s: this is another machine", p->machine_id, now->machine_id);
        static const char *const scalars[] = { "firmware", "boot_loader", "initramfs" };
        for (size_t k = 0; k < ELEMENTSOF(scalars); k++)
                if (!streq_ptr(pj_str(p->facts, scalars[k]), pj_str(cur, scalars[k])))
                        say(out, &n, "%s: %s -> %s", scalars[k], strna(pj_str(p->facts, scalars[k])), strna(pj_str(cur, scalars[k])));
        diff_devices(out, &n, devs, pj_get(cur, "devices"));
        diff_keyed(out, &n, "mount", "target", pj_get(p->facts, "mounts"), pj_get(cur, "mounts"));
        diff_keyed(out, &n, "swap", "device", pj_get(p->facts, "swaps"), pj_get(cur, "swaps"));
        diff_keyed(out, &n, "volume group", "name", pj_get(p->facts, "lvm"), pj_get(cur, "lvm"));
        diff_keyed(out, &n, "LUKS container", "device", pj_get(p->facts, "luks"), pj_get(cur, "luks"));
        if (n == 0)
                say(out, &n, "the inspected facts differ (fingerprint %s, now %s)", p->fingerprint, fp);
        json_object_put(cur);
        if (fclose(out) != 0)
                return -ENOMEM;
        if (ret_error)
                *ret_error = TAKE_PTR(text);
        return -ESTALE;
}
