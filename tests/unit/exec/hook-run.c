/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hook-run ROOT PHASE: runs the hooks of ROOT/PHASE with the real hook
 * runner, the way a migration step runs them (plan /root/plan.json, step
 * hooks-PHASE), so test-hook-examples.sh can run the shipped examples as
 * they are installed.  The hooks' output goes to stderr through the log.
 * Exit 0 when the phase succeeded, 1 (with the error) when it failed. */
#include <stdio.h>
#include <stdlib.h>

#include "exec/hooks.h"
#include "util/log.h"

int main(int argc, char *argv[]) {
        _cleanup_free_ char *error = NULL, *step = NULL;
        int r;

        if (argc != 3) {
                fprintf(stderr, "Usage: %s ROOT PHASE\n", argv[0]);
                return 2;
        }
        if (asprintf(&step, "hooks-%s", argv[2]) < 0)
                return 1;
        struct hook_env env = {
                .plan_path = "/root/plan.json",
                .target_dir = "/run/rootraid/target",
                .step_id = step,
                .journal_path = "/var/lib/rootraid/journal.json",
                .timeout_sec = 60,
        };
        enum hook_phase phase = hook_phase_from_string(argv[2]);
        if (phase < 0) {
                fprintf(stderr, "hook-run: no phase %s\n", argv[2]);
                return 2;
        }
        r = hooks_run(argv[1], phase, &env, &error);
        if (r < 0) {
                fprintf(stderr, "hook-run: %s\n", error ?: "failed");
                return 1;
        }
        return 0;
}
