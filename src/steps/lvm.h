/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the lvm step kinds (pv-create, vg-extend, pv-move, vg-reduce) share:
 * the lvm2 tools' JSON reports (`pvs`/`lvs --reportformat json`), read and
 * matched against the plan's device names.  The plan names the old PV by
 * /dev/disk/by-id/...-partN and the new one by /dev/md/NAME, while lvm2
 * reports whatever node it scanned (/dev/vda2, /dev/md127): devices are
 * matched by device number, never by name. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "steps/step.h"

struct lvm_pv_report {
        char *name;              /* as lvm2 reports it */
        char *vg;                /* "" for an orphan PV */
        char *uuid;
        uint64_t alloc_extents;  /* pv_pe_alloc_count */
        uint64_t extent_size;    /* vg_extent_size in bytes; 0 for an orphan */
        dev_t devnum;            /* 0 until lvm_pvs_stat() */
};

struct lvm_move {
        char *lv;                /* "[pvmove0]" */
        char *vg;
        char *from;              /* move_pv: the PV being emptied */
        double percent;          /* copy_percent, 0..100 */
};

/* Frees the strings of one PV (not pv itself). */
void lvm_pv_done(struct lvm_pv_report *pv);
/* Frees an array of n PVs and the array. */
void lvm_pvs_free(struct lvm_pv_report *pvs, size_t n);
void lvm_moves_free(struct lvm_move *m, size_t n);

/* Parses the output of `pvs --reportformat json --units b --nosuffix -o
 * pv_name,vg_name,pv_uuid,pv_pe_alloc_count,vg_extent_size`.  The array
 * and its strings belong to the caller (lvm_pvs_free()).  -EBADMSG when the
 * text is not such a report. */
int lvm_parse_pvs(const char *json, struct lvm_pv_report **ret_pvs, size_t *ret_n);

/* Parses the output of `lvs -a --reportformat json -o
 * lv_name,vg_name,move_pv,copy_percent` and keeps only the pvmove LVs (the
 * ones with a move_pv): the moves that are running or were interrupted. */
int lvm_parse_moves(const char *json, struct lvm_move **ret_moves, size_t *ret_n);

/* The argv of `pvmove` for a move of from onto to (both NULL: resume every
 * unfinished move), in the background (-b), so that the move goes on under
 * lvm2's own polling when rootraid is stopped, as pvmove itself would after
 * a reboot.  argv must hold 8 entries. */
void lvm_pvmove_argv(const char *from, const char *to, const char **argv);

/* Runs pvs and returns every PV with its device number. */
int lvm_list_pvs(struct lvm_pv_report **ret_pvs, size_t *ret_n);

/* The PV on device (any name of it: by-id link, /dev/md/NAME), as a copy
 * in *ret (lvm_pv_done(ret)).  -ENOENT when the device is not a PV or
 * does not exist. */
int lvm_find_pv(const char *device, struct lvm_pv_report *ret);

/* The unfinished pvmoves of vg (running or interrupted). */
int lvm_list_moves(const char *vg, struct lvm_move **ret_moves, size_t *ret_n);

/* >0 with *ret_percent (copy_percent) when a pvmove off from (any name of
 * the device) is unfinished in vg, 0 when none is. */
int lvm_move_state(const char *vg, const char *from, double *ret_percent);

/* >0 when device is a PV of vg, 0 when not (not a PV, in another VG, or
 * gone), <0 when lvm2 cannot be asked. */
int lvm_pv_in_vg(const char *device, const char *vg);

/* Moves every extent of vg off from onto to with pvmove (or resumes the
 * move already under way off from), reporting progress in bytes through
 * ctx and returning once no extent is left on from.  Stopped by SIGINT, it
 * aborts the move (lvm2 keeps the segments already moved) and returns
 * -ECANCELED; the next call carries on from there. */
int lvm_move_extents(struct step_context *ctx, const char *vg, const char *from, const char *to);

/* Aborts the unfinished pvmove off from in vg, if any. */
int lvm_abort_move(struct step_context *ctx, const char *vg, const char *from);

/* The UUID the old PV of vg had (the plan's target.volume_groups), so a
 * rollback can give it back; NULL when the plan does not say.  Owned by p. */
const char *lvm_plan_old_pv_uuid(const struct plan *p, const char *vg);

/* True when the plan keeps a volume group on an array: the initramfs must
 * then hold lvm as well as mdadm. */
bool lvm_plan_uses_lvm(const struct plan *p);

/* True when a listing of an initramfs (lsinitramfs or lsinitrd output)
 * contains the lvm binary. */
bool lvm_listing_has_lvm(const char *listing);

/* Checks that every initramfs of root (or the one of kernel_release) holds
 * lvm, so that it can activate the volume group once mdadm has assembled
 * the array under it (mdadm and the ARRAY lines are the job of
 * target_initramfs_check()).  >0 all good, 0 not (*ret_problem, caller
 * frees), <0 error. */
int lvm_initramfs_check(const char *root, const char *generator, const char *kernel_release, char **ret_problem);

/* For the step kinds: lvm_find_pv() with a failure to ask lvm2 reported
 * through step_error().  1 with *ret filled (lvm_pv_done()), 0 when device
 * is no PV, <0 error. */
int lvm_step_find_pv(struct step_context *ctx, const char *device, struct lvm_pv_report *ret);

/* For the step kinds: lvm_pv_in_vg() with errors through step_error(). */
int lvm_step_pv_in_vg(struct step_context *ctx, const char *device, const char *vg);

/* Runs `command [vg] device` (vgextend, vgreduce, pvremove; vg may be
 * NULL); a failure is a step_error() naming the command. */
int lvm_step_run(struct step_context *ctx, const char *command, const char *vg, const char *device);

/* True when the plan keeps the root filesystem (same UUID before and
 * after: the lvm strategy moves it under the array, it copies nothing).
 * Its UUID then cannot tell the old system from the new one. */
bool lvm_plan_keeps_root(const struct plan *p);

/* True when the kernel command line has the word root=UUID=uuid. */
bool lvm_cmdline_names_root(const char *cmdline, const char *uuid);

/* For a plan that keeps the root: >0 when the machine booted the new
 * system (the kernel from rootraid's boot entry, /boot the new array, or
 * the old /boot already overwritten), 0 when it runs as before the reboot
 * or came back through the fallback, <0 error. */
int lvm_booted_new_system(const struct plan *p);

/* The /dev/mapper/VG-LV path of the plan's root LV (as grub-mkconfig
 * writes it on the kernel command line instead of root=UUID=). */
int lvm_root_mapper_path(const struct plan *p, char **ret);
