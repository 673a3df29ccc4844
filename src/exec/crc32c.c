/* SPDX-License-Identifier: GPL-2.0-or-later */
#include "exec/crc32c.h"

/* Bitwise table built on first use: 1 KiB, no generated source to keep. */
static uint32_t table[256];
static int table_ready;

static void table_init(void) {
        for (uint32_t i = 0; i < 256; i++) {
                uint32_t c = i;
                for (int k = 0; k < 8; k++)
                        c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
                table[i] = c;
        }
        table_ready = 1;
}

uint32_t crc32c(uint32_t crc, const void *data, size_t size) {
        const unsigned char *p = data;

        if (!table_ready)
                table_init();
        crc = ~crc;
        while (size-- > 0)
                crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
        return ~crc;
}
