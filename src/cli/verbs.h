/* SPDX-License-Identifier: GPL-2.0-or-later */
#pragma once

/* Each verb parses its own options (argv[0] is the verb's name) and returns
 * 0, a positive exit status it chose itself (1 = "differences found"), or a
 * negative errno that main() maps to an exit code through one table. */

int verb_copy(int argc, char *argv[]);
int verb_plan(int argc, char *argv[]);
int verb_show(int argc, char *argv[]);
int verb_apply(int argc, char *argv[]);
int verb_resume(int argc, char *argv[]);
int verb_rollback(int argc, char *argv[]);
int verb_status(int argc, char *argv[]);
int verb_verify(int argc, char *argv[]);

struct facts;
/* Inspects the machine (root needed: -EACCES otherwise) or a sysroot, and
 * logs why when it fails.  Shared by plan and show --check. */
int verb_inspect(const char *sysroot, struct facts **ret);
