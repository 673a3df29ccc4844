/* SPDX-License-Identifier: GPL-2.0-or-later */
/* plans/rootraid-plan.schema.json must be exactly what the loader's tables
 * generate: this test fails when someone edits one without the other.
 * `test-plan-schema --write FILE` regenerates the file. */
#include <stdio.h>

#include "plan/plan.h"
#include "util/fileio.h"

int main(int argc, char *argv[]) {
        json_object *schema = NULL, *committed;
        int r;

        r = plan_schema(&schema);
        if (r < 0) {
                fprintf(stderr, "plan_schema: %s\n", strerror(-r));
                return 1;
        }
        const char *text = json_object_to_json_string_ext(schema, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                                  JSON_C_TO_STRING_NOSLASHESCAPE);
        if (argc == 3 && streq(argv[1], "--write")) {
                _cleanup_free_ char *t = NULL;
                if (asprintf(&t, "%s\n", text) < 0)
                        return 1;
                r = write_file_atomic(argv[2], t, strlen(t), 0644);
                json_object_put(schema);
                if (r < 0) {
                        fprintf(stderr, "%s: %s\n", argv[2], strerror(-r));
                        return 1;
                }
                return 0;
        }
        if (argc != 2) {
                fprintf(stderr, "usage: %s SCHEMA-FILE | --write SCHEMA-FILE\n", argv[0]);
                return 2;
        }
        committed = json_object_from_file(argv[1]);
        if (!committed) {
                fprintf(stderr, "%s: cannot read or parse\n", argv[1]);
                return 1;
        }
        r = json_object_equal(schema, committed);
        json_object_put(schema);
        json_object_put(committed);
        if (!r) {
                fprintf(stderr, "%s differs from the schema the loader's tables generate; "
                        "run test-plan-schema --write %s\n", argv[1], argv[1]);
                return 1;
        }
        printf("schema matches the loader's tables\n");
        return 0;
}
