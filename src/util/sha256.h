/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* SHA-256 (FIPS 180-4).  Used for the plan fingerprint and the journal
 * checksum: integrity against accidents and edits, not a security
 * boundary. */

#define SHA256_DIGEST_SIZE 32
#define SHA256_HEX_SIZE (SHA256_DIGEST_SIZE * 2 + 1)

struct sha256_ctx {
        uint32_t state[8];
        uint64_t length;        /* bytes fed so far */
        uint8_t buffer[64];
        size_t buffered;
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, uint8_t ret_digest[static SHA256_DIGEST_SIZE]);

/* One-shot digest of data. */
void sha256(const void *data, size_t len, uint8_t ret_digest[static SHA256_DIGEST_SIZE]);

/* One-shot digest as lower-case hex into ret_hex (SHA256_HEX_SIZE bytes,
 * NUL-terminated); returns ret_hex. */
char *sha256_hex(const void *data, size_t len, char ret_hex[static SHA256_HEX_SIZE]);
