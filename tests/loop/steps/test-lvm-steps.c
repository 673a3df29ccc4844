/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The lvm step kinds against real lvm2 on two loop devices: an "old" PV
 * holding a volume group with an LV, and a "new" device standing in for the
 * array.  The host kernel has no device-mapper, so LVs are made with
 * --driverloaded n (metadata only) and pvmove itself cannot run here (the
 * guest test tests/vm/test-lvm does it); what is asserted:
 *   - pv-create makes the device a PV with the planned UUID; its check
 *     refuses a PV with another UUID; its undo removes it;
 *   - vg-extend puts it in the VG, its undo takes it out again;
 *   - pv-move's check is false while an LV has extents on the old PV, true
 *     once none is left;
 *   - vg-reduce is refused by lvm2 while extents remain on the old PV (the
 *     data is never dropped), then takes the PV out and wipes its label;
 *     its undo brings the PV back into the VG with its old UUID.
 * Needs root, lvm2 and loop devices; exits 77 otherwise. */
#include <fcntl.h>
#include <signal.h>

#include "tests/unit/exec/exec-test.h"
#include "steps/kinds.h"
#include "steps/lvm.h"
#include "util/run.h"

#define OLD_UUID "A4pv00-0000-0000-0000-0000-0000-000001"
#define NEW_UUID "NkRrVE-leDw-U0dn-Sq8s-Y3fq-kD7a-t0zGAE"

static char *tmp, *dev_old, *dev_new;
static char vg[64];

static void cleanup(void) {
        const char *vgremove[] = { "vgremove", "-q", "-f", "--driverloaded", "n", vg, NULL };
        if (*vg)
                (void) run_argv(vgremove, RUN_QUIET_STDERR, NULL, NULL); /* best effort: may be gone */
        for (char **d = (char *[]) { dev_old, dev_new, NULL }; *d; d++) {
                const char *pvremove[] = { "pvremove", "-q", "-ff", "-y", *d, NULL };
                const char *detach[] = { "losetup", "-d", *d, NULL };
                (void) run_argv(pvremove, RUN_QUIET_STDERR, NULL, NULL); /* best effort */
                (void) run_argv(detach, 0, NULL, NULL);
        }
        free(dev_old);
        free(dev_new);
        dev_old = dev_new = NULL;
        if (tmp)
                test_rm_rf(tmp);
        free(tmp);
        tmp = NULL;
}

static void on_abort(int sig) {
        cleanup();
        signal(SIGABRT, SIG_DFL);
        raise(SIGABRT);
}

static char *loop_new(const char *name) {
        char *image = test_path(tmp, name), *out = NULL;
        int fd = open(image, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
        ASSERT(fd >= 0 && ftruncate(fd, 64 << 20) == 0);
        close(fd);
        const char *argv[] = { "losetup", "--find", "--show", image, NULL };
        if (run_argv(argv, RUN_CAPTURE_STDOUT, &out, NULL) != 0 || !out || !startswith(out, "/dev/loop")) {
                free(out);
                out = NULL;
        } else
                out[strcspn(out, "\n")] = 0;
        free(image);
        return out;
}

static void run_ok(const char *const *argv) {
        ASSERT(run_argv_checked(argv, 0, NULL) == 0);
}

static struct plan_step step_new(enum step_kind kind, const char *id, const char *args) {
        struct plan_step s = { .kind = kind, .id = (char *) id, .reversible = true };
        s.args = json_tokener_parse(args);
        ASSERT(s.args);
        return s;
}

static void pv_of(const char *device, struct lvm_pv_report *ret) {
        ASSERT(lvm_find_pv(device, ret) == 0);
}

int main(void) {
        char args[512], target[256];
        struct lvm_pv_report pv;

        if (getuid() != 0) {
                printf("skipped: needs root for loop devices and lvm2\n");
                return 77;
        }
        const char *version[] = { "lvm", "version", NULL };
        if (run_argv(version, RUN_QUIET_STDERR, NULL, NULL) != 0) {
                printf("skipped: lvm2 is not installed\n");
                return 77;
        }
        setenv("LVM_SUPPRESS_FD_WARNINGS", "1", 1);
        log_set_max_level(getenv("ROOTRAID_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING);
        tmp = test_tmpdir();
        atexit(cleanup);
        signal(SIGABRT, on_abort);
        dev_old = loop_new("old.img");
        dev_new = dev_old ? loop_new("new.img") : NULL;
        if (!dev_new) {
                printf("skipped: cannot set up loop devices\n");
                return 77;
        }
        snprintf(vg, sizeof vg, "rrtest%ld", (long) getpid());

        /* Today's system: vg on the old PV, an LV on it. */
        const char *pvc[] = { "pvcreate", "-q", "--uuid", OLD_UUID, "--norestorefile", dev_old, NULL };
        const char *vgc[] = { "vgcreate", "-q", vg, dev_old, NULL };
        const char *lvc[] = { "lvcreate", "-q", "--driverloaded", "n", "-an", "-Zn", "-L", "16M", "-n", "root", vg, NULL };
        run_ok(pvc);
        run_ok(vgc);
        run_ok(lvc);

        snprintf(target, sizeof target, "{\"volume_groups\":[{\"name\":\"%s\",\"old_pv_uuid\":\"%s\"}]}", vg, OLD_UUID);
        struct plan plan = { .strategy = STRATEGY_LVM, .target = json_tokener_parse(target) };
        struct step_context ctx = { .plan = &plan };
        ASSERT(plan.target && lvm_plan_uses_lvm(&plan));

        /* pv-create */
        snprintf(args, sizeof args, "{\"array\":\"pv\",\"device\":\"%s\",\"pv_uuid\":\"%s\"}", dev_new, NEW_UUID);
        struct plan_step pvcreate = step_new(STEP_PV_CREATE, "pvcreate-pv", args);
        ASSERT(step_pv_create.check(&ctx, &pvcreate) == 0);
        ASSERT_OK(step_pv_create.apply(&ctx, &pvcreate));
        ASSERT(step_pv_create.check(&ctx, &pvcreate) > 0);
        pv_of(dev_new, &pv);
        ASSERT(streq(pv.uuid, NEW_UUID) && isempty(pv.vg));
        lvm_pv_done(&pv);
        snprintf(args, sizeof args, "{\"array\":\"pv\",\"device\":\"%s\",\"pv_uuid\":\"%s\"}", dev_new, OLD_UUID);
        struct plan_step other = step_new(STEP_PV_CREATE, "pvcreate-other", args);
        ASSERT_ERR(step_pv_create.check(&ctx, &other), EEXIST);

        /* vg-extend */
        snprintf(args, sizeof args, "{\"vg\":\"%s\",\"device\":\"%s\"}", vg, dev_new);
        struct plan_step vgextend = step_new(STEP_VG_EXTEND, "vgextend", args);
        ASSERT(step_vg_extend.check(&ctx, &vgextend) == 0);
        ASSERT_OK(step_vg_extend.apply(&ctx, &vgextend));
        ASSERT(step_vg_extend.check(&ctx, &vgextend) > 0);
        /* pv-create's undo refuses while the PV is in the VG */
        ASSERT_ERR(step_pv_create.undo(&ctx, &pvcreate), EBUSY);

        /* pv-move: the LV's extents are still on the old PV */
        snprintf(args, sizeof args, "{\"vg\":\"%s\",\"from\":\"%s\",\"to\":\"%s\"}", vg, dev_old, dev_new);
        struct plan_step pvmove = step_new(STEP_PV_MOVE, "pvmove", args);
        ASSERT(step_pv_move.check(&ctx, &pvmove) == 0);

        /* vg-reduce: lvm2 refuses while extents are on the old PV */
        snprintf(args, sizeof args, "{\"vg\":\"%s\",\"device\":\"%s\",\"pvremove\":true}", vg, dev_old);
        struct plan_step vgreduce = step_new(STEP_VG_REDUCE, "vgreduce", args);
        ASSERT(step_vg_reduce.check(&ctx, &vgreduce) == 0);
        ASSERT(step_vg_reduce.apply(&ctx, &vgreduce) < 0);
        pv_of(dev_old, &pv);
        ASSERT(streq(pv.vg, vg) && pv.alloc_extents == 4);
        lvm_pv_done(&pv);

        /* Once no extent is left (what pvmove achieves; here the LV goes). */
        const char *lvr[] = { "lvremove", "-q", "-y", "--driverloaded", "n", vg, NULL };
        run_ok(lvr);
        ASSERT(step_pv_move.check(&ctx, &pvmove) > 0);
        ASSERT_OK(step_vg_reduce.apply(&ctx, &vgreduce));
        ASSERT(step_vg_reduce.check(&ctx, &vgreduce) > 0);
        ASSERT(lvm_find_pv(dev_old, &pv) == -ENOENT); /* label wiped */
        ASSERT(step_pv_move.check(&ctx, &pvmove) > 0); /* still done: not a PV, the array in the VG */
        /* applying again is harmless */
        ASSERT_OK(step_vg_reduce.apply(&ctx, &vgreduce));

        /* Rollback, in reverse order. */
        ASSERT_OK(step_vg_reduce.undo(&ctx, &vgreduce));
        pv_of(dev_old, &pv);
        ASSERT(streq(pv.uuid, OLD_UUID) && streq(pv.vg, vg));
        lvm_pv_done(&pv);
        ASSERT(step_vg_reduce.check(&ctx, &vgreduce) == 0);
        ASSERT_OK(step_pv_move.undo(&ctx, &pvmove)); /* nothing on the array: nothing to move back */
        ASSERT_OK(step_vg_extend.undo(&ctx, &vgextend));
        ASSERT(step_vg_extend.check(&ctx, &vgextend) == 0);
        ASSERT_OK(step_vg_extend.undo(&ctx, &vgextend)); /* again: nothing to do */
        ASSERT_OK(step_pv_create.undo(&ctx, &pvcreate));
        ASSERT(lvm_find_pv(dev_new, &pv) == -ENOENT);
        ASSERT_OK(step_pv_create.undo(&ctx, &pvcreate));

        json_object_put(pvcreate.args);
        json_object_put(other.args);
        json_object_put(vgextend.args);
        json_object_put(pvmove.args);
        json_object_put(vgreduce.args);
        json_object_put(plan.target);
        free(ctx.error);
        printf("pv-create, vg-extend, pv-move's check and vg-reduce with their undo on loop devices: ok\n");
        return 0;
}
