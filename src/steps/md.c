/* SPDX-License-Identifier: GPL-2.0-or-later */
/* md helpers for the step kinds; see md.h. */
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "steps/luks.h"
#include "steps/md.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

int md_resolve_partition(const char *disk_id, unsigned partno, char **ret_node) {
        _cleanup_free_ char *real = NULL, *sysdir = NULL;
        _cleanup_(steps_closedirp) DIR *d = NULL;
        struct dirent *de;
        const char *name;

        real = realpath(disk_id, NULL);
        if (!real)
                return -errno;
        if (partno == 0) {
                *ret_node = TAKE_PTR(real);
                return 0;
        }
        name = strrchr(real, '/');
        name = name ? name + 1 : real;
        if (asprintf(&sysdir, "/sys/class/block/%s", name) < 0)
                return -ENOMEM;
        d = opendir(sysdir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *pfile = NULL, *value = NULL;
                if (!startswith(de->d_name, name))
                        continue;
                if (asprintf(&pfile, "%s/%s/partition", sysdir, de->d_name) < 0)
                        return -ENOMEM;
                if (read_one_line_file(pfile, &value) < 0)
                        continue;
                if (strtoul(value, NULL, 10) != partno)
                        continue;
                char *node;
                if (asprintf(&node, "/dev/%s", de->d_name) < 0)
                        return -ENOMEM;
                *ret_node = node;
                return 0;
        }
        return -ENOENT;
}

int md_resolve_member(json_object *member, char **ret_node) {
        json_object *v;
        const char *disk;
        int64_t partno = 0;

        if (!json_object_object_get_ex(member, "disk", &v) || !(disk = json_object_get_string(v)))
                return -EBADMSG;
        /* --integrity: the member is the dm-integrity mapping on the
         * partition (integrity-format opened it).  Named by its kernel
         * name /dev/dm-N when it exists: md's sysfs lists members as
         * dev-dm-N, and /dev/mapper/NAME is a symlink only when udev made
         * it (the initramfs opens the mappings without udev, and
         * libdevmapper then makes a plain node there). */
        if (json_object_object_get_ex(member, "integrity", &v) && v && json_object_get_string(v)) {
                char *node, sys[64];
                struct stat st;
                if (asprintf(&node, "/dev/mapper/%s", json_object_get_string(v)) < 0)
                        return -ENOMEM;
                if (stat(node, &st) == 0 && S_ISBLK(st.st_mode)) {
                        _cleanup_free_ char *real = NULL;
                        snprintf(sys, sizeof sys, "/sys/dev/block/%u:%u", major(st.st_rdev), minor(st.st_rdev));
                        real = realpath(sys, NULL);
                        const char *kname = real ? strrchr(real, '/') : NULL;
                        char *dev = NULL;
                        if (kname && asprintf(&dev, "/dev%s", kname) >= 0 && access(dev, F_OK) == 0) {
                                free(node);
                                node = dev;
                        } else
                                free(dev);
                }
                *ret_node = node;
                return 0;
        }
        if (json_object_object_get_ex(member, "partno", &v) && v)
                partno = json_object_get_int64(v);
        if (partno < 0 || partno > 4096)
                return -EBADMSG;
        return md_resolve_partition(disk, (unsigned) partno, ret_node);
}

bool md_uuid_equal(const char *a, const char *b) {
        if (!a || !b)
                return false;
        for (;;) {
                while (*a && !isxdigit((unsigned char) *a))
                        a++;
                while (*b && !isxdigit((unsigned char) *b))
                        b++;
                if (!*a || !*b)
                        return !*a && !*b;
                if (tolower((unsigned char) *a) != tolower((unsigned char) *b))
                        return false;
                a++, b++;
        }
}

/* The value of KEY=value in mdadm's --export output, or NULL. */
static char *export_value(const char *text, const char *key) {
        size_t l = strlen(key);
        for (const char *p = text; p && *p;) {
                const char *eol = strchr(p, '\n');
                size_t n = eol ? (size_t) (eol - p) : strlen(p);
                if (n > l && strncmp(p, key, l) == 0 && p[l] == '=')
                        return strndup(p + l + 1, n - l - 1);
                p = eol ? eol + 1 : NULL;
        }
        return NULL;
}

int md_examine_uuid(const char *dev, char **ret_uuid) {
        const char *argv[] = { "mdadm", "--examine", "--export", dev, NULL };
        _cleanup_free_ char *out = NULL;
        char *uuid;
        int r;

        r = run_argv(argv, RUN_CAPTURE_STDOUT | RUN_QUIET_STDERR, &out, NULL);
        if (r < 0)
                return r;
        uuid = out ? export_value(out, "MD_UUID") : NULL;
        if (!uuid)
                return -ENOENT;
        *ret_uuid = uuid;
        return 0;
}

int md_find_array(const char *uuid, char **ret_node) {
        _cleanup_(steps_closedirp) DIR *d = opendir("/sys/block");
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *node = NULL, *out = NULL, *u = NULL, *state = NULL;
                if (!startswith(de->d_name, "md"))
                        continue;
                if (asprintf(&node, "/dev/%s", de->d_name) < 0)
                        return -ENOMEM;
                /* An inactive array (assembly unfinished) has no detail. */
                if (md_sysfs_read(node, "array_state", &state) < 0 || streq(state, "inactive") || streq(state, "clear"))
                        continue;
                const char *argv[] = { "mdadm", "--detail", "--export", node, NULL };
                if (run_argv(argv, RUN_CAPTURE_STDOUT | RUN_QUIET_STDERR, &out, NULL) != 0 || !out)
                        continue;
                u = export_value(out, "MD_UUID");
                if (md_uuid_equal(u, uuid)) {
                        *ret_node = TAKE_PTR(node);
                        return 0;
                }
        }
        return -ENOENT;
}

int md_sysfs_read(const char *node, const char *attr, char **ret_value) {
        _cleanup_free_ char *real = realpath(node, NULL), *path = NULL;
        const char *name;

        if (!real)
                return -errno;
        name = strrchr(real, '/');
        name = name ? name + 1 : real;
        if (asprintf(&path, "/sys/block/%s/md/%s", name, attr) < 0)
                return -ENOMEM;
        return read_one_line_file(path, ret_value);
}

int md_has_member(const char *array_node, const char *member_node) {
        _cleanup_free_ char *real = realpath(member_node, NULL), *attr = NULL, *state = NULL;
        const char *name;
        int r;

        if (!real)
                return errno == ENOENT ? 0 : -errno;
        name = strrchr(real, '/');
        name = name ? name + 1 : real;
        if (asprintf(&attr, "dev-%s/state", name) < 0)
                return -ENOMEM;
        r = md_sysfs_read(array_node, attr, &state);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        return strstr(state, "faulty") ? 0 : 1;
}

void md_health_done(struct md_health *h) {
        free(h->sync_action);
        h->sync_action = NULL;
}

int md_read_health(const char *node, struct md_health *ret) {
        _cleanup_free_ char *real = realpath(node, NULL), *dir = NULL, *v = NULL;
        _cleanup_(steps_closedirp) DIR *d = NULL;
        struct md_health h = {};
        struct dirent *de;
        int r;

        if (!real)
                return -errno;
        if (asprintf(&dir, "/sys/block/%s/md", strrchr(real, '/') + 1) < 0)
                return -ENOMEM;
        r = md_sysfs_read(node, "raid_disks", &v);
        if (r < 0)
                return r;
        h.raid_disks = (unsigned) strtoul(v, NULL, 10);
        free(v);
        v = NULL;
        if (md_sysfs_read(node, "degraded", &v) >= 0)
                h.degraded = (unsigned) strtoul(v, NULL, 10);
        free(v);
        v = NULL;
        if (md_sysfs_read(node, "sync_completed", &v) >= 0) {
                unsigned long long a, b;
                if (sscanf(v, "%llu / %llu", &a, &b) == 2) {
                        h.sync_done = a;
                        h.sync_total = b;
                }
        }
        if (md_sysfs_read(node, "array_state", &v) >= 0)
                h.read_auto = streq(v, "read-auto");
        free(v);
        v = NULL;
        r = md_sysfs_read(node, "sync_action", &h.sync_action);
        if (r < 0)
                h.sync_action = strdup("none"); /* raid0 and linear have no sync */
        if (!h.sync_action)
                return -ENOMEM;
        h.idle = streq(h.sync_action, "idle") || streq(h.sync_action, "none");

        d = opendir(dir);
        if (!d) {
                md_health_done(&h);
                return -errno;
        }
        while ((de = readdir(d))) {
                _cleanup_free_ char *p = NULL, *state = NULL;
                if (!startswith(de->d_name, "dev-"))
                        continue;
                if (asprintf(&p, "%s/%s/state", dir, de->d_name) < 0) {
                        md_health_done(&h);
                        return -ENOMEM;
                }
                if (read_one_line_file(p, &state) >= 0 && strstr(state, "in_sync") && !strstr(state, "faulty"))
                        h.in_sync++;
        }
        *ret = h;
        return 0;
}

const char *md_plan_uuid(const struct plan *p, const char *device) {
        json_object *arrays, *v;

        if (!p || !p->target || !json_object_object_get_ex(p->target, "arrays", &arrays))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(arrays); i++) {
                json_object *a = json_object_array_get_idx(arrays, i);
                if (json_object_object_get_ex(a, "device", &v) && streq_ptr(json_object_get_string(v), device) &&
                    json_object_object_get_ex(a, "uuid", &v))
                        return json_object_get_string(v);
        }
        return NULL;
}

char *md_plan_node(struct step_context *ctx, const char *device) {
        struct stat st;
        const char *uuid;
        char *node;

        if (stat(device, &st) == 0 || run_get_dry_run() || !ctx || !ctx->plan || !ctx->plan->target)
                return strdup(device);
        /* A filesystem in a LUKS clone: after the switch its mapping has
         * the crypttab name, not the plan's rootraid-NAME. */
        if (startswith(device, "/dev/mapper/"))
                return luks_plan_node(ctx->plan, "/sys/block", device);
        uuid = md_plan_uuid(ctx->plan, device);
        if (uuid && md_find_array(uuid, &node) >= 0)
                return node;
        return strdup(device);
}

char *md_udev_link_rule(const char *name, const char *uuid) {
        static const char name_chars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-";
        _cleanup_free_ char *lower = NULL;
        char *rule;

        if (isempty(name) || isempty(uuid) || name[strspn(name, name_chars)] || uuid[strspn(uuid, "0123456789abcdefABCDEF:")])
                return NULL;
        /* udev compares case-sensitively, and mdadm reports lower case */
        lower = strdup(uuid);
        if (!lower)
                return NULL;
        for (char *u = lower; *u; u++)
                *u = (char) tolower((unsigned char) *u);
        if (asprintf(&rule,
                     "# rootraid mount-target: the array assembled without its name after a power cut gets\n"
                     "# /dev/md/%s from udev, as mdadm.conf will give it. In /run: gone at the next boot.\n"
                     "SUBSYSTEM==\"block\", KERNEL==\"md*\", ENV{MD_UUID}==\"%s\", SYMLINK+=\"md/%s\"\n",
                     name, lower, name) < 0)
                return NULL;
        return rule;
}
