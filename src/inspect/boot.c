/* SPDX-License-Identifier: GPL-2.0-or-later */
/* How the machine boots: firmware, boot loader, initramfs generator, kernel
 * command line, and the configuration a migration must carry over
 * (GRUB_CMDLINE_LINUX, grub-pc's install devices, mdadm's MAILADDR); and
 * the host's identity. */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <sys/utsname.h>

#include "inspect/inspect-internal.h"
#include "util/strutil.h"

static bool exists(const struct inspect_ctx *c, const char *path) {
        _cleanup_free_ char *p = ictx_path(c, path);
        return p && access(p, F_OK) == 0;
}

static bool any_exists(const struct inspect_ctx *c, const char *const *paths) {
        for (; *paths; paths++)
                if (exists(c, *paths))
                        return true;
        return false;
}

/* Installed packages from dpkg's status file; an empty list when there is
 * no dpkg (then only the files on disk tell). */
static int dpkg_installed(const struct inspect_ctx *c, char ***ret) {
        _cleanup_free_ char *text = NULL;
        _cleanup_strv_free_ char **l = NULL;
        char *save = NULL;
        const char *pkg = NULL;
        int r;

        r = ictx_read_file(c, "/var/lib/dpkg/status", &text);
        if (r < 0 && r != -ENOENT)
                return r == -ENOMEM ? r : 0;
        for (char *line = text ? strtok_r(text, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
                const char *v;
                if ((v = startswith(line, "Package: ")))
                        pkg = v;
                else if ((v = startswith(line, "Status: ")) && pkg && strstr(v, "ok installed")) {
                        if (strv_extend(&l, pkg) < 0)
                                return -ENOMEM;
                        pkg = NULL;
                }
        }
        *ret = TAKE_PTR(l);
        return 0;
}

static bool any_installed(char **installed, const char *const *names) {
        for (; *names; names++)
                if (strv_contains(installed, *names))
                        return true;
        return false;
}

static int detect_boot_loader(struct inspect_ctx *c, char **installed) {
        static const char *const efi_pkgs[] = {
                "grub-efi-amd64", "grub-efi-amd64-signed", "grub-efi-arm64", "grub-efi-arm64-signed",
                "grub-efi-ia32", "grub-efi", "shim-signed", "grub2-efi-x64", NULL,
        };
        static const char *const pc_pkgs[] = { "grub-pc", "grub2-pc", NULL };
        static const char *const other_pkgs[] = { "systemd-boot", "syslinux", "extlinux", "lilo", "refind", NULL };
        /* What grub-install leaves in /boot, not the modules of the -bin
         * packages under /usr/lib/grub, which image builders install on
         * any machine. */
        static const char *const efi_files[] = {
                "/boot/grub/x86_64-efi", "/boot/grub2/x86_64-efi", "/boot/grub/arm64-efi", NULL,
        };
        static const char *const pc_files[] = {
                "/boot/grub/i386-pc", "/boot/grub2/i386-pc", NULL,
        };
        static const char *const other_files[] = {
                "/boot/efi/loader/loader.conf", "/efi/loader/loader.conf", "/boot/syslinux", "/boot/extlinux",
                NULL,
        };

        /* The files GRUB installed in /boot tell which platform it was
         * last installed for; packages may carry both grub-pc-bin and
         * grub-efi-amd64-bin. */
        bool efi = any_installed(installed, efi_pkgs) || any_exists(c, efi_files);
        bool pc = any_installed(installed, pc_pkgs) || any_exists(c, pc_files);
        bool other = any_installed(installed, other_pkgs) || any_exists(c, other_files);

        if (c->f->firmware == FIRMWARE_UEFI)
                c->f->boot_loader = efi ? BOOT_LOADER_GRUB_EFI : other ? BOOT_LOADER_OTHER :
                                    pc ? BOOT_LOADER_GRUB_PC : BOOT_LOADER_NONE;
        else
                c->f->boot_loader = pc ? BOOT_LOADER_GRUB_PC : other ? BOOT_LOADER_OTHER :
                                    efi ? BOOT_LOADER_GRUB_EFI : BOOT_LOADER_NONE;
        return 0;
}

static void detect_initramfs(struct inspect_ctx *c, char **installed) {
        static const char *const tools[] = { "/usr/sbin/update-initramfs", "/sbin/update-initramfs", NULL };
        static const char *const dracut[] = { "/usr/bin/dracut", "/usr/sbin/dracut", "/sbin/dracut", NULL };

        if (strv_contains(installed, "initramfs-tools") || any_exists(c, tools))
                c->f->initramfs = INITRAMFS_TOOLS;
        else if (strv_contains(installed, "dracut") || any_exists(c, dracut))
                c->f->initramfs = INITRAMFS_DRACUT;
        else
                c->f->initramfs = INITRAMFS_NONE;
}

/* The value of a shell assignment as /etc/default/grub and os-release
 * write them: KEY=value, KEY="value", KEY='value'.  Returns a new string,
 * or NULL when the line does not assign key (or on OOM, with *oom set). */
static char *shell_value(const char *line, const char *key, bool *oom) {
        const char *v;
        size_t l;

        line += strspn(line, " \t");
        if (startswith(line, "export "))
                line += strlen("export ");
        v = startswith(line, key);
        if (!v || *v != '=')
                return NULL;
        v++;
        l = strcspn(v, "\n");
        while (l > 0 && (v[l - 1] == ' ' || v[l - 1] == '\t'))
                l--;
        if (l >= 2 && (v[0] == '"' || v[0] == '\'') && v[l - 1] == v[0]) {
                v++;
                l -= 2;
        }
        char *r = strndup(v, l);
        if (!r)
                *oom = true;
        return r;
}

/* Replaces "$KEY" and "${KEY}" in v by prev (or nothing), the one
 * expansion these files use: GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX x"
 * in a grub.d snippet.  Takes v; returns the result, NULL on OOM. */
static char *expand_self(char *v, const char *key, const char *prev) {
        char plain[128], braced[128];
        const char *forms[] = { braced, plain };

        snprintf(plain, sizeof plain, "$%s", key);
        snprintf(braced, sizeof braced, "${%s}", key);
        for (size_t f = 0; f < ELEMENTSOF(forms); f++) {
                char *at;
                while ((at = strstr(v, forms[f]))) {
                        char *n = NULL;
                        const char *rest = at + strlen(forms[f]);
                        /* "$KEYX" names another variable: leave it */
                        if (f == 1 && (isalnum((unsigned char) *rest) || *rest == '_'))
                                break;
                        if (asprintf(&n, "%.*s%s%s", (int) (at - v), v, strempty(prev), rest) < 0) {
                                free(v);
                                return NULL;
                        }
                        free(v);
                        v = n;
                }
        }
        return v;
}

/* The last assignment of key in the file below the root wins, as when the
 * shell sources it.  Leaves *value alone when the file has none. */
static int read_assignment(const struct inspect_ctx *c, const char *path, const char *key, char **value) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        bool oom = false;
        int r = ictx_read_file(c, path, &text);

        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *v = shell_value(line, key, &oom);
                if (oom)
                        return -ENOMEM;
                if (v) {
                        v = expand_self(v, key, *value);
                        if (!v)
                                return -ENOMEM;
                        free(*value);
                        *value = v;
                }
        }
        return 0;
}

static int read_grub_cmdline(struct inspect_ctx *c) {
        _cleanup_free_ char *dir = ictx_path(c, "/etc/default/grub.d");
        struct dirent **names = NULL;
        int n, r;

        if (!dir)
                return -ENOMEM;
        r = read_assignment(c, "/etc/default/grub", "GRUB_CMDLINE_LINUX", &c->f->grub_cmdline_linux);
        if (r < 0)
                return r;

        /* update-grub sources the grub.d *.cfg files after the main file, in order. */
        n = scandir(dir, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                const char *name = names[i]->d_name;
                size_t l = strlen(name);
                _cleanup_free_ char *p = NULL;
                if (r >= 0 && l > 4 && streq(name + l - 4, ".cfg")) {
                        if (asprintf(&p, "/etc/default/grub.d/%s", name) < 0)
                                r = -ENOMEM;
                        else
                                r = read_assignment(c, p, "GRUB_CMDLINE_LINUX", &c->f->grub_cmdline_linux);
                }
                free(names[i]);
        }
        free(names);
        return r;
}

/* debconf's answer to "GRUB install devices", which grub-pc's postinst
 * uses on every upgrade: the migration has to keep it right. */
static int read_grub_install_devices(struct inspect_ctx *c) {
        _cleanup_free_ char *text = NULL;
        char *save = NULL;
        bool in = false;
        int r = ictx_read_file(c, "/var/cache/debconf/config.dat", &text);

        if (r == -ENOMEM)
                return r;
        if (r < 0)
                return 0;
        /* Stanzas separated by blank lines; strtok_r skips those, so a
         * "Name:" line starts the next stanza. */
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                const char *v;
                if ((v = startswith(line, "Name: ")))
                        in = streq(v, "grub-pc/install_devices");
                else if (in && (v = startswith(line, "Value: ")))
                        return strdup_to(&c->f->grub_install_devices, isempty(v) ? NULL : v);
        }
        return 0;
}

static int read_mailaddr(struct inspect_ctx *c) {
        static const char *const confs[] = { "/etc/mdadm/mdadm.conf", "/etc/mdadm.conf" };

        for (size_t i = 0; i < ELEMENTSOF(confs); i++) {
                _cleanup_free_ char *text = NULL;
                char *save = NULL;
                int r = ictx_read_file(c, confs[i], &text);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        continue;
                for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                        char addr[256];
                        if (sscanf(line, "MAILADDR %255s", addr) == 1)
                                return strdup_to(&c->f->mdadm_mailaddr, addr);
                }
                return 0;
        }
        return 0;
}

static int read_identity(struct inspect_ctx *c) {
        struct facts *f = c->f;
        struct utsname u;
        int r;

        r = ictx_read_line(c, "/etc/hostname", &f->hostname);
        if (r == -ENOMEM)
                return r;
        if (r >= 0 && isempty(f->hostname)) {
                free(f->hostname);
                f->hostname = NULL;
        }
        r = ictx_read_line(c, "/etc/machine-id", &f->machine_id);
        if (r == -ENOMEM)
                return r;
        r = ictx_read_line(c, "/proc/sys/kernel/osrelease", &f->kernel_release);
        if (r == -ENOMEM)
                return r;
        if (c->live && uname(&u) >= 0) {
                if (!f->hostname && (r = strdup_to(&f->hostname, u.nodename)) < 0)
                        return r;
                if (!f->kernel_release && (r = strdup_to(&f->kernel_release, u.release)) < 0)
                        return r;
        }

        const char *osr = exists(c, "/etc/os-release") ? "/etc/os-release" : "/usr/lib/os-release";
        if ((r = read_assignment(c, osr, "ID", &f->os_id)) < 0 ||
            (r = read_assignment(c, osr, "VERSION_ID", &f->os_version_id)) < 0)
                return r;
        return 0;
}

int inspect_boot(struct inspect_ctx *c) {
        _cleanup_strv_free_ char **installed = NULL;
        int r;

        /* The kernel creates /sys/firmware/efi only when booted by UEFI. */
        c->f->firmware = exists(c, "/sys/firmware/efi") ? FIRMWARE_UEFI : FIRMWARE_BIOS;

        r = dpkg_installed(c, &installed);
        if (r < 0)
                return r;
        r = detect_boot_loader(c, installed);
        if (r < 0)
                return r;
        detect_initramfs(c, installed);

        r = ictx_read_line(c, "/proc/cmdline", &c->f->cmdline);
        if (r == -ENOMEM)
                return r;
        if (r >= 0)
                strstrip_trailing(c->f->cmdline);

        if ((r = read_grub_cmdline(c)) < 0 || (r = read_grub_install_devices(c)) < 0 ||
            (r = read_mailaddr(c)) < 0 || (r = read_identity(c)) < 0)
                return r;
        return 0;
}
