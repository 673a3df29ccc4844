/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* CRC-32C (Castagnoli), as used by ext4 and iSCSI.  It guards the journal
 * against torn and corrupted copies; it is not meant to resist tampering.
 * Start with crc = 0; feed more data by passing the previous result. */
uint32_t crc32c(uint32_t crc, const void *data, size_t size);
