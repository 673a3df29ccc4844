/* SPDX-License-Identifier: GPL-2.0-or-later */
/* LUKS containers with libcryptsetup (header only, nothing unlocked), and
 * the dm-crypt mapping that has each one open. */
#include <libcryptsetup.h>
#include <stdio.h>

#include "inspect/inspect-internal.h"

static void crypt_freep(struct crypt_device **cd) {
        if (*cd)
                crypt_free(*cd);
}

/* libcryptsetup logs through this per-device callback; inspect does not
 * print, and what it could say (no lock directory when not root) does not
 * change the facts. */
static void quiet_log(int level, const char *msg, void *userdata) {
}

/* The dm uuid of an open LUKS mapping is "CRYPT-LUKS2-<uuid without
 * dashes>-<name>": match the holder to the container by it. */
static bool holder_opens(const struct blockdev *h, const char *uuid) {
        char nodash[64];
        size_t n = 0;

        if (h->type != BLOCKDEV_CRYPT || !h->dm_uuid)
                return false;
        for (const char *s = uuid; *s && n + 1 < sizeof nodash; s++)
                if (*s != '-')
                        nodash[n++] = *s;
        nodash[n] = 0;
        const char *rest = startswith(h->dm_uuid, "CRYPT-LUKS");
        if (!rest || (rest[0] != '1' && rest[0] != '2') || rest[1] != '-')
                return false;
        return strncasecmp(rest + 2, nodash, n) == 0 && rest[2 + n] == '-';
}

static int read_luks(struct inspect_ctx *c, struct blockdev *d) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        _cleanup_free_ char *dev = NULL, *path = NULL;
        struct luks_info *l;
        const char *type;
        int r;

        if (asprintf(&dev, "/dev/%s", d->kname) < 0)
                return -ENOMEM;
        if (!(path = ictx_path(c, dev)))
                return -ENOMEM;

        r = crypt_init(&cd, path);
        if (r < 0)
                return r == -ENOMEM ? r : 0;
        crypt_set_log_callback(cd, quiet_log, NULL);
        /* crypt_load() takes LUKS2's read lock, a file under
         * /run/cryptsetup (tmpfs), as cryptsetup luksDump does: nothing on
         * a disk.  Switching locking off instead would be for the whole
         * process and for good (libcryptsetup cannot switch it back on),
         * and the executor writes LUKS headers later in this process. */
        r = crypt_load(cd, CRYPT_LUKS, NULL);
        if (r < 0)
                /* blkid saw the magic but the header does not load (damaged,
                 * or unreadable): leave luks NULL, the planner refuses. */
                return r == -ENOMEM ? r : 0;

        l = d->luks = calloc(1, sizeof(struct luks_info));
        if (!l)
                return -ENOMEM;
        type = crypt_get_type(cd);
        l->version = type && streq(type, CRYPT_LUKS1) ? 1 : 2;
        if ((r = strdup_to(&l->uuid, crypt_get_uuid(cd))) < 0)
                return r;
        l->data_offset = crypt_get_data_offset(cd) * 512;   /* always 512-byte sectors */
        if (crypt_get_cipher(cd) &&
            asprintf(&l->cipher, "%s-%s", crypt_get_cipher(cd), crypt_get_cipher_mode(cd) ?: "") < 0) {
                l->cipher = NULL;
                return -ENOMEM;
        }
        l->key_size = (unsigned) MAX(crypt_get_volume_key_size(cd), 0) * 8;

        for (char **h = d->holders; l->uuid && h && *h; h++) {
                struct blockdev *m = facts_find_kname(c->f, *h);
                if (!m || !holder_opens(m, l->uuid))
                        continue;
                if ((r = strdup_to(&l->active_name, m->dm_name)) < 0 ||
                    (r = strdup_to(&l->active_kname, m->kname)) < 0)
                        return r;
                break;
        }

        /* On the live system, ask device-mapper too: it is what cryptsetup
         * itself trusts, and it catches a mapping sysfs named differently. */
        if (c->live && l->active_name) {
                _cleanup_(crypt_freep) struct crypt_device *act = NULL;
                struct crypt_active_device ad;
                if (crypt_init_by_name(&act, l->active_name) >= 0 &&
                    crypt_get_active_device(act, l->active_name, &ad) < 0) {
                        free(l->active_name);
                        free(l->active_kname);
                        l->active_name = l->active_kname = NULL;
                }
        }
        return 0;
}

int inspect_luks(struct inspect_ctx *c) {
        for (size_t i = 0; i < c->f->n_devices; i++) {
                struct blockdev *d = &c->f->devices[i];
                if (!streq_ptr(d->fstype, "crypto_LUKS"))
                        continue;
                int r = read_luks(c, d);
                if (r < 0)
                        return ictx_fail(c, r, "Cannot read the LUKS header of /dev/%s: %m", d->kname);
        }
        return 0;
}
