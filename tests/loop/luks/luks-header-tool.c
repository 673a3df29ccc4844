/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The header part of luks-clone, for test-luks-clone.sh on loop devices
 * (the host has no device-mapper, so the step itself cannot open the clone
 * here):
 *   luks-header-tool clone SOURCE DEVICE UUID MIN_PAYLOAD_BYTES
 *   luks-header-tool erase DEVICE UUID...
 *   luks-header-tool overlay ROOT NAME UUID [OPEN_AS]
 *                                                (leaves the bind mount;
 *                                                 with OPEN_AS the clones
 *                                                 form, fallback-initramfs's)
 *   luks-header-tool overlay-end ROOT
 *   luks-header-tool initramfs-check ROOT NAME UUID [OPEN_AS]
 *   luks-header-tool table-key PARAMS            (prints the key in hex)
 *   luks-header-tool crypttab-keyfile PATH NAME  (prints FILE OFFSET SIZE)
 *   luks-header-tool plan-node SYSFS_BLOCK DEVICE NAME UUID OPEN_AS
 *                                                (prints the node)
 * (the last three with a plan whose one crypt is NAME with UUID).
 * Exit 0 on success; on failure the sentence goes to stderr and the exit
 * status is 2 for -ENOSPC, 3 for -EEXIST, 1 otherwise; initramfs-check
 * prints the problem it found and exits 4; table-key and crypttab-keyfile
 * exit 5 for -ENOKEY / -ENOENT and 6 for -EBADMSG / -EINVAL. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plan/plan.h"
#include "steps/luks.h"

static int fail(int r, char *error) {
        fprintf(stderr, "%s (%s)\n", error ? error : "failed", strerror(-r));
        free(error);
        return r == -ENOSPC ? 2 : r == -EEXIST ? 3 : 1;
}

/* A plan that knows only its one crypt, as target.crypts[] of a real one. */
static struct plan *plan_with_crypt(const char *name, const char *uuid) {
        static struct plan p;
        json_object *crypts = json_object_new_array(), *c = json_object_new_object();
        json_object_object_add(c, "name", json_object_new_string(name));
        json_object_object_add(c, "uuid", json_object_new_string(uuid));
        json_object_array_add(crypts, c);
        p.target = json_object_new_object();
        json_object_object_add(p.target, "crypts", crypts);
        return &p;
}

int main(int argc, char *argv[]) {
        char *error = NULL;
        int r;

        if ((argc == 5 || argc == 6) && strcmp(argv[1], "overlay") == 0) {
                struct plan *p = plan_with_crypt(argv[3], argv[4]);
                if (argc == 6)
                        json_object_object_add(json_object_array_get_idx(json_object_object_get(p->target, "crypts"), 0),
                                               "open_as", json_object_new_string(argv[5]));
                r = luks_initramfs_overlay(p, argv[2], argc == 6, &error);
                json_object_put(p->target);
                if (r < 0)
                        return fail(r, error);
                printf("%s\n", r > 0 ? "mounted" : "nothing to do");
                return 0;
        }
        if (argc == 3 && strcmp(argv[1], "overlay-end") == 0) {
                luks_initramfs_overlay_end(argv[2]);
                return 0;
        }
        if ((argc == 5 || argc == 6) && strcmp(argv[1], "initramfs-check") == 0) {
                struct plan *p = plan_with_crypt(argv[3], argv[4]);
                if (argc == 6)
                        json_object_object_add(json_object_array_get_idx(json_object_object_get(p->target, "crypts"), 0),
                                               "open_as", json_object_new_string(argv[5]));
                r = luks_initramfs_check(p, argv[2], NULL, argc == 6, &error);
                json_object_put(p->target);
                if (r < 0)
                        return fail(r, error);
                if (r == 0) {
                        printf("%s\n", error);
                        free(error);
                        return 4;
                }
                return 0;
        }

        if (argc == 7 && strcmp(argv[1], "plan-node") == 0) {
                struct plan *p = plan_with_crypt(argv[4], argv[5]);
                json_object *c = json_object_array_get_idx(json_object_object_get(p->target, "crypts"), 0);
                json_object_object_add(c, "open_as", json_object_new_string(argv[6]));
                char *node = luks_plan_node(p, argv[2], argv[3]);
                json_object_put(p->target);
                if (!node)
                        return fail(-ENOMEM, NULL);
                printf("%s\n", node);
                free(node);
                return 0;
        }
        if (argc == 6 && strcmp(argv[1], "clone") == 0) {
                r = luks_header_clone(argv[2], argv[3], argv[4], strtoull(argv[5], NULL, 10), &error);
                return r < 0 ? fail(r, error) : 0;
        }
        if (argc >= 4 && strcmp(argv[1], "erase") == 0) {
                r = luks_header_erase(argv[2], (const char *const *) argv + 3, &error);
                return r < 0 ? fail(r, error) : 0;
        }
        if (argc == 3 && strcmp(argv[1], "table-key") == 0) {
                char *key = NULL;
                size_t size = 0;
                r = luks_crypt_table_key(argv[2], &key, &size);
                if (r < 0)
                        return r == -ENOKEY ? 5 : r == -EBADMSG ? 6 : 1;
                for (size_t i = 0; i < size; i++)
                        printf("%02x", (unsigned char) key[i]);
                printf("\n");
                free(key);
                return 0;
        }
        if (argc == 4 && strcmp(argv[1], "crypttab-keyfile") == 0) {
                char *file = NULL;
                uint64_t offset = 0, size = 0;
                r = luks_crypttab_keyfile(argv[2], argv[3], &file, &offset, &size);
                if (r < 0)
                        return r == -ENOENT ? 5 : r == -EINVAL ? 6 : 1;
                printf("%s %llu %llu\n", file, (unsigned long long) offset, (unsigned long long) size);
                free(file);
                return 0;
        }
        fprintf(stderr, "usage: %s clone SOURCE DEVICE UUID MIN_PAYLOAD | erase DEVICE UUID... | overlay ROOT NAME UUID | "
                "overlay-end ROOT | initramfs-check ROOT NAME UUID | table-key PARAMS | crypttab-keyfile PATH NAME\n", argv[0]);
        return 64;
}
