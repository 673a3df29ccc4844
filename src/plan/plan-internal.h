/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Shared between the files of src/plan; not part of its API. */

#include "plan/plan.h"

/* Read-only access to validated plan JSON: absent or mistyped fields read
 * as NULL / 0, so callers need no checks for what the loader guaranteed. */
static inline json_object *pj_get(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!o || !json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

static inline const char *pj_str(json_object *o, const char *key) {
        json_object *v = pj_get(o, key);
        return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

static inline uint64_t pj_u64(json_object *o, const char *key) {
        json_object *v = pj_get(o, key);
        return v && json_object_is_type(v, json_type_int) ? (uint64_t) json_object_get_int64(v) : 0;
}

/* The element of array whose field key equals value, or NULL. */
static inline json_object *pj_find(json_object *array, const char *key, const char *value) {
        for (size_t i = 0; array && i < json_object_array_length(array); i++) {
                json_object *e = json_object_array_get_idx(array, i);
                const char *s = pj_str(e, key);
                if (s && value && strcmp(s, value) == 0)
                        return e;
        }
        return NULL;
}

void plan_step_done(struct plan_step *s);
int plan_step_to_json(const struct plan_step *s, json_object **ret);

/* "sha256:HEX" of the canonical JSON of facts. */
int plan_fingerprint(json_object *facts, char **ret);

/* Validates a parsed document and builds the plan (see plan_load_string). */
int plan_from_json(json_object *root, struct plan **ret_plan, char **ret_error);

/* md geometry, as mdadm 4 computes it for metadata 1.2 (bytes). */
uint64_t plan_md_data_offset(uint64_t devsize, uint64_t chunk);
uint64_t plan_md_array_size(unsigned level, unsigned n, uint64_t member);

/* --integrity: the sector size and tag size of every dm-integrity member,
 * and a lower bound of the bytes such a member provides on a partition of
 * size bytes (what md sees as the member's size). */
#define PLAN_INTEGRITY_SECTOR 4096
#define PLAN_INTEGRITY_TAG 4
uint64_t plan_integrity_provided(uint64_t size);

/* The canonical facts a plan for these disks (disks[0]: the old one)
 * depends on. */
int plan_facts_json(const struct facts *f, const struct blockdev *const *disks, size_t n_disks, json_object **ret);
