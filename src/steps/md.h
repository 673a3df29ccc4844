/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the md step kinds (md-create, md-add, wait-resync, verify) share:
 * finding devices by the plan's stable names at run time, and reading the
 * state of arrays from mdadm and sysfs.  The plan names disks by
 * /dev/disk/by-id/... and partitions by number; the kernel names (sdb,
 * vdb1, md127) are looked up here each time, never taken from the plan. */

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

#include "steps/step.h"

static inline void steps_closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

/* The /dev node of partition partno (0: the disk itself) of the disk that
 * disk_id names: the link is resolved, then the partition is found in sysfs
 * by its number.  -ENOENT when the disk or the partition does not exist. */
int md_resolve_partition(const char *disk_id, unsigned partno, char **ret_node);

/* Same for a member object of the plan ({"disk": ..., "partno": N}). */
int md_resolve_member(json_object *member, char **ret_node);

/* The /dev/mdN node of the running array whose UUID is uuid (mdadm's
 * "xxxxxxxx:xxxxxxxx:xxxxxxxx:xxxxxxxx" form, any case), or -ENOENT. */
int md_find_array(const char *uuid, char **ret_node);

/* The md UUID recorded in the superblock on dev (mdadm --examine), or
 * -ENOENT when dev carries none. */
int md_examine_uuid(const char *dev, char **ret_uuid);

/* sysfs attribute ATTR of array node (/dev/mdN), e.g. "sync_action". */
int md_sysfs_read(const char *node, const char *attr, char **ret_value);

/* >0 when member (a /dev node) is in the array, not faulty; 0 if not. */
int md_has_member(const char *array_node, const char *member_node);

struct md_health {
        unsigned raid_disks;     /* slots */
        unsigned in_sync;        /* members whose state says in_sync */
        unsigned degraded;       /* sysfs "degraded" */
        bool idle;               /* sync_action is idle (no resync/recovery) */
        bool read_auto;          /* array_state "read-auto": md starts no recovery until a write */
        char *sync_action;
        uint64_t sync_done, sync_total; /* sectors, from sync_completed; 0/0 when none */
};
void md_health_done(struct md_health *h);

/* Reads the health of array node from sysfs. */
int md_read_health(const char *node, struct md_health *ret);

/* True when two UUIDs are the same apart from case and separators. */
bool md_uuid_equal(const char *a, const char *b);

/* md_resolve_member() for a step: a failure is a step_error() naming the
 * disk and partition; in a dry run (where the partition table may not be
 * written yet) the by-id name DISK-partN stands in for the node. */
int md_create_resolve(struct step_context *ctx, json_object *m, char **ret);

/* Runtime udev rules (gone at the next boot). */
#define UDEV_RULES_DIR "/run/udev/rules.d"

/* The text of a udev rule that gives the array with uuid (mdadm's form)
 * the link /dev/md/NAME.  Caller frees; NULL when name or uuid has a
 * character a rule cannot carry, or on out of memory. */
char *md_udev_link_rule(const char *name, const char *uuid);

/* The UUID (mdadm's form) the plan gives the array device (/dev/md/NAME),
 * or NULL when it names no array of the plan. */
const char *md_plan_uuid(const struct plan *p, const char *device);

/* The node for a plan's array device: device itself when it exists, else,
 * for an array of the plan (/dev/md/NAME), its /dev/mdN found by UUID: an
 * array assembled by an initramfs that did not know it yet (a power cut
 * before the new mdadm.conf) is named /dev/md/HOST:NAME or only md127.
 * Caller frees; NULL on out of memory.  Every step that takes an array's
 * /dev/md/NAME from the plan goes through it. */
char *md_plan_node(struct step_context *ctx, const char *device);
