/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* The migration plan: what `rootraid plan` writes, `show` prints and
 * `apply` executes.  On disk it is a JSON document (schema in
 * plans/rootraid-plan.schema.json); in memory a struct plan whose steps keep
 * their arguments as json-c objects, interpreted by each step kind in
 * src/steps/. */

#include <json-c/json.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#include "inspect/model.h"
#include "util/macro.h"

#define PLAN_FORMAT_VERSION 1

enum strategy {
        STRATEGY_COPY,           /* plain partitions: build, copy, switch root */
        STRATEGY_LVM,            /* root on LVM: new PV, pvmove, old PV leaves */
        STRATEGY_LUKS,           /* root on LUKS: header cloned onto the array */
        _STRATEGY_MAX,
        _STRATEGY_INVALID = -EINVAL,
};

/* Every step kind the executor knows.  The names (step_kind_to_string) are
 * the "kind" values of the JSON plan and must never change meaning. */
enum step_kind {
        STEP_PARTITION_DISK,     /* write a partition table (libfdisk) */
        STEP_WIPE_SIGNATURES,    /* remove stale signatures from a device */
        STEP_MD_CREATE,          /* mdadm --create, old disk as "missing" */
        STEP_MKFS,               /* make a filesystem, same type and label */
        STEP_MKSWAP,
        STEP_MOUNT_TARGET,       /* mount the new filesystems under /run/rootraid/ */
        STEP_COPY_LIVE,          /* first copy, with change tracking */
        STEP_RUN_HOOKS,          /* hooks of one phase */
        STEP_COPY_FINAL,         /* final sync of what changed */
        STEP_WRITE_FSTAB,
        STEP_WRITE_CRYPTTAB,
        STEP_WRITE_MDADM_CONF,
        STEP_UPDATE_INITRAMFS,   /* regenerate and verify the initramfs */
        STEP_INSTALL_BOOTLOADER, /* grub-install / ESP + efibootmgr, grub config */
        STEP_BOOT_ONCE,          /* one-time boot entry into the new root */
        STEP_REBOOT,
        STEP_CONFIRM_BOOT,       /* check we run from the array, make it default */
        STEP_MD_ADD,             /* mdadm --add the old disk's partitions */
        STEP_WAIT_RESYNC,
        STEP_VERIFY,
        STEP_PV_CREATE,          /* lvm strategy */
        STEP_VG_EXTEND,
        STEP_PV_MOVE,
        STEP_VG_REDUCE,
        STEP_LUKS_CLONE,         /* luks strategy: clone header, open with volume key */
        STEP_INTEGRITY_FORMAT,   /* --integrity: dm-integrity superblock on a member, opened */
        STEP_INTEGRITY_BOOT,     /* --integrity: the boot chain opens the members */
        STEP_FALLBACK_INITRAMFS, /* LVM in LUKS: the running /boot's images boot the moved root */
        STEP_SWITCH_ROOT,        /* --switch soft-reboot: systemd soft-reboot into the new root */
        _STEP_KIND_MAX,
        _STEP_KIND_INVALID = -EINVAL,
};

struct plan_step {
        char *id;                /* unique within the plan, e.g. "create-md0" */
        enum step_kind kind;
        json_object *args;       /* owned; schema depends on kind */
        char *description;       /* one sentence for people */
        bool reversible;
        char *undo;              /* how it is undone, for people; NULL when not reversible */
        json_object *establishes;/* owned; the state that holds once done, checked on resume */
        bool writes_old_disk;    /* first such step is the point of no return */
};

struct plan {
        unsigned format_version;
        char *tool_version;
        char *created;           /* RFC 3339 UTC */
        char *hostname;
        char *machine_id;
        char *fingerprint;       /* "sha256:..." of the canonical facts below */
        json_object *facts;      /* owned; the facts the plan depends on */
        enum strategy strategy;
        unsigned level;          /* 1, 5, 6, 10 */
        json_object *source;     /* owned; today's layout */
        json_object *target;     /* owned; the layout after migration */
        struct plan_step *steps;
        size_t n_steps;
        uint64_t copy_bytes;     /* data the copy steps move */
        size_t point_of_no_return; /* index of the first step writing the old disk; n_steps if none */
};

DECLARE_STRING_TABLE(strategy, enum strategy);
DECLARE_STRING_TABLE(step_kind, enum step_kind);

struct plan *plan_free(struct plan *p);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct plan *, plan_free);
#define _cleanup_plan_free_ _cleanup_(plan_freep)

/* What --switch soft-reboot needs on the machine (systemd 254 or later). */
#define SOFT_REBOOT_UNIT "/usr/lib/systemd/system/systemd-soft-reboot.service"

struct plan_options {
        char **disks;            /* target disks as the user named them */
        unsigned level;          /* 0: default (1) */
        bool wipe;               /* allow disks with signatures */
        bool integrity;          /* dm-integrity under every md member GRUB need not read */
        bool soft_reboot;        /* switch to the new root with systemd's soft-reboot, then wait for a reboot */
};

/* Chooses the strategy and computes the plan for facts.  On refusal returns
 * a negative errno (see src/main.c's table: -EBUSY in use, -ENOSPC too
 * small, -EEXIST signatures, -EOPNOTSUPP unsupported stack, -EINVAL bad
 * arguments, -EALREADY root already on md) and *ret_error names the device
 * and what to do (caller frees). */
int plan_build(const struct facts *facts, const struct plan_options *opts, struct plan **ret_plan, char **ret_error);

/* Serialization.  plan_load*() validate fully: unknown field, wrong type,
 * unknown step kind, broken reference; the error names the JSON path
 * (-EBADMSG).  Never crashes on any input. */
int plan_load_string(const char *text, size_t len, struct plan **ret_plan, char **ret_error);
int plan_load_file(const char *path, struct plan **ret_plan, char **ret_error);
int plan_to_json(const struct plan *p, json_object **ret);
/* The plan as indented JSON text (what plan_save writes); caller frees;
 * NULL when out of memory. */
char *plan_to_string(const struct plan *p);
int plan_save(const struct plan *p, const char *path);

/* The JSON Schema (draft 2020-12) of the plan format, generated from the
 * tables the loader validates with; plans/rootraid-plan.schema.json is its
 * output.  Caller puts *ret. */
int plan_schema(json_object **ret);

/* Writes the summary for people to f: today's layout as a tree, the target
 * layout, each step as one sentence, the disks overwritten, the data to
 * copy and the point of no return.  Returns 0 or -EIO. */
int plan_print_summary(const struct plan *p, FILE *f);

/* Compares the plan's facts with freshly inspected ones: 0 when they match,
 * -ESTALE with *ret_error listing what changed. */
int plan_check_facts(const struct plan *p, const struct facts *now, char **ret_error);

const struct plan_step *plan_find_step(const struct plan *p, const char *id);
