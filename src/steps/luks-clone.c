/* SPDX-License-Identifier: GPL-2.0-or-later */
/* luks-clone (luks strategy): puts the root's LUKS container on the array.
 * The header of the old container (LUKS1 or LUKS2, every keyslot) is copied
 * onto the array with libcryptsetup and given the plan's new UUID
 * (luks_header_clone()), then the clone is opened as args.open_as, so that
 * mkfs and the copy steps write the new root through it.
 *
 * Which key opens the clone.  It has the old container's volume key, and
 * only keyslot secrets (passphrases, key files) unlock that key from a
 * header: libcryptsetup offers no call that hands out the volume key of an
 * active mapping without one (crypt_volume_key_get() needs a passphrase,
 * crypt_init_by_name() reads only the key's size).  The dm-crypt table
 * holds the key itself when the mapping was made without the kernel
 * keyring (LUKS1, or cryptsetup --disable-keyring): then it is read there,
 * as `dmsetup table --showkeys` does, and nobody is asked anything.  LUKS2
 * mappings made by cryptsetup 2.x hold only a reference to a kernel
 * "logon" key, which user space cannot read back; then the key file that
 * the running system's /etc/crypttab names for the mapping opens the clone
 * (an unattended server has one: that is how it boots).  Without either,
 * the step refuses and says so; it never asks for a passphrase.
 * Either way libcryptsetup checks the key against the header's digest, so
 * a wrong key cannot open the clone.
 *
 *   check: the array carries LUKS with the plan's UUID and open_as is open
 *          on it (after the switch: behind us).
 *   apply: clones (unless the header is already there), then opens.
 *   undo:  closes open_as and erases the header it wrote (the plan's UUID,
 *          or the source's UUID that a crash mid-clone leaves). */
#include <libcryptsetup.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "steps/kinds.h"
#include "steps/md.h"
#include "steps/luks.h"
#include "steps/signatures.h"
#include "steps/target.h"
#include "util/strutil.h"

#define CRYPTTAB "/etc/crypttab"

struct luks_clone_args {
        const char *crypt, *source, *source_mapping, *device, *uuid, *open_as;
        char *node; /* device, or its /dev/mdN when only that exists */
};

static void args_done(struct luks_clone_args *a) {
        free(a->node);
}

static void crypt_freep(struct crypt_device **cd) {
        if (*cd)
                crypt_free(*cd);
}

static int parse(struct step_context *ctx, const struct plan_step *step, struct luks_clone_args *a) {
        int r;
        *a = (struct luks_clone_args) {};
        if ((r = step_arg_string(ctx, step, "crypt", &a->crypt)) < 0 ||
            (r = step_arg_string(ctx, step, "source", &a->source)) < 0 ||
            (r = step_arg_string(ctx, step, "source_mapping", &a->source_mapping)) < 0 ||
            (r = step_arg_string(ctx, step, "device", &a->device)) < 0 ||
            (r = step_arg_string(ctx, step, "uuid", &a->uuid)) < 0 ||
            (r = step_arg_string(ctx, step, "open_as", &a->open_as)) < 0)
                return r;
        a->node = md_plan_node(ctx, a->device);
        return a->node ? 0 : -ENOMEM;
}

/* The size of the filesystem the plan makes inside this container (the
 * target filesystem whose "crypt" is ours), 0 when the plan names none. */
static uint64_t planned_payload(const struct plan *p, const char *crypt) {
        json_object *fss, *v;
        if (!p || !p->target || !json_object_object_get_ex(p->target, "filesystems", &fss))
                return 0;
        for (size_t i = 0; i < json_object_array_length(fss); i++) {
                json_object *fs = json_object_array_get_idx(fss, i);
                if (json_object_object_get_ex(fs, "crypt", &v) && streq_ptr(json_object_get_string(v), crypt) &&
                    json_object_object_get_ex(fs, "size", &v))
                        return (uint64_t) json_object_get_int64(v);
        }
        return 0;
}

/* >0 when the dm-crypt mapping name is active on dev, 0 when it is not
 * active, -EEXIST when it is active on another device. */
static int mapping_on(const char *name, const char *dev) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        struct crypt_active_device ad;
        struct stat a, b;

        if (crypt_status(NULL, name) != CRYPT_ACTIVE && crypt_status(NULL, name) != CRYPT_BUSY)
                return 0;
        if (crypt_init_by_name(&cd, name) < 0 || crypt_get_active_device(cd, name, &ad) < 0)
                return 0;
        const char *under = crypt_get_device_name(cd);
        if (!under || stat(under, &a) < 0 || stat(dev, &b) < 0)
                return -EEXIST;
        return a.st_rdev == b.st_rdev ? 1 : -EEXIST;
}

static int luks_clone_check(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *uuid = NULL;
        _cleanup_(args_done) struct luks_clone_args a = {};
        int r;

        r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (target_presumed_done(ctx, step))
                return 1;
        if (luks_read_header(a.node, &uuid, NULL) < 0 || strcasecmp(uuid, a.uuid) != 0)
                return 0;
        return mapping_on(a.open_as, a.node) > 0;
}

/* Opens the clone on dev as name with the key of the running mapping, or
 * the key file of its crypttab entry (see the top of this file). */
static int open_clone(struct step_context *ctx, const struct luks_clone_args *a) {
        _cleanup_(crypt_freep) struct crypt_device *cd = NULL;
        _cleanup_free_ char *error = NULL, *keyfile = NULL;
        char *key = NULL;
        size_t key_size = 0;
        uint64_t offset = 0, size = 0;
        int r;

        r = crypt_init(&cd, a->node);
        if (r >= 0)
                r = crypt_load(cd, CRYPT_LUKS, NULL);
        if (r < 0)
                return step_error(ctx, r, "Cannot load the LUKS header cloned onto %s: %m", a->node);

        r = luks_mapping_volume_key(a->source_mapping, &key, &key_size, &error);
        if (r >= 0) {
                r = crypt_activate_by_volume_key(cd, a->open_as, key, key_size, 0);
                explicit_bzero(key, key_size);
                free(key);
                if (r < 0)
                        return step_error(ctx, r,
                                          "The volume key of %s does not open the clone on %s as %s: %m",
                                          a->source_mapping, a->node, a->open_as);
                step_log(ctx, LOG_LEVEL_INFO, 0, "Opened %s as %s with the volume key of %s.", a->node, a->open_as,
                         a->source_mapping);
                return 0;
        }
        if (r != -ENOKEY)
                return step_error(ctx, r, "%s", error ?: "Cannot read the volume key of the running mapping.");

        r = luks_crypttab_keyfile(CRYPTTAB, a->source_mapping, &keyfile, &offset, &size);
        if (r < 0)
                return step_error(ctx, ENOKEY,
                                  "%s; and %s names no key file for %s. rootraid needs a key file to open the "
                                  "copy of the container unattended: add one (cryptsetup luksAddKey), name it in "
                                  "%s, and run apply again.",
                                  error, CRYPTTAB, a->source_mapping, CRYPTTAB);
        r = crypt_activate_by_keyfile_device_offset(cd, a->open_as, CRYPT_ANY_SLOT, keyfile, (size_t) size, offset, 0);
        if (r < 0)
                return step_error(ctx, r, "The key file %s (from %s) does not open the clone on %s: %m", keyfile,
                                  CRYPTTAB, a->node);
        step_log(ctx, LOG_LEVEL_INFO, 0, "Opened %s as %s with the key file %s (key slot %d).", a->node, a->open_as,
                 keyfile, r);
        return 0;
}

static int luks_clone_apply(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *error = NULL;
        _cleanup_(args_done) struct luks_clone_args a = {};
        int r;

        r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                printf("would copy the LUKS header of %s onto %s with UUID %s, and open it as %s with the key of %s\n",
                       a.source, a.node, a.uuid, a.open_as, a.source_mapping);
                return 0;
        }
        if (signatures_wait_for_device(a.node, 10000) < 0)
                return step_error(ctx, ENOENT, "%s does not exist; was the array created?", a.node);

        r = mapping_on(a.open_as, a.node);
        if (r == -EEXIST)
                return step_error(ctx, EEXIST, "A device-mapper device named %s exists and is not on %s; close it first.",
                                  a.open_as, a.node);

        r = luks_header_clone(a.source, a.node, a.uuid, planned_payload(ctx->plan, a.crypt), &error);
        if (r < 0)
                return step_error(ctx, r, "%s", error ?: "Cannot clone the LUKS header.");

        if (mapping_on(a.open_as, a.node) > 0)
                return 0;
        r = open_clone(ctx, &a);
        if (r < 0)
                return r;
        signatures_settle(); /* /dev/mapper/OPEN_AS for mkfs */
        return 0;
}

static int luks_clone_undo(struct step_context *ctx, const struct plan_step *step) {
        _cleanup_free_ char *error = NULL, *source_uuid = NULL;
        _cleanup_(args_done) struct luks_clone_args a = {};
        int r;

        r = parse(ctx, step, &a);
        if (r < 0)
                return r;
        if (ctx->dry_run) {
                printf("would close %s and erase the LUKS header with UUID %s from %s\n", a.open_as, a.uuid, a.node);
                return 0;
        }
        if (mapping_on(a.open_as, a.node) > 0) {
                r = crypt_deactivate(NULL, a.open_as);
                if (r < 0)
                        return step_error(ctx, r, "Cannot close %s: %m; is it still mounted?", a.open_as);
        }
        if (access(a.node, F_OK) < 0)
                return 0; /* the array is gone (or never came): no header to erase */

        /* A crash between the header copy and the new UUID leaves the
         * source's UUID on the array: ours too.  Before the point of no
         * return the source is still there to tell it. */
        (void) luks_read_header(a.source, &source_uuid, NULL); /* NULL when gone: then only the plan's UUID */
        const char *uuids[] = { a.uuid, source_uuid, NULL };
        r = luks_header_erase(a.node, uuids, &error);
        if (r < 0)
                return step_error(ctx, r, "%s", error ?: "Cannot erase the LUKS header.");
        return 0;
}

const struct step_ops step_luks_clone = {
        .kind = STEP_LUKS_CLONE,
        .check = luks_clone_check,
        .apply = luks_clone_apply,
        .undo = luks_clone_undo,
};
