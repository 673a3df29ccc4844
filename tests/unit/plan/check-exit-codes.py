#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The README's exit-code table lists exactly the codes of src/main.c's
exit_codes[] table (plus 1, which main.c documents in its help text).
  check-exit-codes.py SOURCE_ROOT"""
import re
import sys

root = sys.argv[1]
main = open(root + "/src/main.c").read()
table = main[main.index("exit_codes[] = {"):]
table = table[:table.index("};")]
code_c = {int(n) for n in re.findall(r"\{\s*-?[A-Z0-9]+,\s*(\d+),", table)} | {1}

readme = open(root + "/README.md").read()
section = readme[readme.index("## Exit codes"):]
section = section[:section.find("\n## ", 5)] if "\n## " in section[5:] else section
rows = [int(n) for n in re.findall(r"^\| (\d+) \|", section, re.M)]
code_md = set(rows)
twice = sorted({n for n in rows if rows.count(n) > 1})
if twice:
    print("README lists exit codes %s more than once" % twice)
    sys.exit(1)

if code_c != code_md:
    print("README exit codes %s, src/main.c %s: only in main.c %s, only in README %s" %
          (sorted(code_md), sorted(code_c), sorted(code_c - code_md), sorted(code_md - code_c)))
    sys.exit(1)
print("README and src/main.c agree on exit codes", sorted(code_c))
