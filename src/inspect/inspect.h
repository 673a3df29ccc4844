/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

#include "inspect/model.h"

struct inspect_options {
        /* Fixture tree read instead of "/" (its proc/, sys/, etc/, dev/);
         * NULL or "/" for the live system. */
        const char *sysroot;
        /* Skip calling external tools (lvm2's JSON reports); fixtures carry
         * their output as files instead. */
        bool no_exec;
};

/* Reads the machine (or the fixture) into a new struct facts.  Returns 0 and
 * *ret_facts (caller frees with facts_free()), or a negative errno and, when
 * ret_error is non-NULL, a sentence saying what could not be read (caller
 * frees).  Nothing is written anywhere. */
int inspect_system(const struct inspect_options *opts, struct facts **ret_facts, char **ret_error);
