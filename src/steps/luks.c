/* SPDX-License-Identifier: GPL-2.0-or-later */
/* LUKS header work for luks-clone (see luks.h).
 *
 * Why the header is cloned and not made again: a new luksFormat would give
 * a new volume key, and every passphrase, key file and token would have to
 * be enrolled again, which needs the secrets.  A copy of the header carries
 * the keyslots as they are, so whatever opened the old container opens the
 * new one; only the UUID changes, so that crypttab, the initramfs and blkid
 * can tell the two apart while both exist. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <libcryptsetup.h>
#include <linux/dm-ioctl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "steps/luks.h"
#include "util/macro.h"
#include "util/fileio.h"
#include "util/strutil.h"

static void crypt_freep(struct crypt_device **cd) {
        if (*cd)
                crypt_free(*cd);
}

/* libcryptsetup's own sentence for the last error, for our messages;
 * nothing is printed. */
struct luks_log {
        char last[256];
};

static void luks_log_cb(int level, const char *msg, void *userdata) {
        struct luks_log *l = userdata;
        if (level != CRYPT_LOG_ERROR || !l || !msg)
                return;
        snprintf(l->last, sizeof l->last, "%s", msg);
        strstrip_trailing(l->last);
}

static int dup_to(char **dst, const char *s) {
        char *c = s ? strdup(s) : NULL;
        if (s && !c)
                return -ENOMEM;
        *dst = c;
        return 0;
}

static int parse_u64(const char *s, uint64_t *ret) {
        char *end = NULL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || end == s || *end != 0 || *s == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

static int luks_open(const char *dev, struct luks_log *log, struct crypt_device **ret) {
        struct crypt_device *cd = NULL;
        int r = crypt_init(&cd, dev);
        if (r < 0)
                return r;
        crypt_set_log_callback(cd, luks_log_cb, log);
        *ret = cd;
        return 0;
}

static int set_error(char **ret_error, int r, const struct luks_log *log, const char *format, ...) _printf_(4, 5);
static int set_error(char **ret_error, int r, const struct luks_log *log, const char *format, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int saved = errno;

        errno = r < 0 ? -r : r; /* for %m */
        va_start(ap, format);
        if (vasprintf(&msg, format, ap) < 0)
                msg = NULL;
        va_end(ap);
        errno = saved;
        if (ret_error && msg) {
                free(*ret_error);
                *ret_error = NULL;
                if (log && log->last[0]) {
                        if (asprintf(ret_error, "%s (libcryptsetup: %s)", msg, log->last) < 0)
                                *ret_error = NULL;
                } else
                        *ret_error = TAKE_PTR(msg);
        }
        return r < 0 ? r : -r;
}

static int device_size(const char *dev, uint64_t *ret) {
        _cleanup_close_ int fd = open(dev, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0)
                return -errno;
        if (S_ISREG(st.st_mode)) {
                *ret = (uint64_t) st.st_size;
                return 0;
        }
        uint64_t size;
        if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                return -errno;
        *ret = size;
        return 0;
}

int luks_read_header(const char *dev, char **ret_uuid, uint64_t *ret_data_offset) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        struct luks_log log = {};
        int r;

        if (access(dev, F_OK) < 0)
                return -ENOENT;
        r = luks_open(dev, &log, &cd);
        if (r < 0)
                return r == -ENOMEM ? r : -ENOENT;
        if (crypt_load(cd, CRYPT_LUKS, NULL) < 0)
                return -ENOENT;
        if (ret_uuid && (r = dup_to(ret_uuid, crypt_get_uuid(cd))) < 0)
                return r;
        if (ret_data_offset)
                *ret_data_offset = crypt_get_data_offset(cd) * 512; /* always 512-byte sectors */
        return 0;
}

/* The UUID comparison of libcryptsetup is on the string; the plan writes
 * lower case, an older header may not. */
static bool uuid_equal(const char *a, const char *b) {
        return a && b && strcasecmp(a, b) == 0;
}

int luks_header_clone(const char *source, const char *dev, const char *uuid, uint64_t min_payload, char **ret_error) {
        _cleanup_(crypt_freep) struct crypt_device *src = NULL, *dst = NULL;
        _cleanup_free_ char *dir = NULL, *backup = NULL, *have = NULL;
        struct luks_log log = {};
        uint64_t data_offset, size = 0;
        int r;

        if (luks_read_header(dev, &have, NULL) >= 0 && uuid_equal(have, uuid))
                return 0; /* done by an earlier run */

        r = luks_open(source, &log, &src);
        if (r < 0)
                return set_error(ret_error, r, &log, "Cannot open %s: %m", source);
        r = crypt_load(src, CRYPT_LUKS, NULL);
        if (r < 0)
                return set_error(ret_error, r, &log, "Cannot read the LUKS header of %s: %m", source);
        data_offset = crypt_get_data_offset(src) * 512;
        if (data_offset == 0)
                /* A detached header: the data starts at 0 and there is no
                 * header on the device to copy. */
                return set_error(ret_error, EOPNOTSUPP, NULL,
                                 "The LUKS container on %s has a detached header (data offset 0); rootraid cannot clone it.",
                                 source);

        r = device_size(dev, &size);
        if (r < 0)
                return set_error(ret_error, r, NULL, "Cannot read the size of %s: %m", dev);
        /* The data area keeps the source's offset (the header is copied as
         * it is); behind it must fit the filesystem the plan makes there.
         * The array is smaller than the old partition by the md metadata,
         * which is why the plan makes a new filesystem and copies the files
         * rather than copying the old encrypted blocks. */
        if (size < data_offset || size - data_offset < MAX(min_payload, 1))
                return set_error(ret_error, ENOSPC, NULL,
                                 "%s (%" PRIu64 " bytes) cannot hold the LUKS header of %s (data offset %" PRIu64
                                 " bytes) and %" PRIu64 " bytes of encrypted data; use a larger disk.",
                                 dev, size, source, data_offset, MAX(min_payload, 1));

        /* The backup holds the keyslots (encrypted with the passphrases):
         * keep it in a directory only root can enter, on /run (tmpfs), and
         * remove it on every path.  crypt_header_backup() refuses a file
         * that exists, so it gets a fresh name inside. */
        (void) mkdir_p("/run/rootraid", 0700); /* mkdtemp() says if it is missing */
        dir = strdup("/run/rootraid/luks-header.XXXXXX");
        if (!dir)
                return -ENOMEM;
        if (!mkdtemp(dir))
                return set_error(ret_error, errno, NULL, "Cannot make a private directory under /run/rootraid: %m");
        backup = path_join(dir, "header");
        if (!backup) {
                (void) rmdir(dir);
                return -ENOMEM;
        }
        r = crypt_header_backup(src, CRYPT_LUKS, backup);
        if (r < 0) {
                r = set_error(ret_error, r, &log, "Cannot back up the LUKS header of %s: %m", source);
                goto finish;
        }

        r = luks_open(dev, &log, &dst);
        if (r < 0) {
                r = set_error(ret_error, r, &log, "Cannot open %s: %m", dev);
                goto finish;
        }
        /* Commit point: from here dev carries the old container's header
         * (with the old UUID until crypt_set_uuid() below).  A crash in
         * between leaves a header with the source's UUID, which the next
         * run overwrites and undo erases. */
        r = crypt_header_restore(dst, CRYPT_LUKS, backup);
        if (r < 0) {
                r = set_error(ret_error, r, &log, "Cannot write the LUKS header of %s onto %s: %m", source, dev);
                goto finish;
        }
        crypt_free(dst);
        dst = NULL;
        r = luks_open(dev, &log, &dst);
        if (r >= 0)
                r = crypt_load(dst, CRYPT_LUKS, NULL);
        if (r >= 0)
                r = crypt_set_uuid(dst, uuid);
        if (r < 0) {
                r = set_error(ret_error, r, &log, "Cannot give the LUKS header on %s the UUID %s: %m", dev, uuid);
                goto finish;
        }
        r = 0;
finish:
        (void) unlink(backup); /* absent when the backup failed */
        (void) rmdir(dir);
        return r;
}

int luks_header_erase(const char *dev, const char *const *uuids, char **ret_error) {
        _cleanup_free_ char *have = NULL, *zero = NULL;
        _cleanup_close_ int fd = -EBADF;
        uint64_t data_offset = 0;
        bool ours = false;
        int r;

        r = luks_read_header(dev, &have, &data_offset);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return set_error(ret_error, r, NULL, "Cannot read the LUKS header on %s: %m", dev);
        for (const char *const *u = uuids; u && *u; u++)
                ours = ours || uuid_equal(*u, have);
        if (!ours)
                return set_error(ret_error, EEXIST, NULL,
                                 "%s carries a LUKS header with UUID %s, which rootraid did not write; left alone.",
                                 dev, have);

        fd = open(dev, O_WRONLY | O_CLOEXEC | O_EXCL);
        if (fd < 0)
                return set_error(ret_error, errno, NULL, "Cannot open %s to erase its LUKS header: %m", dev);
        /* Everything before the data: both LUKS2 header copies and the
         * keyslot area, so no key material stays behind either. */
        const size_t chunk = 1024 * 1024;
        zero = calloc(1, chunk);
        if (!zero)
                return -ENOMEM;
        for (uint64_t off = 0; off < data_offset;) {
                size_t n = (size_t) MIN((uint64_t) chunk, data_offset - off);
                ssize_t w = pwrite(fd, zero, n, (off_t) off);
                if (w < 0)
                        return set_error(ret_error, errno, NULL, "Cannot erase the LUKS header on %s: %m", dev);
                off += (uint64_t) w;
        }
        if (fsync(fd) < 0)
                return set_error(ret_error, errno, NULL, "Cannot erase the LUKS header on %s: %m", dev);
        return 0;
}

static int unhex(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int luks_crypt_table_key(const char *params, char **ret_key, size_t *ret_key_size) {
        /* "<cipher> <key> <iv_offset> <device> <offset> [...]" */
        const char *k = strchr(params, ' ');
        size_t klen = k ? strcspn(k + 1, " ") : 0;
        if (!k || klen == 0)
                return -EBADMSG;
        k++;
        if (k[0] == ':')
                /* ":<size>:<type>:<description>": a kernel keyring key,
                 * which user space cannot read back. */
                return -ENOKEY;
        if (klen % 2 != 0 || klen / 2 > 1024)
                return -EBADMSG; /* also "-", the empty key of cipher_null */
        char *key = malloc(klen / 2 + 1);
        if (!key)
                return -ENOMEM;
        for (size_t i = 0; i < klen / 2; i++) {
                int hi = unhex(k[2 * i]), lo = unhex(k[2 * i + 1]);
                if (hi < 0 || lo < 0) {
                        explicit_bzero(key, klen / 2);
                        free(key);
                        return -EBADMSG;
                }
                key[i] = (char) (hi << 4 | lo);
        }
        *ret_key = key;
        *ret_key_size = klen / 2;
        return 0;
}

int luks_mapping_volume_key(const char *name, char **ret_key, size_t *ret_key_size, char **ret_error) {
        _cleanup_close_ int fd = -EBADF;
        size_t size = 16 * 1024;
        struct dm_ioctl *io = NULL;
        int r;

        if (strlen(name) >= DM_NAME_LEN)
                return set_error(ret_error, EINVAL, NULL, "Mapping name %s is too long.", name);
        fd = open("/dev/mapper/control", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return set_error(ret_error, errno, NULL, "Cannot open /dev/mapper/control (is device-mapper there?): %m");

        for (;;) {
                io = calloc(1, size);
                if (!io)
                        return -ENOMEM;
                io->version[0] = DM_VERSION_MAJOR;
                io->data_size = (uint32_t) size;
                io->data_start = sizeof(struct dm_ioctl);
                /* The table with the key in it; SECURE_DATA makes the kernel
                 * wipe its buffers afterwards. */
                io->flags = DM_STATUS_TABLE_FLAG | DM_SECURE_DATA_FLAG;
                snprintf(io->name, sizeof io->name, "%s", name);
                if (ioctl(fd, DM_TABLE_STATUS, io) < 0) {
                        r = -errno;
                        free(io);
                        if (r == -ENXIO)
                                return set_error(ret_error, r, NULL, "No device-mapper device is named %s.", name);
                        return set_error(ret_error, r, NULL, "Cannot read the table of %s: %m", name);
                }
                if (!(io->flags & DM_BUFFER_FULL_FLAG) || size >= 1024 * 1024)
                        break;
                explicit_bzero(io, size);
                free(io);
                size *= 4;
        }

        r = 0;
        const struct dm_target_spec *t = (const struct dm_target_spec *) ((const char *) io + io->data_start);
        const char *params = (const char *) (t + 1), *end = (const char *) io + size;
        if (io->flags & DM_BUFFER_FULL_FLAG)
                r = set_error(ret_error, E2BIG, NULL, "The table of %s does not fit a buffer.", name);
        else if (io->target_count != 1 || strncmp(t->target_type, "crypt", DM_MAX_TYPE_NAME) != 0)
                /* e.g. a LUKS2 reencryption in progress (two segments) */
                r = set_error(ret_error, EMEDIUMTYPE, NULL,
                              "%s is not a single dm-crypt mapping (%u targets); rootraid cannot read its key.", name,
                              io->target_count);
        else if (!memchr(params, 0, (size_t) (end - params)))
                r = set_error(ret_error, EBADMSG, NULL, "The table of %s is not terminated.", name);
        if (r < 0)
                goto finish;

        r = luks_crypt_table_key(params, ret_key, ret_key_size);
        if (r == -ENOKEY)
                r = set_error(ret_error, r, NULL, "The volume key of %s is held in the kernel keyring, not in its table.",
                              name);
        else if (r == -EBADMSG)
                r = set_error(ret_error, r, NULL, "Cannot read the key in the dm-crypt table of %s.", name);
finish:
        explicit_bzero(io, size);
        free(io);
        return r;
}

int luks_crypttab_keyfile(const char *path, const char *name, char **ret_keyfile, uint64_t *ret_offset,
                          uint64_t *ret_size) {
        _cleanup_free_ char *text = NULL;
        int r;

        r = read_full_file(path, 1024 * 1024, &text, NULL);
        if (r < 0)
                return r;
        for (char *line = text, *next; line; line = next) {
                char *f[4] = {}, *save = NULL;
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                line += strspn(line, " \t");
                if (*line == '#' || *line == 0)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(f); i++)
                        f[i] = strtok_r(i == 0 ? line : NULL, " \t", &save);
                if (!f[0] || !streq(f[0], name))
                        continue;
                if (!f[2] || streq(f[2], "none") || streq(f[2], "-") || f[2][0] != '/')
                        return -ENOENT;
                uint64_t offset = 0, size = 0;
                char *osave = NULL;
                for (char *o = f[3] ? strtok_r(f[3], ",", &osave) : NULL; o; o = strtok_r(NULL, ",", &osave)) {
                        const char *v;
                        if (startswith(o, "keyscript="))
                                return -ENOENT; /* the key comes from a program, not from this file */
                        if ((v = startswith(o, "keyfile-offset=")) && parse_u64(v, &offset) < 0)
                                return -EINVAL;
                        if ((v = startswith(o, "keyfile-size=")) && parse_u64(v, &size) < 0)
                                return -EINVAL;
                }
                if ((r = dup_to(ret_keyfile, f[2])) < 0)
                        return r;
                *ret_offset = offset;
                *ret_size = size;
                return 0;
        }
        return -ENOENT;
}
