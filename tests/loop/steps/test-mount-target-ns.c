/* SPDX-License-Identifier: GPL-2.0-or-later */
/* mount-target and the chroot binds against the mount namespaces of
 * services.  systemd's / is shared and many services run in namespaces
 * that are its slaves; vm-rollback-luks's rollback then failed to erase
 * the new root ("Device or resource busy"): the chroot binds under the
 * target had propagated into a service's namespace, ours were made private
 * and unmounted without reaching those copies, and the copy of the new
 * root stayed mounted there.  Here, in a namespace of its own made shared
 * like systemd's, with a child in a slave namespace standing in for the
 * service: mount-target's apply, target_chroot_setup(), its teardown and
 * mount-target's undo must leave the filesystem's device free (an O_EXCL
 * open succeeds, as the wipe of mkfs's undo needs), the service's
 * namespace without anything under the target, and every mount of ours
 * that existed before still there.  Needs root and loop devices; exits 77
 * otherwise. */
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include "tests/unit/exec/exec-test.h"
#include "steps/kinds.h"
#include "steps/target.h"
#include "util/log.h"
#include "util/run.h"
#include "util/strutil.h"

static char *tmp, *dev;
static pid_t service;

static void cleanup(void) {
        if (service > 0) {
                (void) kill(service, SIGKILL);
                (void) waitpid(service, NULL, 0);
        }
        if (dev) {
                const char *argv[] = { "losetup", "-d", dev, NULL };
                (void) run_argv(argv, 0, NULL, NULL); /* best effort at exit */
        }
        /* The namespace and its mounts end with this process; the files
         * under tmp are on the host's filesystem. */
        if (tmp) {
                char *run = test_path(tmp, "run");
                (void) umount2(run, MNT_DETACH);
                free(run);
                test_rm_rf(tmp);
        }
}

static void on_abort(int sig) {
        cleanup();
        signal(SIGABRT, SIG_DFL);
        raise(SIGABRT);
}

/* The mount points (field 5) of a mountinfo file, one per line. */
static char *mount_points(const char *mountinfo) {
        FILE *f = fopen(mountinfo, "re");
        char line[4096], *all = strdup("");
        ASSERT(f && all);
        while (fgets(line, sizeof line, f)) {
                char point[4096];
                char *next = NULL;
                ASSERT(sscanf(line, "%*s %*s %*s %*s %4095s", point) == 1);
                ASSERT(asprintf(&next, "%s%s\n", all, point) >= 0);
                free(all);
                all = next;
        }
        fclose(f);
        return all;
}

int main(void) {
        if (getuid() != 0) {
                printf("skipped: needs root (mounts and loop devices)\n");
                return 77;
        }
        log_set_max_level(getenv("ROOTRAID_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING);
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SHARED, NULL) < 0) {
                printf("skipped: cannot make a shared mount namespace: %m\n");
                return 77;
        }
        tmp = test_tmpdir();
        atexit(cleanup);
        signal(SIGABRT, on_abort);

        /* /run: a shared tmpfs, as systemd mounts it. */
        char *run = test_path(tmp, "run"), *image = test_path(tmp, "fs.img");
        ASSERT(mkdir(run, 0755) == 0);
        ASSERT(mount("tmpfs", run, "tmpfs", 0, NULL) == 0);
        ASSERT(mount(NULL, run, NULL, MS_SHARED, NULL) == 0);
        /* Neither rootraid/ nor target/ exists yet, as on a fresh apply:
         * mount-target makes them (a bind of the missing parent stopped
         * every guest apply once). */
        char *rr = test_path(run, "rootraid"), *root = test_path(rr, "target");

        int fd = open(image, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        ASSERT(fd >= 0 && ftruncate(fd, 64 << 20) == 0 && close(fd) == 0);
        const char *mkfs[] = { "mkfs.ext4", "-q", "-F", image, NULL };
        ASSERT(run_argv(mkfs, RUN_CAPTURE_STDOUT, NULL, NULL) == 0);
        const char *attach[] = { "losetup", "-f", "--show", image, NULL };
        if (run_argv(attach, RUN_CAPTURE_STDOUT, &dev, NULL) != 0 || !dev) {
                printf("skipped: no loop device\n");
                free(dev);
                dev = NULL;
                return 77;
        }
        dev[strcspn(dev, "\n")] = 0;

        /* The service: a slave namespace taken before the migration. */
        int ready[2];
        ASSERT(pipe2(ready, O_CLOEXEC) == 0);
        service = fork();
        ASSERT(service >= 0);
        if (service == 0) {
                if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
                        _exit(1);
                (void) write(ready[1], "x", 1);
                for (;;)
                        pause();
        }
        char c;
        ASSERT(read(ready[0], &c, 1) == 1);
        close(ready[0]);
        close(ready[1]);
        char *before = mount_points("/proc/self/mountinfo");

        static const char *const ids[] = { "mount-target" };
        struct plan *p = test_plan_new("sha256:mount-target-ns", ids, 1, STEP_MOUNT_TARGET, 1);
        json_object *args = json_object_new_object(), *mounts = json_object_new_array(), *m = json_object_new_object();
        json_object_object_add(m, "device", json_object_new_string(dev));
        json_object_object_add(m, "mountpoint", json_object_new_string(root));
        json_object_object_add(m, "fstype", json_object_new_string("ext4"));
        json_object_array_add(mounts, m);
        json_object_object_add(args, "root", json_object_new_string(root));
        json_object_object_add(args, "mounts", mounts);
        json_object_put(p->steps[0].args);
        p->steps[0].args = args;
        struct step_context ctx = { .plan = p, .target_dir = root, .step = &p->steps[0] };
        const struct step_ops *ops = step_table[STEP_MOUNT_TARGET];

        ASSERT_OK(ops->apply(&ctx, &p->steps[0]));
        ASSERT(ops->check(&ctx, &p->steps[0]) > 0);
        /* What update-initramfs and the GRUB steps do around their chroot. */
        ASSERT_OK(target_chroot_setup(&ctx, root));
        char *dev_in_root = test_path(root, "dev/null");
        ASSERT(access(dev_in_root, F_OK) == 0);
        target_chroot_teardown(root);
        ASSERT_OK(ops->undo(&ctx, &p->steps[0]));
        ASSERT(ops->check(&ctx, &p->steps[0]) == 0);

        char *service_mountinfo = NULL;
        ASSERT(asprintf(&service_mountinfo, "/proc/%d/mountinfo", (int) service) > 0);
        char *theirs = mount_points(service_mountinfo);
        if (strstr(theirs, root)) {
                fprintf(stderr, "the service's namespace still has mounts under %s:\n%s", root, theirs);
                abort();
        }
        fd = open(dev, O_RDWR | O_EXCL | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "%s is still in use after the undo: %m\n", dev);
                abort();
        }
        close(fd);

        /* Nothing of ours went with the teardown (a bind left shared
         * would take the mounts of /dev and /sys with its lazy unmount). */
        char *after = mount_points("/proc/self/mountinfo");
        /* Nor does mount-target leave its private bind of rootraid/. */
        if (strstr(after, rr)) {
                fprintf(stderr, "%s is still mounted after the undo:\n%s", rr, after);
                abort();
        }
        for (char *l = before, *e; *l; l = e + 1) {
                e = strchr(l, '\n');
                ASSERT(e);
                *e = 0;
                char *want = NULL;
                ASSERT(asprintf(&want, "\n%s\n", l) > 0);
                char *in = NULL;
                ASSERT(asprintf(&in, "\n%s", after) > 0);
                if (!strstr(in, want)) {
                        fprintf(stderr, "%s was unmounted by the teardown\n", l);
                        abort();
                }
                free(want);
                free(in);
        }

        free(before);
        free(after);
        free(theirs);
        free(service_mountinfo);
        free(dev_in_root);
        test_plan_free(p);
        free(rr);
        free(root);
        free(run);
        free(image);
        printf("ok: the new root left no mount in the service's namespace and its device is free after the undo\n");
        return 0;
}
