/* SPDX-License-Identifier: GPL-2.0-or-later */
/* inspect_system() on the machine the tests run on: whatever its storage
 * (here: no md, no dm, maybe no udev, maybe not root), it must succeed,
 * resolve what it lists, and read the same facts twice. */
#include <sys/stat.h>

#include "../../unit/inspect/inspect-test.h"

int main(void) {
        struct inspect_options o = {};
        struct facts *f = NULL;
        json_object *j = NULL;
        char *err = NULL;
        struct stat st;

        int r = inspect_system(&o, &f, &err);
        if (r < 0) {
                fprintf(stderr, "inspect_system() on the live system failed: %s (%s)\n", strerror(-r), strna(err));
                return 1;
        }

        CHECK(f->sysroot == NULL);
        CHECK(f->kernel_release != NULL);
        CHECK(f->cmdline != NULL);
        CHECK(f->hostname != NULL);

        /* The root is listed, and when its source is a block device node
         * here, inspect knows that device. */
        const struct mount_point *root = mnt(f, "/");
        if (root->source && stat(root->source, &st) >= 0 && S_ISBLK(st.st_mode)) {
                CHECK(root->kname != NULL);
                CHECK(facts_find_devnum(f, st.st_rdev) != NULL);
        }

        /* Every reference between facts resolves. */
        for (size_t i = 0; i < f->n_mounts; i++)
                CHECK(!f->mounts[i].kname || facts_find_kname(f, f->mounts[i].kname));
        for (size_t i = 0; i < f->n_swaps; i++)
                CHECK(!f->swaps[i].kname || facts_find_kname(f, f->swaps[i].kname));
        for (size_t i = 0; i < f->n_devices; i++) {
                const struct blockdev *d = &f->devices[i];
                CHECK(d->size > 0);
                CHECK(d->logical_sector_size >= 512);
                CHECK(d->devnum != 0);
                /* A device in the list while the next is read may go away
                 * (other tests detach loop devices): only check partitions,
                 * which are read together with their disk. */
                if (d->type == BLOCKDEV_PARTITION)
                        CHECK(facts_find_kname(f, d->parent) != NULL);
                if (d->table)
                        for (size_t p = 0; p < d->table->n_partitions; p++)
                                CHECK(d->table->partitions[p].start + d->table->partitions[p].size <= d->size);
        }

        CHECK(facts_to_json(f, &j) == 0);
        json_object_put(j);
        return finish(f);
}
