/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The real step kinds on a loop device, through the executor:
 * wipe-signatures, partition-disk, mkfs, mkswap, write-fstab.  The results
 * are read back with other tools (sfdisk --json, blkid -p, wipefs, tune2fs)
 * than the ones the steps use.  Covers: a disk full of stale signatures is
 * wiped (partition contents included), the planned GPT is written exactly,
 * the filesystems get their planned UUIDs and labels, a second apply runs
 * nothing, rollback leaves the disk without any signature and the fstab as
 * it was, a dry run changes nothing, and SIGKILL at random moments of the
 * apply followed by resume always ends in the planned state.
 * Needs root and loop devices; exits 77 otherwise. */
#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>

#include "tests/unit/exec/exec-test.h"
#include "exec/executor.h"
#include "steps/kinds.h"
#include "steps/signatures.h"
#include "util/run.h"
#include "util/strutil.h"

#define MiB (1024ull * 1024ull)

#define DISK_ID "5E1F0C8A-1B2C-4D3E-8F90-A1B2C3D4E5F6"
#define P1_UUID "11111111-2222-4333-8444-555555555555"
#define P2_UUID "66666666-7777-4888-9999-AAAAAAAAAAAA"
#define RAID_GUID "A19D880F-05FC-4D3B-A006-743F0F84911E"
#define SWAP_GUID "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F"
#define FS_UUID "0b0b0b0b-0000-4000-8000-00000000000a"
#define SWAP_UUID "0b0b0b0b-0000-4000-8000-00000000000b"

static const char fstab_original[] =
        "# static file system information\n"
        "UUID=11112222-3333-4444-5555-666677778888 / ext4 errors=remount-ro 0 1\n"
        "UUID=9999aaaa-bbbb-cccc-dddd-eeeeffff0000 none swap sw 0 0\n";

static char *tmp, *image, *dev, *p1, *p2, *target_etc, *state, *big, *busy_mnt;

static char *run_out(const char *const *argv) {
        char *out = NULL;
        int r = run_argv(argv, RUN_CAPTURE_STDOUT, &out, NULL);
        if (r != 0) {
                char *cmd = argv_to_string(argv);
                fprintf(stderr, "%s: exit %d\n", cmd, r);
                free(cmd);
                free(out);
                return NULL;
        }
        return out;
}

static void cleanup(void) {
        if (busy_mnt)
                (void) umount2(busy_mnt, MNT_DETACH); /* only mounted when a test failed while it was */
        if (dev) {
                const char *argv[] = { "losetup", "-d", dev, NULL };
                (void) run_argv(argv, 0, NULL, NULL); /* best effort at exit */
        }
        if (big) {
                const char *argv[] = { "losetup", "-d", big, NULL };
                (void) run_argv(argv, 0, NULL, NULL);
        }
        if (tmp)
                test_rm_rf(tmp);
}

/* sfdisk's re-read is a no-op in some containers: partx adds what the
 * kernel lacks (and drops what is gone). */
static void sync_kernel_partitions(void) {
        const char *del[] = { "partx", "--delete", dev, NULL }, *add[] = { "partx", "--add", dev, NULL };
        (void) run_argv(del, RUN_QUIET_STDERR, NULL, NULL); /* fails when there is nothing to delete */
        ASSERT(run_argv(add, 0, NULL, NULL) == 0);
}

static void on_abort(int sig) {
        cleanup();
        signal(SIGABRT, SIG_DFL);
        raise(SIGABRT);
}

/* A disk that looks used: a DOS table with an ext4 and a swap area, whose
 * first partition starts where the planned one does. */
static void make_stale_disk(void) {
        char *cmd = NULL;
        ASSERT(asprintf(&cmd, "sfdisk --quiet %s >/dev/null", dev) >= 0);
        FILE *f = popen(cmd, "w");
        ASSERT(f);
        fputs("label: dos\n,16M,83\n,8M,82\n", f);
        ASSERT(pclose(f) == 0);
        free(cmd);
        sync_kernel_partitions();
        const char *mk[] = { "mkfs.ext4", "-q", "-F", p1, NULL }, *sw[] = { "mkswap", p2, NULL };
        ASSERT(run_argv(mk, RUN_CAPTURE_STDOUT, NULL, NULL) == 0);
        ASSERT(run_argv(sw, RUN_CAPTURE_STDOUT, NULL, NULL) == 0);
        test_write(target_etc, "fstab", fstab_original);
}

static json_object *partition(unsigned partno, uint64_t start, uint64_t size, const char *type, const char *name,
                              const char *uuid, bool bootable) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "partno", json_object_new_int((int) partno));
        json_object_object_add(o, "start", json_object_new_int64((int64_t) start));
        json_object_object_add(o, "size", json_object_new_int64((int64_t) size));
        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_object_add(o, "use", json_object_new_string("raid"));
        json_object_object_add(o, "name", json_object_new_string(name));
        json_object_object_add(o, "uuid", json_object_new_string(uuid));
        json_object_object_add(o, "bootable", json_object_new_boolean(bootable));
        return o;
}

static void set_args(struct plan_step *s, json_object *args) {
        json_object_put(s->args);
        s->args = args;
}

static struct plan *make_plan(void) {
        static const char *const ids[] = { "wipe", "partition", "mkfs-root", "mkswap", "write-fstab" };
        static const enum step_kind kinds[] = { STEP_WIPE_SIGNATURES, STEP_PARTITION_DISK, STEP_MKFS, STEP_MKSWAP,
                                                STEP_WRITE_FSTAB };
        struct plan *p = test_plan_new("sha256:loop", ids, ELEMENTSOF(ids), STEP_MKFS, ELEMENTSOF(ids));
        json_object *a;

        for (size_t i = 0; i < ELEMENTSOF(ids); i++)
                p->steps[i].kind = kinds[i];
        p->steps[0].reversible = false;

        a = json_object_new_object();
        json_object_object_add(a, "disk", json_object_new_string(dev));
        json_object *sigs = json_object_new_array(), *sig = json_object_new_object();
        json_object_object_add(sig, "type", json_object_new_string("dos"));
        json_object_object_add(sig, "offset", json_object_new_int(510));
        json_object_array_add(sigs, sig);
        json_object_object_add(a, "signatures", sigs);
        set_args(&p->steps[0], a);

        a = json_object_new_object();
        json_object_object_add(a, "disk", json_object_new_string(dev));
        json_object_object_add(a, "label", json_object_new_string("gpt"));
        json_object_object_add(a, "disk_id", json_object_new_string(DISK_ID));
        json_object_object_add(a, "sector_size", json_object_new_int(512));
        json_object *parts = json_object_new_array();
        json_object_array_add(parts, partition(1, 1 * MiB, 32 * MiB, RAID_GUID, "root", P1_UUID, false));
        json_object_array_add(parts, partition(2, 33 * MiB, 16 * MiB, SWAP_GUID, "swap", P2_UUID, true));
        json_object_object_add(a, "partitions", parts);
        set_args(&p->steps[1], a);

        a = json_object_new_object();
        json_object_object_add(a, "filesystem", json_object_new_string("root"));
        json_object_object_add(a, "device", json_object_new_string(p1));
        json_object_object_add(a, "type", json_object_new_string("ext4"));
        json_object_object_add(a, "uuid", json_object_new_string(FS_UUID));
        json_object_object_add(a, "label", json_object_new_string("newroot"));
        set_args(&p->steps[2], a);

        a = json_object_new_object();
        json_object_object_add(a, "filesystem", json_object_new_string("swap"));
        json_object_object_add(a, "device", json_object_new_string(p2));
        json_object_object_add(a, "uuid", json_object_new_string(SWAP_UUID));
        json_object_object_add(a, "label", json_object_new_string("newswap"));
        set_args(&p->steps[3], a);

        a = json_object_new_object();
        char *fstab = test_path(target_etc, "fstab");
        json_object_object_add(a, "path", json_object_new_string(fstab));
        free(fstab);
        json_object *entries = json_object_new_array();
        json_object_array_add(entries, test_fstab_entry("/", "ext4", "11112222-3333-4444-5555-666677778888", "UUID=" FS_UUID));
        json_object_array_add(entries, test_fstab_entry("none", "swap", "9999aaaa-bbbb-cccc-dddd-eeeeffff0000", "UUID=" SWAP_UUID));
        json_object_object_add(a, "entries", entries);
        set_args(&p->steps[4], a);
        return p;
}

static json_object *get(json_object *o, const char *key) {
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v)) {
                fprintf(stderr, "no key %s in %s\n", key, json_object_to_json_string(o));
                abort();
        }
        return v;
}

static void assert_string(json_object *o, const char *key, const char *want) {
        const char *have = json_object_get_string(get(o, key));
        if (!streq_ptr(have, want)) {
                fprintf(stderr, "%s is %s, expected %s\n", key, strna(have), want);
                abort();
        }
}

/* What the plan promises, read back with sfdisk, blkid and the file. */
static void assert_planned_state(void) {
        const char *sf[] = { "sfdisk", "--json", dev, NULL };
        char *out = run_out(sf);
        ASSERT(out);
        json_object *root = json_tokener_parse(out), *pt = get(root, "partitiontable");
        assert_string(pt, "label", "gpt");
        assert_string(pt, "id", DISK_ID);
        ASSERT(json_object_get_int(get(pt, "sectorsize")) == 512);
        json_object *parts = get(pt, "partitions");
        ASSERT(json_object_array_length(parts) == 2);
        json_object *a = json_object_array_get_idx(parts, 0), *b = json_object_array_get_idx(parts, 1);
        ASSERT(json_object_get_int64(get(a, "start")) == 2048 && json_object_get_int64(get(a, "size")) == 65536);
        assert_string(a, "type", RAID_GUID);
        assert_string(a, "uuid", P1_UUID);
        assert_string(a, "name", "root");
        ASSERT(json_object_get_int64(get(b, "start")) == 67584 && json_object_get_int64(get(b, "size")) == 32768);
        assert_string(b, "type", SWAP_GUID);
        assert_string(b, "uuid", P2_UUID);
        assert_string(b, "name", "swap");
        ASSERT_CONTAINS(json_object_get_string(get(b, "attrs")), "LegacyBIOSBootable");
        json_object_put(root);
        free(out);

        const char *b1[] = { "blkid", "-p", "-o", "export", p1, NULL }, *b2[] = { "blkid", "-p", "-o", "export", p2, NULL };
        out = run_out(b1);
        ASSERT_CONTAINS(out, "TYPE=ext4\n");
        ASSERT_CONTAINS(out, "UUID=" FS_UUID "\n");
        ASSERT_CONTAINS(out, "LABEL=newroot\n");
        free(out);
        out = run_out(b2);
        ASSERT_CONTAINS(out, "TYPE=swap\n");
        ASSERT_CONTAINS(out, "UUID=" SWAP_UUID "\n");
        ASSERT_CONTAINS(out, "LABEL=newswap\n");
        free(out);

        char *fstab = test_read(target_etc, "fstab");
        ASSERT_CONTAINS(fstab, "UUID=" FS_UUID " / ext4 errors=remount-ro 0 1\n");
        ASSERT_CONTAINS(fstab, "UUID=" SWAP_UUID " none swap sw 0 0\n");
        ASSERT_CONTAINS(fstab, "# static file system information\n");
        free(fstab);
}

static char *wipefs_listing(void) {
        const char *argv[] = { "wipefs", "--no-act", "--all", dev, NULL };
        char *out = run_out(argv);
        ASSERT(out);
        return out;
}

static char *created_time(void) {
        const char *argv[] = { "tune2fs", "-l", p1, NULL };
        char *out = run_out(argv);
        ASSERT(out);
        char *l = strstr(out, "Filesystem created:");
        ASSERT(l);
        char *r = strndup(l, strcspn(l, "\n"));
        free(out);
        return r;
}

static char **dirs(void) {
        static char *d[2];
        d[0] = state;
        d[1] = NULL;
        return d;
}

static void reset_state(void) {
        test_rm_rf(state);
        ASSERT(mkdir(state, 0700) == 0);
}

static void test_wipe_reaches_partition_contents(void) {
        static const char *const ids[] = { "wipe" };
        struct plan *full = make_plan(), *p = test_plan_new("sha256:wipe", ids, 1, STEP_WIPE_SIGNATURES, 1);
        struct executor_options opts = {};
        char *e = NULL;

        make_stale_disk();
        set_args(&p->steps[0], json_object_get(full->steps[0].args));
        reset_state();
        struct journal *j = test_journal_new(p, dirs());
        ASSERT_OK(executor_apply(p, j, step_table, &opts, &e));
        char *listing = wipefs_listing();
        ASSERT(streq(listing, ""));
        free(listing);

        /* Writing the same old table again must not bring the old
         * filesystems back: the wipe reached inside the partitions. */
        char *cmd = NULL;
        ASSERT(asprintf(&cmd, "sfdisk --quiet %s >/dev/null", dev) >= 0);
        FILE *f = popen(cmd, "w");
        fputs("label: dos\n,16M,83\n,8M,82\n", f);
        ASSERT(pclose(f) == 0);
        free(cmd);
        sync_kernel_partitions();
        const char *w1[] = { "wipefs", "--no-act", p1, NULL };
        char *out = run_out(w1);
        ASSERT(out);
        if (!streq(out, ""))
                fprintf(stderr, "wipefs still finds on %s: %s\n", p1, out);
        ASSERT(streq(out, ""));
        free(out);

        journal_free(j);

        /* A GPT disk: the backup header at the end of the disk goes too
         * (blkid and libfdisk would otherwise find the old table there). */
        char *gcmd = NULL;
        ASSERT(asprintf(&gcmd, "sfdisk --quiet %s >/dev/null", dev) >= 0);
        FILE *g = popen(gcmd, "w");
        fputs("label: gpt\n,16M\n,8M\n", g);
        ASSERT(pclose(g) == 0);
        free(gcmd);
        sync_kernel_partitions();
        const char *mk[] = { "mkfs.ext4", "-q", "-F", p1, NULL };
        ASSERT(run_argv(mk, RUN_CAPTURE_STDOUT, NULL, NULL) == 0);
        listing = wipefs_listing();
        ASSERT(strstr(listing, "gpt") && strstr(listing, "PMBR"));
        free(listing);
        reset_state();
        j = test_journal_new(p, dirs());
        ASSERT_OK(executor_apply(p, j, step_table, &opts, &e));
        listing = wipefs_listing();
        ASSERT(streq(listing, ""));
        free(listing);
        const char *bd[] = { "blkid", "-p", dev, NULL };
        char *o = NULL;
        ASSERT(run_argv(bd, RUN_CAPTURE_STDOUT, &o, NULL) == 2); /* nothing found, not even a backup GPT */
        free(o);
        journal_free(j);
        test_plan_free(p);
        test_plan_free(full);
        free(e);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

/* The kernel's copy of a table that is gone is dropped even while udev
 * (here a child process) still holds a partition open for a moment: the
 * drop is retried on EBUSY rather than given up (a rollback in a guest left
 * the new disk's partitions in the kernel that way). */
/* A child that opens node with flags, holds it for ms and exits; returns
 * once it holds it. */
static pid_t hold_open(const char *node, int flags, unsigned ms) {
        int ready[2];

        ASSERT(pipe(ready) == 0);
        pid_t pid = fork();
        ASSERT(pid >= 0);
        if (pid == 0) {
                int fd = open(node, flags | O_CLOEXEC);
                (void) !write(ready[1], fd >= 0 ? "y" : "n", 1);
                usleep(ms * 1000);
                _exit(0);
        }
        char c = 0;
        ASSERT(read(ready[0], &c, 1) == 1 && c == 'y');
        close(ready[0]);
        close(ready[1]);
        return pid;
}

static void test_reread_waits_for_busy_partition(void) {
        make_stale_disk();
        pid_t pid = hold_open(p1, O_RDONLY, 1500);
        const char *wipe[] = { "wipefs", "--all", "--quiet", dev, NULL };
        ASSERT(run_argv(wipe, RUN_QUIET_STDERR, NULL, NULL) == 0);
        ASSERT(access(p1, F_OK) == 0); /* the kernel could not drop it yet */
        ASSERT_OK(signatures_reread_partitions(dev));
        ASSERT(signatures_kernel_partitions_match(dev) == 1);
        ASSERT(access(p1, F_OK) < 0 && access(p2, F_OK) < 0);
        int status;
        ASSERT(waitpid(pid, &status, 0) == pid);
}

/* A holder that goes away by itself (here a child holding a partition
 * exclusively for 3 s, in a guest a boot-time service whose mount
 * namespace had copied a short mount of the old root) is waited for:
 * partition-disk says so, then writes the table. */
static void test_partition_waits_for_transient_holder(void) {
        make_stale_disk();
        pid_t pid = hold_open(p1, O_RDONLY | O_EXCL, 3000);
        int fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);
        ASSERT(fd < 0 && errno == EBUSY); /* the disk is busy now */
        struct plan *p = make_plan();
        struct step_context ctx = { .plan = p, .target_dir = state, .step = &p->steps[1] };
        time_t t0 = time(NULL);
        int r = step_table[STEP_PARTITION_DISK]->apply(&ctx, &p->steps[1]);
        if (r < 0)
                fprintf(stderr, "partition after a transient holder: %s\n", strna(ctx.error));
        ASSERT_OK(r);
        ASSERT(time(NULL) - t0 >= 2); /* it waited for the holder */
        int status;
        ASSERT(waitpid(pid, &status, 0) == pid);
        const char *dump[] = { "sfdisk", "--dump", dev, NULL };
        char *after = run_out(dump);
        ASSERT(after && strcasestr(after, P1_UUID));
        free(after);
        free(ctx.error);
        sync_kernel_partitions();
        test_plan_free(p);
}

/* A table written over an old one keeps the MBR's boot code (on the old
 * disk, GRUB's until the boot loader step installs it again): a DOS table,
 * and GPT's protective MBR. */
static void test_table_keeps_boot_code(const char *label) {
        unsigned char code[440], b[512];

        make_stale_disk();
        for (size_t i = 0; i < sizeof code; i++)
                code[i] = (unsigned char) (i * 7 + 1);
        int fd = open(dev, O_RDWR | O_CLOEXEC);
        ASSERT(fd >= 0 && pwrite(fd, code, sizeof code, 0) == (ssize_t) sizeof code && fsync(fd) == 0);
        close(fd);
        struct plan *p = make_plan();
        if (streq(label, "dos")) {
                json_object *a = p->steps[1].args, *parts = json_object_new_array();
                json_object_object_add(a, "label", json_object_new_string("dos"));
                json_object_object_add(a, "disk_id", json_object_new_string("0x15f64b23"));
                json_object *part = partition(1, 1 * MiB, 32 * MiB, "0xfd", "root", P1_UUID, true);
                json_object_object_add(part, "name", NULL);
                json_object_object_add(part, "uuid", NULL);
                json_object_array_add(parts, part);
                json_object_object_add(a, "partitions", parts);
        }
        struct step_context ctx = { .plan = p, .target_dir = state, .step = &p->steps[1] };
        int r = step_table[STEP_PARTITION_DISK]->apply(&ctx, &p->steps[1]);
        if (r < 0)
                fprintf(stderr, "partition (%s): %s\n", label, strna(ctx.error));
        ASSERT_OK(r);
        free(ctx.error);
        fd = open(dev, O_RDONLY | O_CLOEXEC);
        ASSERT(fd >= 0 && pread(fd, b, sizeof b, 0) == (ssize_t) sizeof b);
        close(fd);
        ASSERT(memcmp(b, code, sizeof code) == 0);
        ASSERT(b[510] == 0x55 && b[511] == 0xaa);
        sync_kernel_partitions();
        test_plan_free(p);
}

static void test_apply_noop_rollback(void) {
        struct executor_options opts = {};
        char *e = NULL;

        make_stale_disk();
        reset_state();
        struct plan *p = make_plan();
        struct journal *j = test_journal_new(p, dirs());
        int r = executor_apply(p, j, step_table, &opts, &e);
        if (r < 0)
                fprintf(stderr, "apply: %s\n", e);
        ASSERT_OK(r);
        assert_planned_state();

        /* Second apply: every check holds, nothing runs again. */
        char *before = created_time();
        sleep(1);
        ASSERT_OK(executor_apply(p, j, step_table, &opts, &e));
        char *after = created_time();
        ASSERT(streq(before, after));
        for (size_t i = 0; i < p->n_steps; i++)
                ASSERT(j->steps[i].attempts == 1);
        free(before);
        free(after);

        /* Rollback: nothing left on the disk, the fstab as it was. */
        r = executor_rollback(p, j, step_table, &opts, &e);
        if (r < 0)
                fprintf(stderr, "rollback: %s\n", e);
        ASSERT_OK(r);
        char *listing = wipefs_listing();
        ASSERT(streq(listing, ""));
        free(listing);
        char *fstab = test_read(target_etc, "fstab");
        ASSERT(streq(fstab, fstab_original));
        free(fstab);

        journal_free(j);
        test_plan_free(p);
        free(e);
}

static void test_dry_run_changes_nothing(void) {
        struct executor_options opts = { .dry_run = true };
        struct test_capture cap;
        char *e = NULL;

        make_stale_disk();
        char *before = wipefs_listing();
        struct plan *p = make_plan();
        test_capture_begin(&cap, tmp);
        int r = executor_apply(p, NULL, step_table, &opts, &e);
        char *out = test_capture_end(&cap);
        if (r < 0)
                fprintf(stderr, "dry run: %s\n", e);
        ASSERT_OK(r);
        char *after = wipefs_listing();
        ASSERT(streq(before, after) && !streq(before, ""));
        char *fstab = test_read(target_etc, "fstab");
        ASSERT(streq(fstab, fstab_original));
        ASSERT_CONTAINS(out, "would wipe: dos at offset 510 on ");
        ASSERT_CONTAINS(out, "would write a gpt partition table with disk id " DISK_ID);
        ASSERT_CONTAINS(out, "would run: mkfs.ext4 -F -q -U " FS_UUID " -L newroot ");
        ASSERT_CONTAINS(out, "would run: mkswap -U " SWAP_UUID " -L newswap ");
        ASSERT_CONTAINS(out, "would write: ");
        ASSERT_CONTAINS(out, "UUID=" FS_UUID " / ext4 errors=remount-ro 0 1");
        free(fstab);
        free(before);
        free(after);
        free(out);
        test_plan_free(p);
        free(e);
}

static void test_killed_then_resumed(void) {
        struct executor_options opts = {};
        struct timespec ts;
        unsigned iterations = 17, killed = 0, during[8] = {};
        uint64_t child_usec = 0;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        srand((unsigned) ts.tv_nsec);
        for (unsigned it = 0; it < iterations; it++) {
                struct plan *p = make_plan();
                char *e = NULL;
                int status;

                make_stale_disk();
                reset_state();
                pid_t pid = fork();
                ASSERT(pid >= 0);
                if (pid == 0) {
                        /* Its own process group, so that mkfs dies with it,
                         * as the whole unit does when systemd kills it. */
                        setpgid(0, 0);
                        struct journal *j = test_journal_new(p, dirs());
                        _exit(executor_apply(p, j, step_table, &opts, &e) < 0 ? 3 : 0);
                }
                setpgid(pid, pid);
                uint64_t t0 = now_usec();
                if (it == 0)
                        /* The first run is not killed: it measures how long a
                         * whole run takes in a child, here. */
                        ASSERT(waitpid(pid, &status, 0) == pid);
                else {
                        /* Spread over the whole run: slice it of iterations-1,
                         * a random moment in each. */
                        uint64_t slice = child_usec * 3 / 4 / (iterations - 1) + 1; /* runs vary; the first is the slowest */
                        usleep((useconds_t) ((it - 1) * slice + (uint64_t) rand() % slice));
                        (void) kill(-pid, SIGKILL); /* may have finished already */
                        ASSERT(waitpid(pid, &status, 0) == pid);
                }
                if (it == 0)
                        child_usec = now_usec() - t0;
                ASSERT(!WIFEXITED(status) || WEXITSTATUS(status) == 0);
                killed += WIFSIGNALED(status);
                usleep(200000); /* let the killed mkfs release the device */

                struct journal *j = NULL;
                int r = journal_load(dirs(), &j, NULL, NULL);
                if (r == -ENOENT)
                        j = test_journal_new(p, dirs());
                else
                        ASSERT_OK(r);
                /* Which step was under way (the last one started). */
                size_t k = 0;
                for (size_t i = 0; i < j->n_steps; i++)
                        if (j->steps[i].state != STEP_STATE_PENDING)
                                k = i + 1;
                if (WIFSIGNALED(status) && k < ELEMENTSOF(during))
                        during[k]++;
                r = executor_resume(p, j, step_table, &opts, &e);
                if (r < 0)
                        fprintf(stderr, "resume after kill: %s\n", e);
                ASSERT_OK(r);
                assert_planned_state();
                journal_free(j);
                test_plan_free(p);
                free(e);
        }
        printf("killed at random moments of a %.2f s apply: %u of %u runs killed (before any step: %u; during or after step 1..5: %u %u %u %u %u), "
               "all resumed to the planned state\n", (double) child_usec / 1e6, killed, iterations, during[0], during[1],
               during[2], during[3], during[4], during[5]);
}

/* mkfs for every type the planner may ask for, on a partition big enough
 * for xfs: the planned UUID and label are what blkid reads afterwards, a
 * second apply does not run mkfs again, and undo leaves no signature. */
static void test_mkfs_types(void) {
        static const struct {
                const char *type, *uuid, *label;
        } cases[] = {
                { "ext4", "0b0b0b0b-0000-4000-8000-0000000000e4", "root" },
                { "ext2", "0b0b0b0b-0000-4000-8000-0000000000e2", "boot" },
                { "xfs", "0b0b0b0b-0000-4000-8000-0000000000f5", "data" },
                { "btrfs", "0b0b0b0b-0000-4000-8000-0000000000b7", "pool" },
                { "vfat", "ABCD-1234", "ESP" },
        };
        static const char *const ids[] = { "mkfs" };
        struct executor_options opts = {};
        char *img = test_path(tmp, "big.img"), *e = NULL;

        FILE *f = fopen(img, "we");
        ASSERT(f && ftruncate(fileno(f), (off_t) (400 * MiB)) == 0);
        fclose(f);
        const char *los[] = { "losetup", "--find", "--show", img, NULL };
        big = run_out(los);
        ASSERT(big);
        big[strcspn(big, "\n")] = 0;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct plan *p = test_plan_new("sha256:mkfs", ids, 1, STEP_MKFS, 1);
                json_object *a = json_object_new_object();
                json_object_object_add(a, "filesystem", json_object_new_string("fs"));
                json_object_object_add(a, "device", json_object_new_string(big));
                json_object_object_add(a, "type", json_object_new_string(cases[i].type));
                json_object_object_add(a, "uuid", json_object_new_string(cases[i].uuid));
                json_object_object_add(a, "label", json_object_new_string(cases[i].label));
                set_args(&p->steps[0], a);

                reset_state();
                struct journal *j = test_journal_new(p, dirs());
                int r = executor_apply(p, j, step_table, &opts, &e);
                if (r < 0)
                        fprintf(stderr, "mkfs %s: %s\n", cases[i].type, e);
                ASSERT_OK(r);
                const char *bl[] = { "blkid", "-p", "-o", "export", big, NULL };
                char *out = run_out(bl), *want = NULL;
                ASSERT(asprintf(&want, "TYPE=%s\n", cases[i].type) >= 0);
                ASSERT_CONTAINS(out, want);
                free(want);
                ASSERT(asprintf(&want, "UUID=%s\n", cases[i].uuid) >= 0);
                ASSERT_CONTAINS(out, want);
                free(want);
                ASSERT(asprintf(&want, "LABEL=%s\n", cases[i].label) >= 0);
                ASSERT_CONTAINS(out, want);
                free(want);
                free(out);

                /* Applying again is a no-op: the check holds. */
                struct step_context ctx = { .plan = p };
                ASSERT(step_mkfs.check(&ctx, &p->steps[0]) > 0);
                free(ctx.error);

                ASSERT_OK(executor_rollback(p, j, step_table, &opts, &e));
                const char *wf[] = { "wipefs", "--no-act", big, NULL };
                out = run_out(wf);
                ASSERT(out && streq(out, ""));
                free(out);
                journal_free(j);
                test_plan_free(p);
        }
        printf("mkfs: %zu filesystem types made with their planned UUID and label, and wiped by undo\n", ELEMENTSOF(cases));

        const char *det[] = { "losetup", "-d", big, NULL };
        ASSERT(run_argv(det, 0, NULL, NULL) == 0);
        free(big);
        big = NULL;
        unlink(img);
        free(img);
        free(e);
}

/* A disk with a mounted partition is neither wiped nor partitioned, and
 * the refusal says why; the disk is left as it was. */
static void test_refuses_disk_in_use(void) {
        struct plan *full = make_plan();
        struct executor_options opts = {};
        char *mnt = busy_mnt = test_path(tmp, "mnt"), *e = NULL;

        make_stale_disk();
        ASSERT(mkdir(mnt, 0755) == 0);
        ASSERT(mount(p1, mnt, "ext4", MS_RDONLY, NULL) == 0);
        const char *dump[] = { "sfdisk", "--dump", dev, NULL };
        char *before = run_out(dump);
        ASSERT(before && strstr(before, "label: dos"));

        for (size_t i = 0; i < 2; i++) {
                static const char *const ids[] = { "step" };
                struct plan *p = test_plan_new("sha256:busy", ids, 1, full->steps[i].kind, 1);
                set_args(&p->steps[0], json_object_get(full->steps[i].args));
                reset_state();
                struct journal *j = test_journal_new(p, dirs());
                ASSERT_ERR(executor_apply(p, j, step_table, &opts, &e), EBUSY);
                ASSERT_CONTAINS(e, "is in use");
                ASSERT_CONTAINS(e, dev);
                journal_free(j);
                test_plan_free(p);
        }
        char *after = run_out(dump);
        ASSERT(streq(before, after));

        ASSERT(umount(mnt) == 0);
        busy_mnt = NULL;
        free(before);
        free(after);
        free(mnt);
        free(e);
        test_plan_free(full);
}

int main(void) {
        if (getuid() != 0) {
                printf("skipped: needs root for loop devices\n");
                return 77;
        }
        log_set_max_level(getenv("ROOTRAID_TEST_DEBUG") ? LOG_LEVEL_DEBUG : LOG_LEVEL_WARNING);
        tmp = test_tmpdir();
        atexit(cleanup);
        signal(SIGABRT, on_abort);
        image = test_path(tmp, "disk.img");
        target_etc = test_path(tmp, "target-etc");
        state = test_path(tmp, "state");
        ASSERT(mkdir(target_etc, 0755) == 0);
        FILE *f = fopen(image, "we");
        ASSERT(f && ftruncate(fileno(f), (off_t) (64 * MiB)) == 0);
        fclose(f);
        const char *argv[] = { "losetup", "--find", "--show", "--partscan", image, NULL };
        char *out = run_out(argv);
        if (!out || !startswith(out, "/dev/loop")) {
                printf("skipped: cannot set up a loop device\n");
                free(out);
                return 77;
        }
        out[strcspn(out, "\n")] = 0;
        dev = out;
        ASSERT(asprintf(&p1, "%sp1", dev) >= 0 && asprintf(&p2, "%sp2", dev) >= 0);

        test_wipe_reaches_partition_contents();
        test_refuses_disk_in_use();
        test_reread_waits_for_busy_partition();
        test_partition_waits_for_transient_holder();
        test_table_keeps_boot_code("dos");
        test_table_keeps_boot_code("gpt");
        test_apply_noop_rollback();
        test_dry_run_changes_nothing();
        test_killed_then_resumed();
        test_mkfs_types();
        printf("steps on %s: all tests passed\n", dev);
        return 0;
}
