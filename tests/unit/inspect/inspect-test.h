/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Helpers for the tests that inspect a fixture sysroot: each test program
 * gets the sysroot as argv[1], reads it with inspect_system() and checks
 * the facts a planner depends on.  A failed check prints where and what,
 * and the program exits 1 at the end; a missing device stops it at once. */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "inspect/inspect.h"
#include "util/strutil.h"

static int test_failures;

#define CHECK(cond)                                                                     \
        do {                                                                            \
                if (!(cond)) {                                                          \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
                        test_failures++;                                                \
                }                                                                       \
        } while (0)

#define CHECK_STR(a, b)                                                                 \
        do {                                                                            \
                const char *_a = (a), *_b = (b);                                        \
                if (!streq_ptr(_a, _b)) {                                               \
                        fprintf(stderr, "%s:%d: %s is \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
                                #a, _a ? _a : "(null)", _b ? _b : "(null)");            \
                        test_failures++;                                                \
                }                                                                       \
        } while (0)

#define CHECK_U64(a, b)                                                                 \
        do {                                                                            \
                uint64_t _a = (uint64_t) (a), _b = (uint64_t) (b);                      \
                if (_a != _b) {                                                         \
                        fprintf(stderr, "%s:%d: %s is %" PRIu64 ", expected %" PRIu64 "\n", __FILE__, \
                                __LINE__, #a, _a, _b);                                  \
                        test_failures++;                                                \
                }                                                                       \
        } while (0)

#define GiB (UINT64_C(1) << 30)
#define MiB (UINT64_C(1) << 20)

static inline struct facts *load_fixture(int argc, char *argv[]) {
        struct inspect_options o = {};
        struct facts *f = NULL;
        char *err = NULL;

        if (argc != 2) {
                fprintf(stderr, "usage: %s SYSROOT\n", argv[0]);
                exit(2);
        }
        o.sysroot = argv[1];
        int r = inspect_system(&o, &f, &err);
        if (r < 0) {
                fprintf(stderr, "inspect_system(%s) failed: %s (%s)\n", argv[1], strerror(-r), err ? err : "no message");
                free(err);
                exit(1);
        }
        CHECK_STR(f->sysroot, argv[1]);
        return f;
}

/* The device, or the test stops: nothing after makes sense without it. */
static inline struct blockdev *dev(const struct facts *f, const char *kname) {
        struct blockdev *d = facts_find_kname(f, kname);
        if (!d) {
                fprintf(stderr, "device %s not found in the facts\n", kname);
                exit(1);
        }
        return d;
}

static inline const struct partition *part(const struct blockdev *disk, unsigned partno) {
        if (disk->table)
                for (size_t i = 0; i < disk->table->n_partitions; i++)
                        if (disk->table->partitions[i].partno == partno)
                                return &disk->table->partitions[i];
        fprintf(stderr, "%s has no partition %u\n", disk->kname, partno);
        exit(1);
}

static inline const struct mount_point *mnt(const struct facts *f, const char *target) {
        const struct mount_point *m = facts_find_mount(f, target);
        if (!m) {
                fprintf(stderr, "nothing mounted at %s\n", target);
                exit(1);
        }
        return m;
}

static inline bool has_signature(const struct blockdev *d, const char *type, uint64_t offset) {
        for (size_t i = 0; i < d->n_signatures; i++)
                if (streq(d->signatures[i].type, type) && d->signatures[i].offset == offset)
                        return true;
        return false;
}

/* A blank target: nothing on it, nothing using it. */
static inline void check_blank(const struct facts *f, const char *kname, uint64_t size) {
        const struct blockdev *d = dev(f, kname);
        CHECK(d->type == BLOCKDEV_DISK);
        CHECK_U64(d->size, size);
        CHECK_U64(d->n_signatures, 0);
        CHECK(!d->table);
        CHECK(!d->fstype);
        CHECK_U64(strv_length(d->holders), 0);
        for (size_t i = 0; i < f->n_mounts; i++)
                CHECK(!streq_ptr(f->mounts[i].kname, kname));
}

/* Stable ids that never use kernel names, look-ups that find every
 * device by each of its names, only real filesystems among the mounts,
 * and a JSON dump that has it all. */
static inline void check_references(const struct facts *f) {
        CHECK(f->n_devices > 0);

        for (size_t i = 0; i < f->n_devices; i++) {
                const struct blockdev *d = &f->devices[i];
                if (!d->stable_id) {
                        fprintf(stderr, "%s has no stable id\n", d->kname);
                        test_failures++;
                        continue;
                }
                /* The whole point of a stable id: no sdX, no dm-N, no mdN. */
                CHECK(startswith(d->stable_id, "/dev/disk/by-") || startswith(d->stable_id, "/dev/mapper/"));
                CHECK(!strstr(d->stable_id, "/dev/sd"));
                CHECK(facts_find_device(f, d->stable_id) == d);
                CHECK(facts_find_device(f, d->devnode) == d);
                CHECK(facts_find_devnum(f, d->devnum) == d);
                if (d->type == BLOCKDEV_PARTITION) {
                        CHECK(d->parent != NULL);
                        CHECK(d->partno > 0);
                }
        }

        /* Only real filesystems are listed, never proc, sysfs or tmpfs. */
        for (size_t i = 0; i < f->n_mounts; i++) {
                CHECK(!streq_ptr(f->mounts[i].fstype, "proc"));
                CHECK(!streq_ptr(f->mounts[i].fstype, "tmpfs"));
                CHECK(f->mounts[i].kname != NULL);
        }

        json_object *j = NULL, *v = NULL;
        CHECK(facts_to_json(f, &j) == 0);
        if (j) {
                CHECK(json_object_object_get_ex(j, "devices", &v) &&
                      json_object_array_length(v) == f->n_devices);
                CHECK(json_object_object_get_ex(j, "firmware", &v) &&
                      streq(json_object_get_string(v), firmware_to_string(f->firmware)));
                json_object_put(j);
        }
}

/* What the Debian fixtures share: the host identity written by
 * make-fixture and common/root, and check_references(). */
static inline void check_common(const struct facts *f, const char *hostname) {
        CHECK_STR(f->hostname, hostname);
        CHECK_STR(f->machine_id, "0f1e2d3c4b5a69788796a5b4c3d2e1f0");
        CHECK_STR(f->os_id, "debian");
        CHECK_STR(f->os_version_id, "12");
        CHECK_STR(f->kernel_release, "6.1.0-13-amd64");
        check_references(f);
}

static inline int finish(struct facts *f) {
        facts_free(f);
        if (test_failures > 0) {
                fprintf(stderr, "%d check(s) failed\n", test_failures);
                return 1;
        }
        return 0;
}
