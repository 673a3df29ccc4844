/* SPDX-License-Identifier: GPL-2.0-or-later */
/* target_copy_source(), which a dry run uses to render the new root's
 * configuration files before anything was copied: a path under a copy
 * step's target is the same path under its source (the longest target
 * wins: a separate /boot), and in a plan that keeps the root (the lvm
 * strategy, plain or inside LUKS), a path under the target root that no
 * copy step covers is the running system's own file.
 * Usage: test-copy-source SOURCE_ROOT */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "steps/target.h"
#include "util/strutil.h"

static struct plan *load(const char *src, const char *name) {
        char path[4096];
        struct plan *p = NULL;
        char *error = NULL;

        snprintf(path, sizeof path, "%s/plans/examples/%s.json", src, name);
        if (plan_load_file(path, &p, &error) < 0) {
                fprintf(stderr, "%s: %s\n", path, strna(error));
                abort();
        }
        return p;
}

static void expect(const struct plan *p, const char *name, const char *path, const char *want) {
        char *got = NULL;
        int r = target_copy_source(p, path, &got);

        if (want ? r < 0 || !streq(got, want) : r != -ENOENT) {
                fprintf(stderr, "%s: %s maps to %s (r=%d), expected %s\n", name, path, r < 0 ? "nothing" : got, r,
                        want ? want : "nothing");
                abort();
        }
        free(got);
}

int main(int argc, char *argv[]) {
        assert(argc == 2);
        static const char *const keep_root[] = { "lvm", "luks-lvm" };

        /* The copy strategy: the root's copy step covers the target. */
        struct plan *p = load(argv[1], "bios-gpt");
        expect(p, "bios-gpt", "/run/rootraid/target/etc/fstab", "/etc/fstab");
        expect(p, "bios-gpt", "/run/rootraid/target/boot/grub/grub.cfg", "/boot/grub/grub.cfg");
        expect(p, "bios-gpt", "/etc/fstab", NULL);
        plan_free(p);

        for (size_t i = 0; i < sizeof keep_root / sizeof keep_root[0]; i++) {
                p = load(argv[1], keep_root[i]);
                expect(p, keep_root[i], "/run/rootraid/target/etc/fstab", "/etc/fstab");
                expect(p, keep_root[i], "/run/rootraid/target/etc/crypttab", "/etc/crypttab");
                expect(p, keep_root[i], "/run/rootraid/target", "/");
                expect(p, keep_root[i], "/run/rootraid/target/boot/grub/grub.cfg", "/boot/grub/grub.cfg");
                expect(p, keep_root[i], "/run/rootraid/targetx/etc/fstab", NULL);
                expect(p, keep_root[i], "/etc/fstab", NULL);
                plan_free(p);
        }
        printf("ok\n");
        return 0;
}
