/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The header part of luks-clone, for test-luks-clone.sh on loop devices
 * (the host has no device-mapper, so the step itself cannot open the clone
 * here):
 *   luks-header-tool clone SOURCE DEVICE UUID MIN_PAYLOAD_BYTES
 *   luks-header-tool erase DEVICE UUID...
 * Exit 0 on success; on failure the sentence goes to stderr and the exit
 * status is 2 for -ENOSPC, 3 for -EEXIST, 1 otherwise. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps/luks.h"

static int fail(int r, char *error) {
        fprintf(stderr, "%s (%s)\n", error ? error : "failed", strerror(-r));
        free(error);
        return r == -ENOSPC ? 2 : r == -EEXIST ? 3 : 1;
}

int main(int argc, char *argv[]) {
        char *error = NULL;
        int r;

        if (argc == 6 && strcmp(argv[1], "clone") == 0) {
                r = luks_header_clone(argv[2], argv[3], argv[4], strtoull(argv[5], NULL, 10), &error);
                return r < 0 ? fail(r, error) : 0;
        }
        if (argc >= 4 && strcmp(argv[1], "erase") == 0) {
                r = luks_header_erase(argv[2], (const char *const *) argv + 3, &error);
                return r < 0 ? fail(r, error) : 0;
        }
        fprintf(stderr, "usage: %s clone SOURCE DEVICE UUID MIN_PAYLOAD | erase DEVICE UUID...\n", argv[0]);
        return 64;
}
