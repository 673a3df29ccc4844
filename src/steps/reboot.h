/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "plan/plan.h"
#include "steps/step.h"

/* Boot records: next to every copy of the journal, STEPID.SUFFIX (STEPID
 * the plan's reboot step) holds the ids (/proc/sys/kernel/random/boot_id)
 * of boots the migration rebooted from, so that the next boot can tell
 * whether a reboot happened and what it started. */
#define REBOOT_RECORD_APPLY "boot-id"         /* every boot apply rebooted from, one per line */
#define REBOOT_RECORD_UNDO "rollback-boot-id" /* the boot the undo rebooted from to finish a rollback */
#define REBOOT_RECORD_RETRY "retry-boot-id"   /* the boot a stale old root retried the arrays from (executor.c) */

char *reboot_record_path(const char *dir, const struct plan_step *step, const char *suffix);

/* 1 when the record under one of dirs (NULL-terminated, or NULL) names a
 * boot other than now, 0 when none does. */
int reboot_record_other_boot(char *const *dirs, const struct plan_step *step, const char *suffix, const char *now);

/* Writes text to the record under every one of dirs, through ctx when it
 * is given (a dry run prints instead).  Without ctx, *ret_path names the
 * file that could not be written. */
int reboot_record_write(struct step_context *ctx, char *const *dirs, const struct plan_step *step, const char *suffix,
                        const char *text, char **ret_path);
