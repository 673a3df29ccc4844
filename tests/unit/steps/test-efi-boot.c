/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Where install-bootloader puts a boot entry in BootOrder: right after
 * the entry the machine booted from, never first (that would skip the old
 * disk's GRUB and its one-time boot), moved back there when a power cut
 * left it where "efibootmgr -c" put it, left alone once in place or when
 * it booted the machine; its label matched whole; a listing with no
 * entries refused. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steps/efi-boot.h"

#define LABEL "debian (virtio-rr-t1)"

/* efibootmgr 18 (Debian trixie) in an OVMF guest booted from its first
 * disk's removable path, after "efibootmgr -c" added Boot0004. */
static const char after_create[] =
        "BootCurrent: 0001\n"
        "Timeout: 0 seconds\n"
        "BootOrder: 0004,0001,0000,0002\n"
        "Boot0000* UiApp\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(462caa21-7614-4503-836e-8ab6f4662331)\n"
        "Boot0001* UEFI Misc Device\tPciRoot(0x0)/Pci(0x1,0x0){auto_created_boot_option}\n"
        "Boot0002* EFI Internal Shell\tFvVol(7cb8bdc9-f8eb-4f34-aaea-3ee4af6516a1)/FvFile(7c04a583-9e3e-4f1c-ad65-e05268d0b4d1)\n"
        "Boot0004* " LABEL "\tHD(1,GPT,e8e5e420-beee-4af2-8cef-aaff9491e14e,0x800,0x80000)/File(\\EFI\\debian\\grubx64.efi)\n";

static int place(const char *listing, const char *label, char **num, char **order) {
        *num = *order = NULL;
        return efi_boot_order_place(listing, label, num, order);
}

static void expect(const char *what, const char *listing, const char *label, int want_r, const char *want_order) {
        char *num, *order;
        int r = place(listing, label, &num, &order);
        if (r != want_r || (want_order ? !order || strcmp(order, want_order) != 0 : order != NULL)) {
                fprintf(stderr, "FAIL %s: got %d '%s', want %d '%s'\n", what, r, order ? order : "(none)", want_r,
                        want_order ? want_order : "(none)");
                exit(1);
        }
        if (r >= 0 && (!num || strcmp(num, "0004") != 0)) {
                fprintf(stderr, "FAIL %s: entry number '%s', want 0004\n", what, num ? num : "(none)");
                exit(1);
        }
        printf("ok %s%s%s\n", what, order ? ": " : "", order ? order : "");
        free(num);
        free(order);
}

static char *edit(const char *from, const char *old, const char *new) {
        const char *p = strstr(from, old);
        assert(p);
        char *s = malloc(strlen(from) - strlen(old) + strlen(new) + 1);
        assert(s);
        sprintf(s, "%.*s%s%s", (int) (p - from), from, new, p + strlen(old));
        return s;
}

int main(void) {
        /* Right after "efibootmgr -c": moved behind the entry that booted. */
        expect("just created, first", after_create, LABEL, 1, "0001,0004,0000,0002");

        /* Once there, nothing to do (a second run of the step). */
        char *placed = edit(after_create, "BootOrder: 0004,0001,0000,0002", "BootOrder: 0001,0004,0000,0002");
        expect("in place", placed, LABEL, 0, NULL);

        /* Created with --create-only, or dropped from BootOrder by the firmware. */
        char *missing = edit(after_create, "BootOrder: 0004,0001,0000,0002", "BootOrder: 0001,0000,0002");
        expect("not in BootOrder", missing, LABEL, 1, "0001,0004,0000,0002");

        /* The entry booted this machine (a run after the switch): left where it is. */
        char *booted = edit(after_create, "BootCurrent: 0001", "BootCurrent: 0004");
        expect("booted from it", booted, LABEL, 0, NULL);

        /* Booted through an entry BootOrder does not hold (BootNext): last. */
        char *elsewhere = edit(missing, "BootCurrent: 0001", "BootCurrent: 0009");
        expect("BootCurrent not in BootOrder", elsewhere, LABEL, 1, "0001,0000,0002,0004");

        /* No BootOrder at all: the entry alone. */
        char *noorder = edit(after_create, "BootOrder: 0004,0001,0000,0002\n", "");
        expect("no BootOrder", noorder, LABEL, 1, "0004");

        /* efibootmgr 17 (bookworm) prints no device path without -v; an
         * inactive entry has a blank instead of '*'. */
        char *v17 = edit(after_create, "\tHD(1,GPT,e8e5e420-beee-4af2-8cef-aaff9491e14e,0x800,0x80000)/File(\\EFI\\debian\\grubx64.efi)", "");
        expect("efibootmgr 17 listing", v17, LABEL, 1, "0001,0004,0000,0002");
        char *inactive = edit(v17, "Boot0004* ", "Boot0004  ");
        expect("inactive entry", inactive, LABEL, 1, "0001,0004,0000,0002");

        /* The label is matched whole: "debian" is not "debian (virtio-rr-t1)",
         * nor is the label of another disk. */
        char *num, *order;
        assert(place(after_create, "debian", &num, &order) == -ENOENT && !order);
        assert(place(after_create, "debian (virtio-rr-t", &num, &order) == -ENOENT && !order);
        assert(place(after_create, "debian (virtio-rr-t2)", &num, &order) == -ENOENT && !order);
        printf("ok labels matched whole\n");

        /* Not a listing: refused, never read as "no entry" (which would add one). */
        assert(place("efibootmgr: EFI variables are not supported on this system.\n", LABEL, &num, &order) == -EBADMSG);
        assert(place("", LABEL, &num, &order) == -EBADMSG);
        assert(place("BootCurrent: 0001\nBootOrder: 0001\n", LABEL, &num, &order) == -EBADMSG);
        printf("ok no entries: refused\n");

        free(placed), free(missing), free(booted), free(elsewhere), free(noorder), free(v17), free(inactive);
        return 0;
}
