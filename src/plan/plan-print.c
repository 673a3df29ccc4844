/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The plan for people: what `rootraid plan` and `rootraid show` print.  It
 * reads only the plan (not the facts), so a saved plan prints the same
 * anywhere. */
#include <inttypes.h>
#include <stdio.h>

#include "plan/plan.h"
#include "plan/plan-internal.h"
#include "util/strutil.h"




static void print_node(FILE *f, json_object *node, const char *prefix, bool last, bool top) {
        char size[FORMAT_BYTES_MAX], used[FORMAT_BYTES_MAX], next[256];
        const char *fstype = pj_str(node, "fstype"), *label = pj_str(node, "label"), *mp = pj_str(node, "mountpoint");

        fprintf(f, "  %s%s%s  %s %s", prefix, top ? "" : last ? "└─" : "├─", strna(pj_str(node, "device")),
                strna(pj_str(node, "type")), format_bytes(size, sizeof size, pj_u64(node, "size")));
        if (fstype)
                fprintf(f, "  %s", fstype);
        if (label)
                fprintf(f, " \"%s\"", label);
        if (mp)
                fprintf(f, "  %s", mp);
        if (pj_u64(node, "used"))
                fprintf(f, " (%s used)", format_bytes(used, sizeof used, pj_u64(node, "used")));
        fputc('\n', f);

        json_object *kids = pj_get(node, "children");
        snprintf(next, sizeof next, "%s%s", prefix, top ? "" : last ? "  " : "│ ");
        for (size_t i = 0; i < json_object_array_length(kids); i++)
                print_node(f, json_object_array_get_idx(kids, i), next, i + 1 == json_object_array_length(kids), false);
}

int plan_print_summary(const struct plan *p, FILE *f) {
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        json_object *t = p->target;

        fprintf(f, "Plan for %s, made %s by rootraid %s: strategy %s, RAID %u.\n",
                strna(p->hostname), strna(p->created), strna(p->tool_version), strna(strategy_to_string(p->strategy)), p->level);
        fprintf(f, "Facts fingerprint: %s\n\n", strna(p->fingerprint));

        fprintf(f, "Today:\n");
        json_object *tree = pj_get(p->source, "tree");
        for (size_t i = 0; i < json_object_array_length(tree); i++) {
                json_object *node = json_object_array_get_idx(tree, i);
                if (i == 1)
                        fprintf(f, "  and the target disk%s:\n", json_object_array_length(tree) > 2 ? "s" : "");
                print_node(f, node, "", true, true);
        }

        fprintf(f, "\nAfter the migration:\n");
        json_object *disks = pj_get(t, "disks");
        json_object *d0 = json_object_array_get_idx(disks, 0);
        fprintf(f, "  Every disk gets the same %s partition table:\n", streq_ptr(pj_str(d0, "label"), "gpt") ? "GPT" : "MBR");
        json_object *parts = pj_get(d0, "partitions");
        for (size_t i = 0; i < json_object_array_length(parts); i++) {
                json_object *pt = json_object_array_get_idx(parts, i);
                const char *use = pj_str(pt, "use");
                fprintf(f, "    %2" PRIu64 "  at %-9s %-10s ", pj_u64(pt, "partno"),
                        format_bytes(a, sizeof a, pj_u64(pt, "start")), format_bytes(b, sizeof b, pj_u64(pt, "size")));
                if (streq_ptr(use, "raid"))
                        fprintf(f, "member of /dev/md/%s\n", strna(pj_str(pt, "array")));
                else if (streq_ptr(use, "esp"))
                        fprintf(f, "EFI system partition (one per disk, not on RAID)\n");
                else
                        fprintf(f, "BIOS boot partition (GRUB core image, one per disk)\n");
        }
        fprintf(f, "  on:\n");
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                json_object *d = json_object_array_get_idx(disks, i);
                bool old = streq_ptr(pj_str(d, "role"), "old");
                fprintf(f, "    %s  %s  %s\n", strna(pj_str(d, "device")), format_bytes(a, sizeof a, pj_u64(d, "size")),
                        old ? "(the current disk: joins after the switch)" : "(new)");
        }

        json_object *arrays = pj_get(t, "arrays"), *fss = pj_get(t, "filesystems"), *crypts = pj_get(t, "crypts"), *vgs = pj_get(t, "volume_groups");
        fprintf(f, "  Arrays (metadata 1.2, internal bitmap; the current disk's slot missing until it joins):\n");
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                json_object *ar = json_object_array_get_idx(arrays, i);
                const char *name = pj_str(ar, "name");
                fprintf(f, "    %-16s RAID %" PRIu64 ", %zu disks, %s: ", strna(pj_str(ar, "device")), pj_u64(ar, "level"),
                        json_object_array_length(pj_get(ar, "members")), format_bytes(a, sizeof a, pj_u64(ar, "size")));
                /* --integrity: the members are dm-integrity mappings */
                if (pj_str(json_object_array_get_idx(pj_get(ar, "members"), 0), "integrity"))
                        fprintf(f, "members on dm-integrity (crc32c), ");
                bool said = false;
                for (size_t k = 0; k < json_object_array_length(crypts); k++) {
                        json_object *c = json_object_array_get_idx(crypts, k);
                        if (streq_ptr(pj_str(c, "array"), name)) {
                                fprintf(f, "LUKS (header cloned from %s, opened as %s) holding ", strna(pj_str(c, "source_device")),
                                        strna(pj_str(c, "name")));
                                for (size_t m = 0; m < json_object_array_length(fss); m++) {
                                        json_object *fs = json_object_array_get_idx(fss, m);
                                        if (streq_ptr(pj_str(fs, "crypt"), pj_str(c, "name")))
                                                fprintf(f, "%s at %s", strna(pj_str(fs, "type")), strna(pj_str(fs, "mountpoint")));
                                }
                                said = true;
                        }
                }
                for (size_t k = 0; k < json_object_array_length(vgs); k++) {
                        json_object *v = json_object_array_get_idx(vgs, k);
                        if (streq_ptr(pj_str(v, "pv_array"), name)) {
                                /* after "LUKS (...) holding " when the PV is inside the container */
                                fprintf(f, "%s physical volume of %s (replaces %s)", said ? "an LVM" : "LVM",
                                        strna(pj_str(v, "name")), strna(pj_str(v, "old_pv_device")));
                                said = true;
                        }
                }
                for (size_t m = 0; m < json_object_array_length(fss) && !said; m++) {
                        json_object *fs = json_object_array_get_idx(fss, m);
                        if (!streq_ptr(pj_str(fs, "array"), name))
                                continue;
                        if (streq_ptr(pj_str(fs, "type"), "swap"))
                                fprintf(f, "swap");
                        else
                                fprintf(f, "%s at %s", strna(pj_str(fs, "type")), strna(pj_str(fs, "mountpoint")));
                        if (pj_str(fs, "label"))
                                fprintf(f, ", label \"%s\"", pj_str(fs, "label"));
                        fprintf(f, ", UUID %s", strna(pj_str(fs, "uuid")));
                        said = true;
                }
                fputc('\n', f);
        }

        fprintf(f, "\nSteps:\n");
        for (size_t i = 0; i < p->n_steps; i++) {
                if (i == p->point_of_no_return)
                        fprintf(f, "  ---- point of no return: until here `rootraid rollback` restores today's system ----\n");
                fprintf(f, "  %2zu. %s\n", i + 1, p->steps[i].description);
        }

        fprintf(f, "\nDisks overwritten:\n");
        for (size_t i = 0; i < json_object_array_length(disks); i++) {
                json_object *d = json_object_array_get_idx(disks, i);
                if (streq_ptr(pj_str(d, "role"), "new"))
                        fprintf(f, "  %s (new; everything on it is erased)\n", strna(pj_str(d, "device")));
        }
        if (p->point_of_no_return < p->n_steps)
                fprintf(f, "  %s (the current disk, from step %zu on, after the system runs from the arrays)\n",
                        strna(pj_str(d0, "device")), p->point_of_no_return + 1);
        fprintf(f, "Data to copy%s: %s.\n", p->strategy == STRATEGY_LVM ? " or move (pvmove)" : "",
                format_bytes(a, sizeof a, p->copy_bytes));
        if (p->point_of_no_return < p->n_steps)
                fprintf(f, "Point of no return: step %zu (%s): before it, rollback restores the current system exactly; "
                        "from it on, the old disk is overwritten.\n", p->point_of_no_return + 1, p->steps[p->point_of_no_return].id);
        else
                fprintf(f, "No step writes the current disk.\n");
        for (size_t i = 0; i < p->n_steps; i++)
                if (p->steps[i].kind == STEP_SWITCH_ROOT)
                        fprintf(f, "Switch without a reboot: step %zu (%s): from it on, rollback is refused too, because the "
                                "services write to the arrays; the old disk is overwritten only after your next reboot has "
                                "started the system from them.\n", i + 1, p->steps[i].id);
        return ferror(f) ? -EIO : 0;
}
