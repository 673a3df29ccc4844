/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* What the planner's unit tests share: a CHECK that counts failures and
 * goes on, and inspection of a fixture layout under FIXTURES. */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"
#include "util/strutil.h"

#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

static const char *fixtures;
static unsigned failures;

#define CHECK(cond, ...) do {                                                   \
                if (!(cond)) {                                                  \
                        fprintf(stderr, "%s:%d: FAILED: %s: ", __FILE__, __LINE__, #cond); \
                        fprintf(stderr, __VA_ARGS__);                           \
                        fputc('\n', stderr);                                    \
                        failures++;                                             \
                }                                                               \
        } while (0)

/* The facts of fixture layout fixtures/LAYOUT; exits on failure. */
static inline struct facts *load_facts(const char *layout) {
        _cleanup_free_ char *dir = NULL, *err = NULL;
        struct facts *f = NULL;
        struct inspect_options o = {};
        int r;

        if (asprintf(&dir, "%s/%s", fixtures, layout) < 0)
                abort();
        o.sysroot = dir;
        r = inspect_system(&o, &f, &err);
        if (r < 0) {
                fprintf(stderr, "inspect_system(%s): %s: %s\n", dir, strerror(-r), strna(err));
                exit(1);
        }
        return f;
}
