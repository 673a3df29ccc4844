/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plan in memory and on disk: string tables, destructor, JSON
 * serialisation, and the loader.  Loading is two passes: the structure is
 * checked against the format tables (plan-format.c), then the meaning:
 * unique step ids, undo iff reversible, every reference resolves, the point
 * of no return is the first step that writes the old disk, and the
 * fingerprint matches the facts.  Only then is struct plan filled, so a
 * caller never sees a half-valid plan. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "plan/plan.h"
#include "plan/plan-format.h"
#include "plan/plan-internal.h"
#include "util/fileio.h"
#include "util/sha256.h"

static const char *const strategy_table[_STRATEGY_MAX] = {
        [STRATEGY_COPY] = "copy",
        [STRATEGY_LVM] = "lvm",
        [STRATEGY_LUKS] = "luks",
};
DEFINE_STRING_TABLE(strategy, enum strategy, _STRATEGY_MAX);

/* NULL-terminated, so the format tables can use it as a value list. */
const char *const step_kind_table[_STEP_KIND_MAX + 1] = {
        [STEP_PARTITION_DISK] = "partition-disk",
        [STEP_WIPE_SIGNATURES] = "wipe-signatures",
        [STEP_MD_CREATE] = "md-create",
        [STEP_MKFS] = "mkfs",
        [STEP_MKSWAP] = "mkswap",
        [STEP_MOUNT_TARGET] = "mount-target",
        [STEP_COPY_LIVE] = "copy-live",
        [STEP_RUN_HOOKS] = "run-hooks",
        [STEP_COPY_FINAL] = "copy-final",
        [STEP_WRITE_FSTAB] = "write-fstab",
        [STEP_WRITE_CRYPTTAB] = "write-crypttab",
        [STEP_WRITE_MDADM_CONF] = "write-mdadm-conf",
        [STEP_UPDATE_INITRAMFS] = "update-initramfs",
        [STEP_INSTALL_BOOTLOADER] = "install-bootloader",
        [STEP_BOOT_ONCE] = "boot-once",
        [STEP_REBOOT] = "reboot",
        [STEP_CONFIRM_BOOT] = "confirm-boot",
        [STEP_MD_ADD] = "md-add",
        [STEP_WAIT_RESYNC] = "wait-resync",
        [STEP_VERIFY] = "verify",
        [STEP_PV_CREATE] = "pv-create",
        [STEP_VG_EXTEND] = "vg-extend",
        [STEP_PV_MOVE] = "pv-move",
        [STEP_VG_REDUCE] = "vg-reduce",
        [STEP_LUKS_CLONE] = "luks-clone",
        [STEP_INTEGRITY_FORMAT] = "integrity-format",
        [STEP_INTEGRITY_BOOT] = "integrity-boot",
        [STEP_FALLBACK_INITRAMFS] = "fallback-initramfs",
        [STEP_SWITCH_ROOT] = "switch-root",
        [_STEP_KIND_MAX] = NULL,
};
DEFINE_STRING_TABLE(step_kind, enum step_kind, _STEP_KIND_MAX);

void plan_step_done(struct plan_step *s) {
        if (!s)
                return;
        free(s->id);
        json_object_put(s->args);
        free(s->description);
        free(s->undo);
        json_object_put(s->establishes);
        *s = (struct plan_step) {};
}

struct plan *plan_free(struct plan *p) {
        if (!p)
                return NULL;
        free(p->tool_version);
        free(p->created);
        free(p->hostname);
        free(p->machine_id);
        free(p->fingerprint);
        json_object_put(p->facts);
        json_object_put(p->source);
        json_object_put(p->target);
        for (size_t i = 0; i < p->n_steps; i++)
                plan_step_done(&p->steps[i]);
        free(p->steps);
        free(p);
        return NULL;
}

const struct plan_step *plan_find_step(const struct plan *p, const char *id) {
        if (!p || !id)
                return NULL;
        for (size_t i = 0; i < p->n_steps; i++)
                if (streq(p->steps[i].id, id))
                        return &p->steps[i];
        return NULL;
}

/* ---- to JSON ---- */

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

int plan_step_to_json(const struct plan_step *s, json_object **ret) {
        json_object *o = json_object_new_object();
        if (!o)
                return -ENOMEM;
        json_object_object_add(o, "id", json_object_new_string(s->id));
        json_object_object_add(o, "kind", json_object_new_string(step_kind_to_string(s->kind)));
        json_object_object_add(o, "description", json_object_new_string(s->description));
        json_object_object_add(o, "reversible", json_object_new_boolean(s->reversible));
        json_object_object_add(o, "undo", str_or_null(s->undo));
        json_object_object_add(o, "writes_old_disk", json_object_new_boolean(s->writes_old_disk));
        json_object_object_add(o, "args", json_object_get(s->args));
        json_object_object_add(o, "establishes", json_object_get(s->establishes));
        *ret = o;
        return 0;
}

int plan_to_json(const struct plan *p, json_object **ret) {
        json_object *o, *host, *steps;
        int r;

        if (!p || !ret)
                return -EINVAL;
        o = json_object_new_object();
        host = json_object_new_object();
        steps = json_object_new_array();
        if (!o || !host || !steps) {
                json_object_put(o);
                json_object_put(host);
                json_object_put(steps);
                return -ENOMEM;
        }
        json_object_object_add(o, "format_version", json_object_new_int64(p->format_version));
        json_object_object_add(o, "tool_version", json_object_new_string(strempty(p->tool_version)));
        json_object_object_add(o, "created", json_object_new_string(strempty(p->created)));
        json_object_object_add(host, "hostname", json_object_new_string(strempty(p->hostname)));
        json_object_object_add(host, "machine_id", str_or_null(p->machine_id));
        json_object_object_add(o, "host", host);
        json_object_object_add(o, "fingerprint", json_object_new_string(strempty(p->fingerprint)));
        json_object_object_add(o, "strategy", json_object_new_string(strempty(strategy_to_string(p->strategy))));
        json_object_object_add(o, "level", json_object_new_int64(p->level));
        json_object_object_add(o, "copy_bytes", json_object_new_int64((int64_t) p->copy_bytes));
        json_object_object_add(o, "point_of_no_return",
                               p->point_of_no_return < p->n_steps ? json_object_new_string(p->steps[p->point_of_no_return].id) : NULL);
        json_object_object_add(o, "facts", json_object_get(p->facts));
        json_object_object_add(o, "source", json_object_get(p->source));
        json_object_object_add(o, "target", json_object_get(p->target));
        for (size_t i = 0; i < p->n_steps; i++) {
                json_object *s;
                r = plan_step_to_json(&p->steps[i], &s);
                if (r < 0) {
                        json_object_put(steps);
                        json_object_put(o);
                        return r;
                }
                json_object_array_add(steps, s);
        }
        json_object_object_add(o, "steps", steps);
        *ret = o;
        return 0;
}

char *plan_to_string(const struct plan *p) {
        json_object *o = NULL;
        char *s;

        if (plan_to_json(p, &o) < 0)
                return NULL;
        s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

int plan_save(const struct plan *p, const char *path) {
        _cleanup_free_ char *s = plan_to_string(p), *t = NULL;

        if (!s)
                return -ENOMEM;
        if (asprintf(&t, "%s\n", s) < 0)
                return -ENOMEM;
        return write_file_atomic(path, t, strlen(t), 0644);
}

/* ---- fingerprint ---- */

int plan_fingerprint(json_object *facts, char **ret) {
        _cleanup_free_ char *c = json_canonical(facts);
        char hex[SHA256_HEX_SIZE];

        if (!c)
                return -ENOMEM;
        sha256_hex(c, strlen(c), hex);
        if (asprintf(ret, "sha256:%s", hex) < 0)
                return -ENOMEM;
        return 0;
}

/* ---- semantic checks ---- */

static int fail(char **ret_error, const char *format, ...) _printf_(2, 3);
static int fail(char **ret_error, const char *format, ...) {
        va_list ap;
        int r;

        if (!ret_error)
                return -EBADMSG;
        va_start(ap, format);
        r = vasprintf(ret_error, format, ap);
        va_end(ap);
        if (r < 0) {
                *ret_error = NULL;
                return -ENOMEM;
        }
        return -EBADMSG;
}



/* Finds in array an object whose field key equals value. */

struct ref_context {
        json_object *target;
        json_object *steps;
};

static const char *ref_collection(enum field_ref ref, const char **ret_key) {
        switch (ref) {
        case REF_DISK:       *ret_key = "device"; return "disks";
        case REF_ARRAY:      *ret_key = "name"; return "arrays";
        case REF_FILESYSTEM: *ret_key = "name"; return "filesystems";
        case REF_CRYPT:      *ret_key = "name"; return "crypts";
        case REF_VG:         *ret_key = "name"; return "volume_groups";
        default:             return NULL;
        }
}

static int check_refs(json_object *v, const struct format_table *t, const char *path,
                      const struct ref_context *c, char **ret_error);

static int check_field_refs(json_object *fv, const struct format_field *f, enum field_type type,
                            const char *path, const struct ref_context *c, char **ret_error) {
        int r;

        if (!fv || json_object_is_type(fv, json_type_null))
                return 0;
        if (type == FIELD_OBJECT)
                return check_refs(fv, f->sub, path, c, ret_error);
        if (type == FIELD_ARRAY) {
                for (size_t i = 0; i < json_object_array_length(fv); i++) {
                        _cleanup_free_ char *p = NULL;
                        if (asprintf(&p, "%s[%zu]", path, i) < 0)
                                return -ENOMEM;
                        r = check_field_refs(json_object_array_get_idx(fv, i), f, f->item, p, c, ret_error);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        if (type != FIELD_STRING || f->ref == REF_NONE)
                return 0;

        const char *s = json_object_get_string(fv);
        if (f->ref == REF_STEP) {
                if (!pj_find(c->steps, "id", s))
                        return fail(ret_error, "%s: no step \"%s\" in steps", path, s);
                return 0;
        }
        const char *key = NULL, *coll = ref_collection(f->ref, &key);
        if (!pj_find(pj_get(c->target, coll), key, s))
                return fail(ret_error, "%s: no %s \"%s\" in target.%s", path,
                            f->ref == REF_DISK ? "disk" : f->ref == REF_ARRAY ? "array" :
                            f->ref == REF_FILESYSTEM ? "filesystem" : f->ref == REF_CRYPT ? "crypt" : "volume group",
                            s, coll);
        return 0;
}

static int check_refs(json_object *v, const struct format_table *t, const char *path,
                      const struct ref_context *c, char **ret_error) {
        int r;

        for (const struct format_field *f = t->fields; f->name; f++) {
                _cleanup_free_ char *p = NULL;
                json_object *fv = pj_get(v, f->name);

                if (asprintf(&p, "%s%s%s", path, *path ? "." : "", f->name) < 0)
                        return -ENOMEM;
                if (f->type == FIELD_ARGS) {
                        const struct format_table *at = format_args_table(step_kind_from_string(pj_str(v, "kind")));
                        if (at) {
                                r = check_refs(fv, at, p, c, ret_error);
                                if (r < 0)
                                        return r;
                        }
                        continue;
                }
                r = check_field_refs(fv, f, f->type, p, c, ret_error);
                if (r < 0)
                        return r;
        }

        /* A member names a partition: it must exist on that disk. */
        if (pj_get(v, "partno") && pj_str(v, "disk") && json_object_is_type(pj_get(v, "partno"), json_type_int)) {
                json_object *disk = pj_find(pj_get(c->target, "disks"), "device", pj_str(v, "disk"));
                int64_t partno = json_object_get_int64(pj_get(v, "partno"));
                bool found = false;
                json_object *parts = pj_get(disk, "partitions");
                for (size_t i = 0; i < json_object_array_length(parts); i++)
                        if (json_object_get_int64(pj_get(json_object_array_get_idx(parts, i), "partno")) == partno)
                                found = true;
                if (!found)
                        return fail(ret_error, "%s.partno: no partition %" PRIi64 " on disk \"%s\" in target.disks",
                                    path, partno, pj_str(v, "disk"));
        }

        /* Where an object names an array and also gives its uuid or device,
         * they must agree with the target, or exec would act on one and
         * check the other. */
        const char *array = pj_str(v, "array");
        if (array) {
                json_object *a = pj_find(pj_get(c->target, "arrays"), "name", array);
                const char *uuid = pj_str(v, "uuid"), *device = pj_str(v, "device");
                bool names_array_uuid = streq(t->name, "args-md-create") || streq(t->name, "args-md-add") ||
                                        streq(t->name, "array-ref") || streq(t->name, "mdadm-conf-array");
                if (a && uuid && names_array_uuid && !streq(uuid, strempty(pj_str(a, "uuid"))))
                        return fail(ret_error, "%s.uuid: \"%s\" is not the uuid of target array \"%s\"", path, uuid, array);
                if (a && device && startswith(device, "/dev/md/") && !streq(device, strempty(pj_str(a, "device"))))
                        return fail(ret_error, "%s.device: \"%s\" is not the device of target array \"%s\"", path, device, array);
        }
        return 0;
}

static int check_plan(json_object *root, char **ret_error) {
        json_object *steps = pj_get(root, "steps"), *target = pj_get(root, "target");
        const char *ponr = pj_str(root, "point_of_no_return");
        ssize_t first_old = -1;
        int r;

        for (size_t i = 0; i < json_object_array_length(steps); i++) {
                json_object *s = json_object_array_get_idx(steps, i);
                const char *id = pj_str(s, "id");
                for (size_t j = 0; j < i; j++)
                        if (streq(id, pj_str(json_object_array_get_idx(steps, j), "id")))
                                return fail(ret_error, "steps[%zu].id: duplicate id \"%s\" (first at steps[%zu])", i, id, j);
                bool reversible = json_object_get_boolean(pj_get(s, "reversible"));
                bool has_undo = !json_object_is_type(pj_get(s, "undo"), json_type_null);
                if (reversible != has_undo)
                        return fail(ret_error, "steps[%zu].undo: must be %s when reversible is %s", i,
                                    reversible ? "a sentence" : "null", reversible ? "true" : "false");
                if (first_old < 0 && json_object_get_boolean(pj_get(s, "writes_old_disk")))
                        first_old = (ssize_t) i;
        }

        /* Names within each target collection are unique. */
        static const struct { const char *coll, *key; } uniq[] = {
                { "disks", "device" }, { "arrays", "name" }, { "filesystems", "name" },
                { "crypts", "name" }, { "volume_groups", "name" },
        };
        for (size_t u = 0; u < ELEMENTSOF(uniq); u++) {
                json_object *a = pj_get(target, uniq[u].coll);
                for (size_t i = 0; i < json_object_array_length(a); i++)
                        for (size_t j = 0; j < i; j++)
                                if (streq(pj_str(json_object_array_get_idx(a, i), uniq[u].key),
                                          pj_str(json_object_array_get_idx(a, j), uniq[u].key)))
                                        return fail(ret_error, "target.%s[%zu].%s: duplicate \"%s\"", uniq[u].coll, i,
                                                    uniq[u].key, pj_str(json_object_array_get_idx(a, i), uniq[u].key));
        }

        struct ref_context c = { .target = target, .steps = steps };
        r = check_refs(root, &format_plan, "", &c, ret_error);
        if (r < 0)
                return r;

        if (first_old < 0 && ponr)
                return fail(ret_error, "point_of_no_return: \"%s\", but no step writes the old disk", ponr);
        if (first_old >= 0) {
                const char *first_id = pj_str(json_object_array_get_idx(steps, (size_t) first_old), "id");
                if (!streq_ptr(ponr, first_id))
                        return fail(ret_error, "point_of_no_return: must be \"%s\", the first step with writes_old_disk", first_id);
        }

        _cleanup_free_ char *fp = NULL;
        r = plan_fingerprint(pj_get(root, "facts"), &fp);
        if (r < 0)
                return r;
        if (!streq(fp, pj_str(root, "fingerprint")))
                return fail(ret_error, "fingerprint: does not match facts (computed %s); the plan was edited", fp);
        return 0;
}

/* ---- load ---- */

static char *dup_str(json_object *o, const char *key) {
        const char *s = pj_str(o, key);
        return s ? strdup(s) : NULL;
}

int plan_from_json(json_object *root, struct plan **ret_plan, char **ret_error) {
        _cleanup_plan_free_ struct plan *p = NULL;
        int r;

        r = format_validate(root, &format_plan, "", ret_error);
        if (r < 0)
                return r;
        r = check_plan(root, ret_error);
        if (r < 0)
                return r;

        p = calloc(1, sizeof(*p));
        if (!p)
                return -ENOMEM;
        json_object *steps = pj_get(root, "steps"), *host = pj_get(root, "host");
        p->format_version = (unsigned) json_object_get_int64(pj_get(root, "format_version"));
        p->tool_version = dup_str(root, "tool_version");
        p->created = dup_str(root, "created");
        p->hostname = dup_str(host, "hostname");
        p->machine_id = dup_str(host, "machine_id");
        p->fingerprint = dup_str(root, "fingerprint");
        p->facts = json_object_get(pj_get(root, "facts"));
        p->strategy = strategy_from_string(pj_str(root, "strategy"));
        p->level = (unsigned) json_object_get_int64(pj_get(root, "level"));
        p->copy_bytes = (uint64_t) json_object_get_int64(pj_get(root, "copy_bytes"));
        p->source = json_object_get(pj_get(root, "source"));
        p->target = json_object_get(pj_get(root, "target"));
        p->n_steps = json_object_array_length(steps);
        p->steps = calloc(p->n_steps, sizeof(struct plan_step));
        if (!p->steps) {
                p->n_steps = 0;
                return -ENOMEM;
        }
        p->point_of_no_return = p->n_steps;
        for (size_t i = 0; i < p->n_steps; i++) {
                json_object *s = json_object_array_get_idx(steps, i);
                struct plan_step *st = &p->steps[i];
                st->id = dup_str(s, "id");
                st->kind = step_kind_from_string(pj_str(s, "kind"));
                st->args = json_object_get(pj_get(s, "args"));
                st->description = dup_str(s, "description");
                st->reversible = json_object_get_boolean(pj_get(s, "reversible"));
                st->undo = dup_str(s, "undo");
                st->establishes = json_object_get(pj_get(s, "establishes"));
                st->writes_old_disk = json_object_get_boolean(pj_get(s, "writes_old_disk"));
                if (!st->id || !st->description || (st->reversible && !st->undo))
                        return -ENOMEM;
                if (st->writes_old_disk && p->point_of_no_return == p->n_steps)
                        p->point_of_no_return = i;
        }
        if (!p->tool_version || !p->created || !p->hostname || !p->fingerprint)
                return -ENOMEM;
        *ret_plan = TAKE_PTR(p);
        return 0;
}

int plan_load_string(const char *text, size_t len, struct plan **ret_plan, char **ret_error) {
        json_tokener *tok;
        json_object *root;
        int r;

        if (!text || !ret_plan)
                return -EINVAL;
        if (len > INT32_MAX)
                return fail(ret_error, "(document): too large");
        if (memchr(text, 0, len))
                return fail(ret_error, "(document): contains a NUL byte");

        tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        root = json_tokener_parse_ex(tok, text, (int) len);
        enum json_tokener_error jerr = json_tokener_get_error(tok);
        size_t end = json_tokener_get_parse_end(tok);
        if (!root && jerr == json_tokener_continue)
                jerr = json_tokener_error_parse_eof;
        json_tokener_free(tok);
        if (jerr != json_tokener_success) {
                json_object_put(root);
                return fail(ret_error, "(document): not valid JSON at byte %zu: %s", end, json_tokener_error_desc(jerr));
        }
        for (size_t i = end; i < len; i++)
                if (!strchr(" \t\r\n", text[i])) {
                        json_object_put(root);
                        return fail(ret_error, "(document): trailing data at byte %zu", i);
                }

        r = plan_from_json(root, ret_plan, ret_error);
        json_object_put(root);
        return r;
}

int plan_load_file(const char *path, struct plan **ret_plan, char **ret_error) {
        _cleanup_free_ char *data = NULL, *err = NULL;
        size_t size;
        int r;

        r = read_full_file(path, 64 * 1024 * 1024, &data, &size);
        if (r < 0)
                return r;
        r = plan_load_string(data, size, ret_plan, &err);
        if (r == -EBADMSG && ret_error && err) {
                if (asprintf(ret_error, "%s: %s", path, err) < 0)
                        return -ENOMEM;
        }
        return r;
}
