/* SPDX-License-Identifier: GPL-2.0-or-later */
/* lvm2 helpers for the lvm step kinds; see lvm.h. */
#include <blkid.h>
#include <glob.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "steps/lvm.h"
#include "steps/md.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"

/* How often a move is polled, and how long its percentage may stand still
 * before the background poller is started again (after a reboot nothing
 * may be polling an interrupted move). */
#define LVM_POLL_SECONDS 2
#define LVM_STALL_SECONDS 60

void lvm_pv_done(struct lvm_pv_report *pv) {
        free(pv->name);
        free(pv->vg);
        free(pv->uuid);
        *pv = (struct lvm_pv_report) {};
}

void lvm_pvs_free(struct lvm_pv_report *pvs, size_t n) {
        for (size_t i = 0; pvs && i < n; i++)
                lvm_pv_done(&pvs[i]);
        free(pvs);
}

void lvm_moves_free(struct lvm_move *m, size_t n) {
        for (size_t i = 0; m && i < n; i++) {
                free(m[i].lv);
                free(m[i].vg);
                free(m[i].from);
        }
        free(m);
}

static void json_putp(json_object **j) {
        if (*j)
                json_object_put(*j);
}

/* The rows of report section `section` ("pv", "lv") of an lvm2 JSON report. */
static int report_rows(const char *text, const char *section, json_object **ret_root, json_object **ret_rows) {
        _cleanup_(json_putp) json_object *root = NULL;
        json_object *report, *first, *rows;

        root = text ? json_tokener_parse(text) : NULL;
        if (!root || !json_object_object_get_ex(root, "report", &report) ||
            !json_object_is_type(report, json_type_array) || json_object_array_length(report) < 1)
                return -EBADMSG;
        first = json_object_array_get_idx(report, 0);
        if (!json_object_object_get_ex(first, section, &rows) || !json_object_is_type(rows, json_type_array))
                return -EBADMSG;
        *ret_rows = rows;
        *ret_root = TAKE_PTR(root);
        return 0;
}

/* A field of a row as a copy ("" when absent: lvm2 reports empty fields as ""). */
static char *field(json_object *row, const char *key) {
        json_object *v;
        const char *s = json_object_object_get_ex(row, key, &v) ? json_object_get_string(v) : NULL;
        return strdup(s ?: "");
}

static uint64_t field_u64(json_object *row, const char *key) {
        json_object *v;
        const char *s = json_object_object_get_ex(row, key, &v) ? json_object_get_string(v) : NULL;
        return s ? strtoull(s, NULL, 10) : 0;
}

int lvm_parse_pvs(const char *json, struct lvm_pv_report **ret_pvs, size_t *ret_n) {
        _cleanup_(json_putp) json_object *root = NULL;
        json_object *rows;
        struct lvm_pv_report *pvs;
        size_t n;
        int r;

        r = report_rows(json, "pv", &root, &rows);
        if (r < 0)
                return r;
        n = json_object_array_length(rows);
        pvs = calloc(n + 1, sizeof *pvs);
        if (!pvs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                json_object *row = json_object_array_get_idx(rows, i);
                pvs[i] = (struct lvm_pv_report) {
                        .name = field(row, "pv_name"),
                        .vg = field(row, "vg_name"),
                        .uuid = field(row, "pv_uuid"),
                        .alloc_extents = field_u64(row, "pv_pe_alloc_count"),
                        .extent_size = field_u64(row, "vg_extent_size"),
                };
                if (!pvs[i].name || !pvs[i].vg || !pvs[i].uuid) {
                        lvm_pvs_free(pvs, i + 1);
                        return -ENOMEM;
                }
        }
        *ret_pvs = pvs;
        *ret_n = n;
        return 0;
}

int lvm_parse_moves(const char *json, struct lvm_move **ret_moves, size_t *ret_n) {
        _cleanup_(json_putp) json_object *root = NULL;
        json_object *rows;
        struct lvm_move *m;
        size_t n = 0;
        int r;

        r = report_rows(json, "lv", &root, &rows);
        if (r < 0)
                return r;
        m = calloc(json_object_array_length(rows) + 1, sizeof *m);
        if (!m)
                return -ENOMEM;
        for (size_t i = 0; i < json_object_array_length(rows); i++) {
                json_object *row = json_object_array_get_idx(rows, i);
                _cleanup_free_ char *from = field(row, "move_pv"), *pct = NULL;
                if (!from) {
                        lvm_moves_free(m, n);
                        return -ENOMEM;
                }
                if (!*from)
                        continue; /* an ordinary LV */
                pct = field(row, "copy_percent");
                m[n] = (struct lvm_move) {
                        .lv = field(row, "lv_name"),
                        .vg = field(row, "vg_name"),
                        .from = TAKE_PTR(from),
                        .percent = pct ? strtod(pct, NULL) : 0,
                };
                n++;
                if (!m[n - 1].lv || !m[n - 1].vg || !pct) {
                        lvm_moves_free(m, n);
                        return -ENOMEM;
                }
        }
        *ret_moves = m;
        *ret_n = n;
        return 0;
}

void lvm_pvmove_argv(const char *from, const char *to, const char **argv) {
        size_t n = 0;
        argv[n++] = "pvmove";
        /* In the background: lvm2 itself (lvmpolld or a forked poller)
         * drives the copy, so it survives rootraid being killed and is
         * picked up again on the next activation after a power cut. */
        argv[n++] = "--background";
        if (from && to) {
                argv[n++] = from;
                argv[n++] = to;
        }
        argv[n] = NULL;
}

static int devnum_of(const char *path, dev_t *ret) {
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        if (!S_ISBLK(st.st_mode))
                return -ENOTBLK;
        *ret = st.st_rdev;
        return 0;
}

int lvm_list_pvs(struct lvm_pv_report **ret_pvs, size_t *ret_n) {
        const char *argv[] = { "pvs", "--reportformat", "json", "--units", "b", "--nosuffix",
                               "-o", "pv_name,vg_name,pv_uuid,pv_pe_alloc_count,vg_extent_size", NULL };
        _cleanup_free_ char *out = NULL;
        struct lvm_pv_report *pvs;
        size_t n;
        int r;

        r = run_argv(argv, RUN_CAPTURE_STDOUT, &out, NULL);
        if (r < 0)
                return r;
        if (run_get_dry_run() && isempty(out)) {
                /* a dry run's apply: nothing was asked */
                *ret_pvs = calloc(1, sizeof **ret_pvs);
                *ret_n = 0;
                return *ret_pvs ? 0 : -ENOMEM;
        }
        /* pvs exits non-zero when some device of some VG is missing, and
         * still reports the rest: judge by the report, not the status. */
        r = lvm_parse_pvs(out, &pvs, &n);
        if (r < 0)
                return r == -EBADMSG ? -EPROTO : r;
        for (size_t i = 0; i < n; i++)
                (void) devnum_of(pvs[i].name, &pvs[i].devnum); /* 0 stays "unknown" */
        *ret_pvs = pvs;
        *ret_n = n;
        return 0;
}

int lvm_find_pv(const char *device, struct lvm_pv_report *ret) {
        struct lvm_pv_report *pvs = NULL;
        size_t n = 0;
        dev_t want;
        int r;

        r = devnum_of(device, &want);
        if (r < 0)
                return r == -ENOTBLK ? -ENOENT : r;
        r = lvm_list_pvs(&pvs, &n);
        if (r < 0)
                return r;
        r = -ENOENT;
        for (size_t i = 0; i < n; i++)
                if (pvs[i].devnum == want) {
                        *ret = pvs[i];
                        pvs[i] = (struct lvm_pv_report) {};
                        r = 0;
                        break;
                }
        lvm_pvs_free(pvs, n);
        return r;
}

int lvm_pv_in_vg(const char *device, const char *vg) {
        struct lvm_pv_report pv;
        int r = lvm_find_pv(device, &pv);
        if (r == -ENOENT || r == -ENXIO || r == -ENODEV)
                return 0;
        if (r < 0)
                return r;
        r = streq(pv.vg, vg);
        lvm_pv_done(&pv);
        return r;
}

int lvm_list_moves(const char *vg, struct lvm_move **ret_moves, size_t *ret_n) {
        const char *argv[] = { "lvs", "-a", "--reportformat", "json", "-o", "lv_name,vg_name,move_pv,copy_percent", vg, NULL };
        _cleanup_free_ char *out = NULL;
        int r;

        r = run_argv(argv, RUN_CAPTURE_STDOUT, &out, NULL);
        if (r < 0)
                return r;
        if (run_get_dry_run() && isempty(out)) {
                *ret_moves = calloc(1, sizeof **ret_moves);
                *ret_n = 0;
                return *ret_moves ? 0 : -ENOMEM;
        }
        r = lvm_parse_moves(out, ret_moves, ret_n);
        return r == -EBADMSG ? -EPROTO : r;
}

/* The index of the move off device among moves, or -ENOENT. */
static int find_move(const struct lvm_move *moves, size_t n, const char *device) {
        dev_t want, d;
        if (devnum_of(device, &want) < 0)
                return -ENOENT;
        for (size_t i = 0; i < n; i++)
                if (devnum_of(moves[i].from, &d) >= 0 && d == want)
                        return (int) i;
        return -ENOENT;
}

int lvm_move_state(const char *vg, const char *from, double *ret_percent) {
        struct lvm_move *moves = NULL;
        size_t n = 0;
        int r, i;

        r = lvm_list_moves(vg, &moves, &n);
        if (r < 0)
                return r;
        i = find_move(moves, n, from);
        if (i >= 0)
                *ret_percent = moves[i].percent;
        lvm_moves_free(moves, n);
        return i >= 0;
}

int lvm_abort_move(struct step_context *ctx, const char *vg, const char *device) {
        _cleanup_free_ char *from_node = md_plan_node(ctx, device);
        const char *from = from_node;
        double pct;
        if (!from)
                return -ENOMEM;
        int r = lvm_move_state(vg, from, &pct);
        if (r <= 0)
                return r;
        const char *argv[] = { "pvmove", "--abort", from, NULL };
        r = run_argv_checked(argv, 0, NULL);
        if (r < 0)
                return step_error(ctx, r, "Cannot abort the pvmove off %s in volume group %s.", from, vg);
        step_log(ctx, LOG_LEVEL_NOTICE, 0, "Aborted the pvmove off %s at %.1f%%; the segments already moved stay moved.",
                 from, pct);
        return 0;
}

int lvm_move_extents(struct step_context *ctx, const char *vg, const char *from_device, const char *to_device) {
        _cleanup_free_ char *from_node = md_plan_node(ctx, from_device), *to_node = md_plan_node(ctx, to_device);
        const char *from = from_node, *to = to_node;
        const char *argv[8];
        struct lvm_pv_report pv;
        uint64_t total;
        double pct = 0, last_pct = -1;
        time_t last_change;
        int r;

        if (!from || !to)
                return -ENOMEM;
        r = lvm_find_pv(from, &pv);
        if (r == -ENOENT && ctx->dry_run) {
                lvm_pvmove_argv(from, to, argv);
                return run_argv_checked(argv, 0, NULL);
        }
        if (r < 0)
                return step_error(ctx, r, "Cannot find the physical volume %s: %m", from);
        total = pv.alloc_extents * pv.extent_size;
        r = streq(pv.vg, vg) ? 0 : -EXDEV;
        lvm_pv_done(&pv);
        if (r < 0)
                return step_error(ctx, r, "%s is not a physical volume of volume group %s.", from, vg);

        r = lvm_move_state(vg, from, &pct);
        if (r < 0)
                return step_error(ctx, r, "Cannot list the pvmoves of volume group %s: %m", vg);
        if (r > 0) {
                /* An interrupted move (rootraid or the machine stopped):
                 * pvmove with no arguments carries on from lvm2's own
                 * checkpoint instead of starting a second move. */
                step_log(ctx, LOG_LEVEL_INFO, 0, "Resuming the unfinished pvmove off %s (%.1f%% done).", from, pct);
                lvm_pvmove_argv(NULL, NULL, argv);
        } else
                lvm_pvmove_argv(from, to, argv);
        r = run_argv_checked(argv, 0, NULL);
        if (r < 0)
                return step_error(ctx, r, "pvmove of volume group %s from %s onto %s failed (see the log).", vg, from, to);
        if (ctx->dry_run)
                return 0;

        last_change = time(NULL);
        for (;;) {
                r = lvm_move_state(vg, from, &pct);
                if (r < 0)
                        return step_error(ctx, r, "Cannot follow the pvmove off %s: %m", from);
                if (r == 0)
                        break;
                step_progress(ctx, (uint64_t) ((double) total * pct / 100.0), total);
                if (pct != last_pct) {
                        last_pct = pct;
                        last_change = time(NULL);
                } else if (time(NULL) - last_change > LVM_STALL_SECONDS) {
                        /* Nothing polls the move (it was interrupted and
                         * nobody restarted it): start the poller again. */
                        step_log(ctx, LOG_LEVEL_NOTICE, 0, "The pvmove off %s stands at %.1f%%; restarting it.", from, pct);
                        lvm_pvmove_argv(NULL, NULL, argv);
                        (void) run_argv_checked(argv, 0, NULL); /* the next poll tells whether it moves */
                        last_change = time(NULL);
                }
                if (step_interrupted(ctx)) {
                        r = lvm_abort_move(ctx, vg, from);
                        return r < 0 ? r : -ECANCELED;
                }
                sleep(LVM_POLL_SECONDS);
        }

        r = lvm_find_pv(from, &pv);
        if (r < 0)
                return step_error(ctx, r, "Cannot read the physical volume %s after the pvmove: %m", from);
        uint64_t left = pv.alloc_extents;
        lvm_pv_done(&pv);
        if (left > 0)
                return step_error(ctx, EIO,
                                  "The pvmove off %s ended with %llu extents still on it (aborted, or failed: see the "
                                  "system log); run 'rootraid resume' to try again.",
                                  from, (unsigned long long) left);
        step_progress(ctx, total, total);
        return 0;
}

const char *lvm_plan_old_pv_uuid(const struct plan *p, const char *vg) {
        json_object *vgs, *v;
        if (!p || !p->target || !json_object_object_get_ex(p->target, "volume_groups", &vgs))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(vgs); i++) {
                json_object *g = json_object_array_get_idx(vgs, i);
                if (json_object_object_get_ex(g, "name", &v) && streq_ptr(json_object_get_string(v), vg) &&
                    json_object_object_get_ex(g, "old_pv_uuid", &v))
                        return json_object_get_string(v);
        }
        return NULL;
}

bool lvm_plan_uses_lvm(const struct plan *p) {
        json_object *vgs;
        if (!p)
                return false;
        if (p->strategy == STRATEGY_LVM)
                return true;
        return p->target && json_object_object_get_ex(p->target, "volume_groups", &vgs) &&
               json_object_is_type(vgs, json_type_array) && json_object_array_length(vgs) > 0;
}

/* True when a listing of an image (one path a line, with or without a
 * leading "./" or a cpio part prefix such as "main/") holds sbin/lvm. */
bool lvm_listing_has_lvm(const char *listing) {
        for (const char *p = listing; p && *p;) {
                const char *eol = strchr(p, '\n');
                size_t n = eol ? (size_t) (eol - p) : strlen(p);
                /* lsinitrd prints ls -l style lines: the path is the last word */
                while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\r'))
                        n--;
                if (n >= 8 && memcmp(p + n - 8, "sbin/lvm", 8) == 0 && (n == 8 || p[n - 9] == '/' || p[n - 9] == ' '))
                        return true;
                p = eol ? eol + 1 : NULL;
        }
        return false;
}

int lvm_initramfs_check(const char *root, const char *generator, const char *kernel_release, char **ret_problem) {
        _cleanup_free_ char *pattern = NULL;
        const char *prefix = streq(root, "/") ? "" : root;
        bool dracut = streq_ptr(generator, "dracut");
        glob_t g = {};
        int r;

        if (asprintf(&pattern, "%s/boot/%s%s%s", prefix, dracut ? "initramfs-" : "initrd.img-",
                     kernel_release ?: "*", dracut ? ".img" : "") < 0)
                return -ENOMEM;
        r = glob(pattern, 0, NULL, &g);
        if (r == GLOB_NOMATCH)
                return asprintf(ret_problem, "no initramfs matches %s", pattern) < 0 ? -ENOMEM : 0;
        if (r != 0)
                return -EIO;
        r = 1;
        for (size_t i = 0; i < g.gl_pathc && r > 0; i++) {
                _cleanup_free_ char *list = NULL;
                const char *image = g.gl_pathv[i];
                /* Listing only, no unpacking: lsinitramfs (initramfs-tools)
                 * and lsinitrd (dracut) read the cpio archives. */
                const char *ls_it[] = { "lsinitramfs", image, NULL };
                const char *ls_dr[] = { "lsinitrd", image, NULL };
                r = run_argv_checked(dracut ? ls_dr : ls_it, RUN_CAPTURE_STDOUT, &list);
                if (r < 0)
                        break;
                r = 1;
                if (!lvm_listing_has_lvm(list))
                        r = asprintf(ret_problem,
                                     "%s has no lvm binary: the volume group on the array would not be activated at "
                                     "boot (is lvm2 installed in %s?)",
                                     image, root) < 0 ? -ENOMEM : 0;
        }
        globfree(&g);
        return r;
}

int lvm_step_find_pv(struct step_context *ctx, const char *device, struct lvm_pv_report *ret) {
        _cleanup_free_ char *node = md_plan_node(ctx, device);
        if (!node)
                return -ENOMEM;
        int r = lvm_find_pv(node, ret);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return step_error(ctx, r, "Cannot ask lvm2 about %s: %m", device);
        return 1;
}

int lvm_step_pv_in_vg(struct step_context *ctx, const char *device, const char *vg) {
        _cleanup_free_ char *node = md_plan_node(ctx, device);
        if (!node)
                return -ENOMEM;
        int r = lvm_pv_in_vg(node, vg);
        if (r < 0)
                return step_error(ctx, r, "Cannot ask lvm2 whether %s is in volume group %s: %m", device, vg);
        return r;
}

int lvm_step_run(struct step_context *ctx, const char *command, const char *vg, const char *device) {
        _cleanup_free_ char *node = md_plan_node(ctx, device);
        if (!node)
                return -ENOMEM;
        const char *argv[] = { command, vg ?: node, vg ? node : NULL, NULL };
        int r = run_argv_checked(argv, 0, NULL);
        if (r < 0)
                return step_error(ctx, r, "%s %s%s%s failed (see the log).", command, strempty(vg), vg ? " " : "", device);
        return 0;
}

/* The planned new and old UUIDs of the filesystem mounted at mountpoint. */
static void planned_fs_uuids(const struct plan *p, const char *mountpoint, const char **ret_new, const char **ret_old) {
        json_object *fss, *v;
        *ret_new = *ret_old = NULL;
        if (!p || !p->target || !json_object_object_get_ex(p->target, "filesystems", &fss))
                return;
        for (size_t i = 0; i < json_object_array_length(fss); i++) {
                json_object *fs = json_object_array_get_idx(fss, i);
                if (!json_object_object_get_ex(fs, "mountpoint", &v) || !streq_ptr(json_object_get_string(v), mountpoint))
                        continue;
                if (json_object_object_get_ex(fs, "uuid", &v))
                        *ret_new = json_object_get_string(v);
                if (json_object_object_get_ex(fs, "source_uuid", &v))
                        *ret_old = json_object_get_string(v);
        }
}

bool lvm_plan_keeps_root(const struct plan *p) {
        const char *new_uuid, *old_uuid;
        planned_fs_uuids(p, "/", &new_uuid, &old_uuid);
        return new_uuid && old_uuid && strcasecmp(new_uuid, old_uuid) == 0;
}

bool lvm_cmdline_names_root(const char *cmdline, const char *uuid) {
        _cleanup_free_ char *word = NULL;
        if (asprintf(&word, "root=UUID=%s", uuid) < 0)
                return false;
        size_t l = strlen(word);
        for (const char *p = cmdline; p && *p; p += strcspn(p, " ")) {
                p += strspn(p, " ");
                if (strncasecmp(p, word, l) == 0 && (p[l] == 0 || p[l] == ' ' || p[l] == '\n'))
                        return true;
        }
        return false;
}

int lvm_booted_new_system(const struct plan *p) {
        _cleanup_free_ char *cmdline = NULL, *boot_now = NULL;
        const char *root_uuid, *boot_new, *boot_old, *unused;
        int r;

        planned_fs_uuids(p, "/", &root_uuid, &unused);
        planned_fs_uuids(p, "/boot", &boot_new, &boot_old);
        if (!root_uuid)
                return 0;
        if (boot_new && boot_old && strcasecmp(boot_new, boot_old) != 0) {
                char *dev = blkid_evaluate_tag("UUID", boot_old, NULL);
                if (!dev)
                        /* The old /boot is overwritten: past the point of
                         * no return, only the new system is left. */
                        return 1;
                free(dev);
                /* Before the reboot /boot is still the old filesystem. */
                r = target_fs_uuid_of("/boot", &boot_now);
                if (r < 0)
                        return r;
                if (!boot_now || strcasecmp(boot_now, boot_new) != 0)
                        return 0;
        }
        /* The kernel came from rootraid's boot entry (root=UUID=, loaded
         * from the new /boot), not from the old configuration, which the
         * fallback boot uses and which names an LVM root by its
         * /dev/mapper path (grub-mkconfig never uses a UUID for it). */
        r = read_one_line_file("/proc/cmdline", &cmdline);
        if (r < 0)
                return r;
        return lvm_cmdline_names_root(cmdline, root_uuid);
}

int lvm_root_mapper_path(const struct plan *p, char **ret) {
        _cleanup_free_ char *real = NULL, *namefile = NULL, *name = NULL;
        json_object *fss, *v;
        const char *device = NULL;
        int r;

        if (!p || !p->target || !json_object_object_get_ex(p->target, "filesystems", &fss))
                return -ENOENT;
        for (size_t i = 0; i < json_object_array_length(fss); i++) {
                json_object *fs = json_object_array_get_idx(fss, i);
                if (json_object_object_get_ex(fs, "mountpoint", &v) && streq_ptr(json_object_get_string(v), "/") &&
                    json_object_object_get_ex(fs, "device", &v))
                        device = json_object_get_string(v);
        }
        if (!device)
                return -ENOENT;
        real = realpath(device, NULL);
        if (!real)
                return -errno;
        if (asprintf(&namefile, "/sys/class/block/%s/dm/name", strrchr(real, '/') + 1) < 0)
                return -ENOMEM;
        r = read_one_line_file(namefile, &name);
        if (r < 0)
                return r;
        return asprintf(ret, "/dev/mapper/%s", name) < 0 ? -ENOMEM : 0;
}
