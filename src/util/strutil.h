/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* NULL-terminated string vectors. */
char **strv_free(char **l);
size_t strv_length(char *const *l);
/* Appends a copy of s; returns 0 or -ENOMEM. */
int strv_extend(char ***l, const char *s);
int strv_contains(char *const *l, const char *s);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ __attribute__((cleanup(strv_freep)))

/* "1.5 GiB": buf must hold at least FORMAT_BYTES_MAX bytes. */
#define FORMAT_BYTES_MAX 32
const char *format_bytes(char *buf, size_t l, uint64_t bytes);

/* Parses "512", "512B", "4K", "10M", "1.5G", "2T", "100MiB" (binary units). */
int parse_size(const char *s, uint64_t *ret);

/* The rest of the first line of TEXT that starts with KEY followed by SEP
 * (blanks after SEP skipped), up to the end of that line, newly allocated;
 * NULL when no line does, or when out of memory.  For "key=value" and
 * "Key: value" listings. */
char *line_field(const char *text, const char *key, char sep);

/* Removes trailing whitespace in place; returns s. */
char *strstrip_trailing(char *s);
