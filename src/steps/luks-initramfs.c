/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The luks strategy's part of update-initramfs (see luks.h): the crypttab
 * overlay for the generator run in the chroot, and the check that each
 * image can unlock the cloned container unattended. */
#include <dirent.h>
#include <stdio.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "plan/plan.h"
#include "steps/luks.h"
#include "steps/md.h"
#include "steps/target.h"
#include "util/fileio.h"
#include "util/run.h"
#include "util/strutil.h"

#define OVERLAY TARGET_STATE_DIR "/crypttab.initramfs"

/* The plan's crypts (target.crypts[]), or NULL. */
static json_object *plan_crypts(const struct plan *p) {
        json_object *c;
        if (!p || !p->target || !json_object_object_get_ex(p->target, "crypts", &c) ||
            json_object_array_length(c) == 0)
                return NULL;
        return c;
}

static const char *crypt_field(json_object *crypt, const char *key) {
        json_object *v;
        return json_object_object_get_ex(crypt, key, &v) ? json_object_get_string(v) : NULL;
}

/* The plan's crypt whose crypttab name is name[0..len), or NULL. */
static json_object *planned_crypt(json_object *crypts, const char *name, size_t len) {
        for (size_t i = 0; i < json_object_array_length(crypts); i++) {
                json_object *c = json_object_array_get_idx(crypts, i);
                const char *n = crypt_field(c, "name");
                if (n && strlen(n) == len && memcmp(n, name, len) == 0)
                        return c;
        }
        return NULL;
}

/* The crypttab line that opens the clone of crypt c as its open_as name,
 * with the key file and options of the original line s..eol (fields >= 2). */
static void write_clone_line(FILE *f, json_object *c, const char *s, const char *eol) {
        char field[4][512] = {};
        unsigned n = 0;

        for (const char *q = s; q < eol && n < ELEMENTSOF(field);) {
                size_t len = strcspn(q, " \t\n");
                if (len > (size_t) (eol - q))
                        len = (size_t) (eol - q);
                snprintf(field[n++], sizeof field[0], "%.*s", (int) len, q);
                q += len;
                q += strspn(q, " \t");
        }
        fprintf(f, "\n%s UUID=%s %s %s%sinitramfs", strna(crypt_field(c, "open_as")), strna(crypt_field(c, "uuid")),
                n >= 3 ? field[2] : "none", n >= 4 ? field[3] : "", n >= 4 ? "," : "");
}

static char *root_path(const char *root, const char *path) {
        return path_join(streq(root, "/") ? "" : root, path);
}

void luks_initramfs_overlay_end(const char *root) {
        _cleanup_free_ char *tab = root_path(root, "/etc/crypttab");
        dev_t d;
        if (!tab)
                return;
        while (target_mounted_dev(tab, &d) >= 0)
                if (umount2(tab, MNT_DETACH) < 0)
                        break;
        (void) unlink(OVERLAY); /* absent when no overlay was made */
}

int luks_initramfs_overlay(const struct plan *p, const char *root, bool clones, char **ret_error) {
        _cleanup_free_ char *tab = NULL, *text = NULL, *out = NULL;
        json_object *crypts = plan_crypts(p);
        size_t size = 0, out_size = 0;
        FILE *f;
        int r;

        if (!crypts)
                return 0;
        tab = root_path(root, "/etc/crypttab");
        if (!tab)
                return -ENOMEM;
        luks_initramfs_overlay_end(root); /* one left by an interrupted run */
        r = read_full_file(tab, 1 << 20, &text, &size);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return asprintf(ret_error, "Cannot read %s: %s", tab, strerror(-r)) < 0 ? -ENOMEM : r;

        f = open_memstream(&out, &out_size);
        if (!f)
                return -ENOMEM;
        for (const char *l = text, *end = text + size; l < end;) {
                const char *nl = memchr(l, '\n', (size_t) (end - l)), *eol = nl ? nl : end;
                const char *s = l + strspn(l, " \t");
                size_t name_len = strcspn(s, " \t\n");
                unsigned fields = 0;

                for (const char *q = s; q < eol && *q != '#';) {
                        fields++;
                        q += strcspn(q, " \t\n");
                        q += strspn(q, " \t");
                }
                /* Trailing whitespace would make the appended option a new
                 * field: leave it out. */
                const char *e = eol;
                while (e > l && (e[-1] == ' ' || e[-1] == '\t'))
                        e--;
                fwrite(l, 1, (size_t) (e - l), f);
                json_object *c = s < eol && *s != '#' && fields >= 2 ? planned_crypt(crypts, s, name_len) : NULL;
                if (c) {
                        /* name source [key [options]] */
                        fputs(fields == 2 ? " none initramfs" : fields == 3 ? " initramfs" : ",initramfs", f);
                        if (clones)
                                write_clone_line(f, c, s, e);
                } else
                        fwrite(e, 1, (size_t) (eol - e), f);
                if (nl)
                        fputc('\n', f);
                l = nl ? nl + 1 : end;
        }
        if (fclose(f) != 0)
                return -errno;

        (void) mkdir_p(TARGET_STATE_DIR, 0700); /* the write says why if it is missing */
        r = write_file_atomic(OVERLAY, out, out_size, 0600);
        if (r < 0)
                return asprintf(ret_error, "Cannot write %s: %s", OVERLAY, strerror(-r)) < 0 ? -ENOMEM : r;
        if (mount(OVERLAY, tab, NULL, MS_BIND, NULL) < 0) {
                r = -errno;
                (void) unlink(OVERLAY);
                return asprintf(ret_error, "Cannot bind-mount %s on %s: %s", OVERLAY, tab, strerror(-r)) < 0 ? -ENOMEM : r;
        }
        return 1;
}

/* One unpacked image (dir): >0 good, 0 with *ret_problem. */
static int check_unpacked(json_object *crypts, bool clones, const char *dir, const char *image, char **ret_problem) {
        _cleanup_free_ char *base = NULL, *tab = NULL, *text = NULL;
        int r;

        /* unmkinitramfs puts the main archive under main/ when early
         * (microcode) archives precede it. */
        for (int i = 0; i < 2 && !text; i++) {
                free(base);
                free(tab);
                tab = NULL;
                base = path_join(dir, i == 0 ? "main" : "");
                if (!base || !(tab = path_join(base, "cryptroot/crypttab")))
                        return -ENOMEM;
                r = read_full_file(tab, 1 << 20, &text, NULL);
                if (r < 0 && r != -ENOENT)
                        return r;
        }
        if (!text)
                return asprintf(ret_problem, "%s has no cryptroot/crypttab (is cryptsetup-initramfs installed in the new root?)",
                                image) < 0 ? -ENOMEM : 0;

        for (size_t i = 0; i < json_object_array_length(crypts); i++) {
                json_object *c = json_object_array_get_idx(crypts, i);
                const char *name = crypt_field(c, clones ? "open_as" : "name"), *uuid = crypt_field(c, "uuid");
                _cleanup_free_ char *lines = strdup(text);
                bool found = false;
                if (!lines)
                        return -ENOMEM;
                if (!name || !uuid)
                        continue;
                for (char *line = lines, *next; line && !found; line = next) {
                        char *f[3] = {}, *save = NULL;
                        next = strchr(line, '\n');
                        if (next)
                                *next++ = 0;
                        for (size_t k = 0; k < ELEMENTSOF(f); k++)
                                f[k] = strtok_r(k == 0 ? line : NULL, " \t", &save);
                        if (!f[0] || !streq(f[0], name))
                                continue;
                        found = true;
                        const char *u = f[1] ? startswith(f[1], "UUID=") : NULL;
                        if (!u || strcasecmp(u, uuid) != 0)
                                return asprintf(ret_problem, "the crypttab inside %s opens %s from %s, not UUID=%s", image,
                                                name, strna(f[1]), uuid) < 0 ? -ENOMEM : 0;
                        if (!f[2] || streq(f[2], "none"))
                                continue; /* a passphrase, as the system had */
                        if (startswith(f[2], "/FIXME-initramfs-rootmnt"))
                                return asprintf(ret_problem,
                                                "the key file of %s is not inside %s (cryptsetup-initramfs copies it "
                                                "only when KEYFILE_PATTERN in /etc/cryptsetup-initramfs/conf-hook matches it)",
                                                name, image) < 0 ? -ENOMEM : 0;
                        _cleanup_free_ char *key = path_join(base, f[2]);
                        if (!key)
                                return -ENOMEM;
                        if (access(key, F_OK) < 0)
                                return asprintf(ret_problem, "the key file %s of %s is not inside %s", f[2], name, image) < 0
                                               ? -ENOMEM
                                               : 0;
                }
                if (!found)
                        return asprintf(ret_problem, "the crypttab inside %s has no entry %s, so it cannot unlock the root",
                                        image, name) < 0 ? -ENOMEM : 0;
        }
        return 1;
}

int luks_initramfs_check(const struct plan *p, const char *root, const char *kernel_release, bool clones, char **ret_problem) {
        _cleanup_free_ char *moddir = NULL;
        _cleanup_(steps_closedirp) DIR *d = NULL;
        json_object *crypts = plan_crypts(p);
        const char *r0 = streq(root, "/") ? "" : root;
        struct dirent *de;
        int r;

        if (!crypts)
                return 1;
        if (asprintf(&moddir, "%s/lib/modules", r0) < 0)
                return -ENOMEM;
        d = opendir(moddir);
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                _cleanup_free_ char *img = NULL, *tmp = NULL;
                if (de->d_name[0] == '.' || (kernel_release && !streq(kernel_release, de->d_name)))
                        continue;
                if (asprintf(&img, "%s/boot/initrd.img-%s", r0, de->d_name) < 0)
                        return -ENOMEM;
                if (access(img, F_OK) < 0)
                        continue; /* target_initramfs_check() says when a kernel lacks its image */
                /* Unpacked in the root the image belongs to: /run is small. */
                if (asprintf(&tmp, "%s/var/tmp/rootraid-luks-initrd.XXXXXX", r0) < 0)
                        return -ENOMEM;
                if (!mkdtemp(tmp))
                        return -errno;
                const char *un[] = { "unmkinitramfs", img, tmp, NULL };
                r = run_argv_checked(un, 0, NULL);
                if (r >= 0)
                        r = check_unpacked(crypts, clones, tmp, img, ret_problem);
                (void) target_rm_rf(tmp); /* a leftover in /var/tmp is only wasted space */
                if (r <= 0)
                        return r;
        }
        return 1;
}

/* The dm name in sysfs_block whose dm/uuid is CRYPT-LUKS1-hex-* or
 * CRYPT-LUKS2-hex-*, or NULL. */
static char *mapping_by_luks_uuid(const char *sysfs_block, const char *hex) {
        _cleanup_(steps_closedirp) DIR *d = opendir(sysfs_block);
        struct dirent *de;

        while (d && (de = readdir(d))) {
                _cleanup_free_ char *up = NULL, *np = NULL, *uuid = NULL, *name = NULL;
                const char *rest;
                if (!startswith(de->d_name, "dm-") || asprintf(&up, "%s/%s/dm/uuid", sysfs_block, de->d_name) < 0 ||
                    read_one_line_file(up, &uuid) < 0)
                        continue;
                rest = startswith(uuid, "CRYPT-LUKS1-");
                if (!rest)
                        rest = startswith(uuid, "CRYPT-LUKS2-");
                if (!rest || strncasecmp(rest, hex, strlen(hex)) != 0 || rest[strlen(hex)] != '-')
                        continue;
                if (asprintf(&np, "%s/%s/dm/name", sysfs_block, de->d_name) < 0 || read_one_line_file(np, &name) < 0)
                        continue;
                return TAKE_PTR(name);
        }
        return NULL;
}

char *luks_plan_node(const struct plan *p, const char *sysfs_block, const char *device) {
        json_object *crypts = plan_crypts(p);
        const char *open_as = startswith(device, "/dev/mapper/");
        struct stat st;

        if (!crypts || !open_as || stat(device, &st) == 0)
                return strdup(device);
        for (size_t i = 0; i < json_object_array_length(crypts); i++) {
                json_object *c = json_object_array_get_idx(crypts, i);
                const char *uuid = crypt_field(c, "uuid");
                char hex[64];
                size_t n = 0;
                if (!uuid || !streq_ptr(crypt_field(c, "open_as"), open_as))
                        continue;
                for (const char *u = uuid; *u && n < sizeof hex - 1; u++)
                        if (*u != '-')
                                hex[n++] = *u;
                hex[n] = 0;
                _cleanup_free_ char *name = mapping_by_luks_uuid(sysfs_block, hex);
                char *node;
                if (name)
                        return asprintf(&node, "/dev/mapper/%s", name) < 0 ? NULL : node;
        }
        return strdup(device);
}
