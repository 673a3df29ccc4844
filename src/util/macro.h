/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define _unused_ __attribute__((unused))
#define _noreturn_ __attribute__((noreturn))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _warn_unused_result_ __attribute__((warn_unused_result))

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define ALIGN_TO(n, a) DIV_ROUND_UP(n, a) * (a)

/* Hand over ownership of a pointer or fd out of a _cleanup_ variable.
 * Functions rather than statement expressions, so -Wpedantic stays quiet. */
static inline void *take_ptr_internal(void *pp) {
        void **p = pp, *r = *p;
        *p = NULL;
        return r;
}
#define TAKE_PTR(p) ((__typeof__(p)) take_ptr_internal(&(p)))

static inline int take_fd_internal(int *fd) {
        int r = *fd;
        *fd = -EBADF;
        return r;
}
#define TAKE_FD(fd) take_fd_internal(&(fd))

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                (void) close(fd); /* close() errors on a read-only fd tell nothing useful */
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

#include <stdio.h>
static inline void fclosep(FILE **f) {
        if (*f)
                (void) fclose(*f); /* read side only; writers check fclose themselves */
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Define a cleanup function for a type that has a NULL-accepting destructor. */
#define DEFINE_TRIVIAL_CLEANUP_FUNC(type, func)         \
        static inline void func##p(type *p) {           \
                if (*p)                                 \
                        func(*p);                       \
        }

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}
#define streq(a, b) (strcmp((a), (b)) == 0)

static inline const char *strempty(const char *s) {
        return s ? s : "";
}
static inline const char *strna(const char *s) {
        return s ? s : "n/a";
}
static inline bool isempty(const char *s) {
        return !s || !*s;
}

/* Returns the rest of s after prefix, or NULL. */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

/* One table of names indexed by an enum gives both directions, so the names
 * used in the JSON plan stay stable.  Enums carry _X_MAX and _X_INVALID. */
#define DECLARE_STRING_TABLE(name, type)                        \
        const char *name##_to_string(type i);                   \
        type name##_from_string(const char *s)

#define DEFINE_STRING_TABLE(name, type, max)                    \
        const char *name##_to_string(type i) {                  \
                if ((int) i < 0 || (int) i >= (int) (max))      \
                        return NULL;                            \
                return name##_table[i];                         \
        }                                                       \
        type name##_from_string(const char *s) {                \
                if (!s)                                         \
                        return (type) -EINVAL;                  \
                for (int i = 0; i < (int) (max); i++)           \
                        if (name##_table[i] && streq(name##_table[i], s)) \
                                return (type) i;                \
                return (type) -EINVAL;                          \
        }
