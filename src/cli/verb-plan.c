/* SPDX-License-Identifier: GPL-2.0-or-later */
/* rootraid plan: inspect, choose the strategy, write the plan, print it.
 * Nothing on the machine changes; a refusal writes no file. */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/verbs.h"
#include "inspect/inspect.h"
#include "plan/plan.h"
#include "util/fileio.h"
#include "util/log.h"
#include "util/strutil.h"

static void help(void) {
        printf("Usage: rootraid plan --disk DEV [--disk DEV]... [OPTIONS]\n\n"
               "Inspect this machine and plan its migration onto RAID, without changing anything.\n"
               "Writes the plan (JSON) and prints a summary: today's layout, the target layout,\n"
               "every step, the disks overwritten, the data to copy, the point of no return.\n\n"
               "Options:\n"
               "  -d --disk DEV      a new disk to use (repeat for each); /dev/sdX or a /dev/disk/by-id path\n"
               "  -l --level N       RAID level: 1 (default, 2+ disks), 5 (3+), 6 (4+), 10 (4+),\n"
               "                     counting the current disk, which joins last\n"
               "  -o --output FILE   where to write the plan (default: rootraid-plan.json)\n"
               "     --json          print the plan as JSON instead of the summary\n"
               "     --wipe          allow target disks that carry signatures; the plan erases them\n"
               "     --integrity     put dm-integrity (crc32c checksums) under every array member but\n"
               "                     /boot's, so md repairs a block that fails its checksum from\n"
               "                     another disk (needs a separate /boot and initramfs-tools)\n"
               "     --switch HOW    how the system moves onto the arrays: reboot (default), or\n"
               "                     soft-reboot: systemd's soft-reboot (254 or later) restarts the\n"
               "                     services from the arrays without a reboot; the old disk joins\n"
               "                     after your next reboot has booted from the arrays\n"
               "     --sysroot DIR   inspect a fixture tree instead of this machine\n"
               "  -h --help          show this help\n");
}

int verb_inspect(const char *sysroot, struct facts **ret) {
        _cleanup_free_ char *error = NULL;
        int r;

        if (!sysroot && geteuid() != 0)
                return log_error_errno(-EACCES, "Reading the disks' partition tables and superblocks needs root: "
                                       "run as root (or use --sysroot DIR).");
        struct inspect_options io = { .sysroot = sysroot };
        r = inspect_system(&io, ret, &error);
        if (r < 0)
                return log_error_errno(r, "Cannot inspect %s: %s", sysroot ? sysroot : "the system", error ? error : strerror(-r));
        return 0;
}

int verb_plan(int argc, char *argv[]) {
        enum { ARG_JSON = 0x100, ARG_WIPE, ARG_SYSROOT, ARG_INTEGRITY, ARG_SWITCH };
        static const struct option options[] = {
                { "disk", required_argument, NULL, 'd' },
                { "level", required_argument, NULL, 'l' },
                { "output", required_argument, NULL, 'o' },
                { "json", no_argument, NULL, ARG_JSON },
                { "wipe", no_argument, NULL, ARG_WIPE },
                { "integrity", no_argument, NULL, ARG_INTEGRITY },
                { "switch", required_argument, NULL, ARG_SWITCH },
                { "sysroot", required_argument, NULL, ARG_SYSROOT },
                { "help", no_argument, NULL, 'h' },
                { 0 }
        };
        _cleanup_strv_free_ char **disks = NULL;
        _cleanup_facts_free_ struct facts *facts = NULL;
        _cleanup_plan_free_ struct plan *plan = NULL;
        _cleanup_free_ char *error = NULL;
        const char *output = "rootraid-plan.json", *sysroot = NULL;
        struct plan_options po = {};
        bool json = false;
        int c, r;

        while ((c = getopt_long(argc, argv, "d:l:o:h", options, NULL)) >= 0) {
                switch (c) {
                case 'd':
                        if (strv_extend(&disks, optarg) < 0)
                                return log_oom();
                        break;
                case 'l': {
                        char *end;
                        unsigned long l = strtoul(optarg, &end, 10);
                        if (*optarg == 0 || *end != 0 || !(l == 1 || l == 5 || l == 6 || l == 10))
                                return log_error_errno(-EINVAL, "Invalid --level '%s': use 1, 5, 6 or 10.", optarg);
                        po.level = (unsigned) l;
                        break;
                }
                case 'o':
                        output = optarg;
                        break;
                case ARG_JSON:
                        json = true;
                        break;
                case ARG_WIPE:
                        po.wipe = true;
                        break;
                case ARG_INTEGRITY:
                        po.integrity = true;
                        break;
                case ARG_SWITCH:
                        if (!streq(optarg, "reboot") && !streq(optarg, "soft-reboot"))
                                return log_error_errno(-EINVAL, "Invalid --switch '%s': use reboot or soft-reboot.", optarg);
                        po.soft_reboot = streq(optarg, "soft-reboot");
                        break;
                case ARG_SYSROOT:
                        sysroot = optarg;
                        break;
                case 'h':
                        help();
                        return 0;
                default:
                        return -EINVAL;
                }
        }
        if (optind < argc)
                return log_error_errno(-EINVAL, "Unexpected argument '%s'. Name disks with --disk.", argv[optind]);
        if (!disks)
                return log_error_errno(-EINVAL, "No target disk: name each new disk with --disk DEV.");
        if (po.soft_reboot) {
                _cleanup_free_ char *unit = path_join(sysroot ?: "/", SOFT_REBOOT_UNIT);
                if (!unit)
                        return log_oom();
                if (access(unit, F_OK) < 0)
                        return log_error_errno(-EOPNOTSUPP,
                                               "Refused, nothing written: --switch soft-reboot needs systemd 254 or later "
                                               "(%s is missing); plan with a reboot (the default).", unit);
        }
        r = verb_inspect(sysroot, &facts);
        if (r < 0)
                return r;

        po.disks = disks;
        r = plan_build(facts, &po, &plan, &error);
        if (r < 0)
                return log_error_errno(r, "Refused, nothing written: %s", error ? error : strerror(-r));

        r = plan_save(plan, output);
        if (r < 0)
                return log_error_errno(r, "Cannot write the plan to %s: %m", output);

        if (json) {
                _cleanup_free_ char *s = plan_to_string(plan);
                if (!s)
                        return log_oom();
                puts(s);
        } else {
                r = plan_print_summary(plan, stdout);
                if (r < 0)
                        return log_error_errno(r, "Cannot print the summary: %m");
                printf("\nPlan written to %s; nothing was changed. `rootraid show %s` prints it again, `--check` tells whether it still matches the machine.\n", output, output);
        }
        return 0;
}
