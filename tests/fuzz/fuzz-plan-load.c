/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libFuzzer target for the plan loader: whatever the bytes, loading either
 * fails with a message or gives a plan that serialises and prints. */
#include <stdio.h>

#include "plan/plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static FILE *null;
        struct plan *p = NULL;
        char *err = NULL;

        if (!null)
                null = fopen("/dev/null", "we");
        if (plan_load_string((const char *) data, size, &p, &err) == 0) {
                json_object *o = NULL;
                if (plan_to_json(p, &o) == 0)
                        json_object_put(o);
                if (null)
                        (void) plan_print_summary(p, null); /* output discarded: only crashes matter */
        }
        plan_free(p);
        free(err);
        return 0;
}
