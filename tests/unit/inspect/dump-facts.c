/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Prints the facts inspect_system() reads, as JSON: for looking at a
 * fixture or a machine while writing tests, and for timing inspection.
 * Usage: dump-facts [SYSROOT] [--repeat N] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "inspect/inspect.h"

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

int main(int argc, char *argv[]) {
        struct inspect_options o = {};
        int repeat = 0;

        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--repeat") && i + 1 < argc)
                        repeat = atoi(argv[++i]);
                else
                        o.sysroot = argv[i];
        }

        if (repeat > 0) {
                /* Wall time, and the CPU time of this process, which a
                 * busy machine inflates less. */
                double *t = calloc((size_t) repeat, sizeof(double)), *cpu = calloc((size_t) repeat, sizeof(double));
                if (!t || !cpu)
                        return 1;
                for (int i = 0; i < repeat; i++) {
                        struct timespec a, b, ca, cb;
                        struct facts *f = NULL;
                        char *err = NULL;
                        clock_gettime(CLOCK_MONOTONIC, &a);
                        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ca);
                        int r = inspect_system(&o, &f, &err);
                        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cb);
                        clock_gettime(CLOCK_MONOTONIC, &b);
                        cpu[i] = (double) (cb.tv_sec - ca.tv_sec) * 1e3 + (double) (cb.tv_nsec - ca.tv_nsec) / 1e6;
                        if (r < 0) {
                                fprintf(stderr, "inspect_system: %s\n", err ? err : strerror(-r));
                                return 1;
                        }
                        facts_free(f);
                        free(err);
                        t[i] = (double) (b.tv_sec - a.tv_sec) * 1e3 + (double) (b.tv_nsec - a.tv_nsec) / 1e6;
                }
                qsort(t, (size_t) repeat, sizeof(double), cmp_double);
                qsort(cpu, (size_t) repeat, sizeof(double), cmp_double);
                printf("%d runs: wall median %.2f ms (min %.2f, max %.2f), cpu median %.2f ms\n", repeat,
                       t[repeat / 2], t[0], t[repeat - 1], cpu[repeat / 2]);
                free(t);
                free(cpu);
                return 0;
        }

        struct facts *f = NULL;
        char *err = NULL;
        json_object *j = NULL;
        int r = inspect_system(&o, &f, &err);
        if (r < 0) {
                fprintf(stderr, "inspect_system: %s\n", err ? err : strerror(-r));
                free(err);
                return 1;
        }
        r = facts_to_json(f, &j);
        if (r < 0)
                return 1;
        puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        facts_free(f);
        return 0;
}
