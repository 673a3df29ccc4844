/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Internal to src/plan: the description of the plan's JSON format, from
 * which both the loader's validation and the JSON Schema in plans/ come, so
 * the two cannot drift apart. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

enum field_type {
        FIELD_STRING,
        FIELD_UINT,             /* JSON integer >= 0 */
        FIELD_BOOL,
        FIELD_OBJECT,           /* described by .sub */
        FIELD_ARRAY,            /* items of type .item (objects: .sub) */
        FIELD_ARGS,             /* a step's args: the table is chosen by its kind */
};

enum {
        F_REQUIRED = 1 << 0,
        F_NULLABLE = 1 << 1,
};

/* What a string names, checked by the loader against the target layout. */
enum field_ref {
        REF_NONE,
        REF_DISK,               /* target.disks[].device */
        REF_ARRAY,              /* target.arrays[].name */
        REF_FILESYSTEM,         /* target.filesystems[].name */
        REF_CRYPT,              /* target.crypts[].name */
        REF_VG,                 /* target.volume_groups[].name */
        REF_STEP,               /* steps[].id */
};

struct format_table;

struct format_field {
        const char *name;
        enum field_type type;
        unsigned flags;
        const char *doc;
        const struct format_table *sub;
        enum field_type item;
        const char *const *values;      /* strings: allowed values, NULL-terminated */
        const int64_t *int_values;      /* integers: allowed values, terminated by -1 */
        const char *pattern;            /* strings: POSIX ERE that is also an ECMA-262 regex */
        const char *not_pattern;        /* strings: must NOT match (sdX names) */
        int64_t min, max;               /* integers, when max > 0 */
        unsigned min_items;
        enum field_ref ref;
};

struct format_table {
        const char *name;               /* $defs name in the schema */
        const char *doc;
        const struct format_field *fields;
};

extern const struct format_table format_plan;

/* The args table of a step kind (index: enum step_kind). */
const struct format_table *format_args_table(int kind);

/* Validates v against table t; on error returns -EBADMSG and a message
 * "PATH: what is wrong" in *ret_error. */
int format_validate(json_object *v, const struct format_table *t, const char *path, char **ret_error);

/* The JSON Schema (draft 2020-12) of the whole plan. */
int format_schema(json_object **ret);

/* Canonical serialisation (keys sorted, no whitespace) used for the
 * fingerprint.  Caller frees. */
char *json_canonical(json_object *v);
extern const char *const step_kind_table[];
