/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The runtime udev rule mount-target writes for an array assembled without
 * its name: it matches the array by its UUID in udev's lower-case form
 * (the plan may carry upper case), adds /dev/md/NAME, and refuses names and
 * UUIDs that would let a plan inject rule syntax. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "steps/md.h"

int main(void) {
        char *r = md_udev_link_rule("root", "F6446AFF:338a8811:9ae38570:93cda06b");
        assert(r);
        assert(strstr(r, "SUBSYSTEM==\"block\", KERNEL==\"md*\", "
                         "ENV{MD_UUID}==\"f6446aff:338a8811:9ae38570:93cda06b\", SYMLINK+=\"md/root\"\n"));
        /* every line but the rule is a comment */
        size_t rules = 0;
        for (char *l = r; *l; l = strchr(l, '\n') + 1) {
                if (*l != '#')
                        rules++;
                assert(strchr(l, '\n'));
        }
        assert(rules == 1);
        free(r);

        r = md_udev_link_rule("boot_efi-1.x", "0:1");
        assert(r && strstr(r, "SYMLINK+=\"md/boot_efi-1.x\""));
        free(r);

        assert(!md_udev_link_rule("root\", RUN+=\"/bin/sh", "f6446aff:338a8811:9ae38570:93cda06b"));
        assert(!md_udev_link_rule("a/b", "f6446aff:338a8811:9ae38570:93cda06b"));
        assert(!md_udev_link_rule("root", "f6446aff\" RUN+=\"x"));
        assert(!md_udev_link_rule("", "f6446aff:338a8811:9ae38570:93cda06b"));
        assert(!md_udev_link_rule("root", NULL));
        return 0;
}
