#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""The JSON Schema in plans/ against the real plans and the loader.

  check-schema.py ROOTRAID TEST_PLAN FIXTURES_DIR SOURCE_ROOT [LAYOUTS_DIR] [--regenerate]

1. The schema is a valid draft 2020-12 schema.
2. Every example in plans/examples/ validates, loads with `rootraid show`,
   and equals (but for `created` and `tool_version`) what `rootraid plan`
   produces now on its fixture; every plan produced validates too.
3. One invalid document per violation class (written by
   `test-plan FIXTURES dump DIR`): those a schema can express are rejected
   by the schema at the path the loader names; the semantic ones (broken
   references, duplicate ids, fingerprint) are the loader's alone.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import jsonschema
except ImportError:
    print("python3-jsonschema is not installed")
    sys.exit(77)

EPOCH = "1767225600"
IGNORED = ("created", "tool_version")


def fmt_path(parts):
    s = ""
    for p in parts:
        s += "[%d]" % p if isinstance(p, int) else ("." if s else "") + p
    return s


def main():
    rootraid, test_plan, fixtures, src = sys.argv[1:5]
    regenerate = "--regenerate" in sys.argv[5:]
    # Fixtures are looked up in tests/fixtures' build dir, then in the
    # planner's own layouts.
    search = [fixtures] + [a for a in sys.argv[5:] if not a.startswith("--")]
    schema = json.load(open(os.path.join(src, "plans", "rootraid-plan.schema.json")))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0

    def fail(msg):
        nonlocal failures
        failures += 1
        print("FAILED:", msg)

    exdir = os.path.join(src, "plans", "examples")
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH)
    with tempfile.TemporaryDirectory() as tmp:
        checked = 0
        for line in open(os.path.join(exdir, "examples.list")):
            if not line.strip() or line.startswith("#"):
                continue
            name, fixture, *opts = line.split()
            sysroot = next((os.path.join(d, fixture) for d in search if os.path.isdir(os.path.join(d, fixture))),
                           os.path.join(fixtures, fixture))
            if fixture == "luks" and not os.path.exists(os.path.join(sysroot, "dev", "sda2")):
                print("skip %s: the luks fixture is not built here" % name)
                continue
            out = os.path.join(tmp, name + ".json")
            r = subprocess.run([rootraid, "plan", "--sysroot", sysroot, "--output", out] + opts,
                               env=env, capture_output=True, text=True)
            if r.returncode != 0:
                fail("%s: rootraid plan exited %d: %s" % (name, r.returncode, r.stderr))
                continue
            produced = json.load(open(out))
            errors = list(validator.iter_errors(produced))
            if errors:
                fail("%s: the produced plan violates the schema at %s: %s" %
                     (name, fmt_path(errors[0].absolute_path), errors[0].message))
            path = os.path.join(exdir, name + ".json")
            if regenerate:
                with open(path, "w") as f:
                    f.write(open(out).read())
                print("wrote", path)
            example = json.load(open(path))
            errors = list(validator.iter_errors(example))
            if errors:
                fail("%s: the example violates the schema at %s: %s" %
                     (name, fmt_path(errors[0].absolute_path), errors[0].message))
            r = subprocess.run([rootraid, "show", "--json", path], capture_output=True, text=True)
            if r.returncode != 0:
                fail("%s: rootraid show refuses the example: %s" % (name, r.stderr))
            r = subprocess.run([rootraid, "show", path], capture_output=True, text=True)
            for part in ("Today:", "After the migration:", "Steps:", "Disks overwritten:", "Data to copy",
                         "Point of no return: step", "POINT OF NO RETURN", example["target"]["disks"][1]["device"]):
                if part not in r.stdout:
                    fail("%s: the summary lacks %r" % (name, part))
            for k in IGNORED:
                example.pop(k, None)
                produced.pop(k, None)
            if example != produced:
                diff = [k for k in sorted(set(example) | set(produced)) if example.get(k) != produced.get(k)]
                fail("%s: plans/examples/%s.json differs from what plan produces now (fields %s); "
                     "rerun with --regenerate if the change is intended" % (name, name, ", ".join(diff)))
            checked += 1
        if checked < 8:
            fail("only %d examples checked" % checked)

        dump = os.path.join(tmp, "violations")
        r = subprocess.run([test_plan, fixtures, "dump", dump], capture_output=True, text=True)
        if r.returncode != 0:
            fail("test-plan dump: %s%s" % (r.stdout, r.stderr))
        rows = [l.rstrip("\n").split("\t") for l in open(os.path.join(dump, "manifest"))]
        for name, path, who in rows:
            doc = json.load(open(os.path.join(dump, name + ".json")))
            errors = list(validator.iter_errors(doc))
            paths = [fmt_path(e.absolute_path) for e in errors]
            parent = path.rsplit(".", 1)[0] if "." in path else ""
            if who == "both":
                if not errors:
                    fail("%s: the schema accepts it; the loader rejects it at %s" % (name, path))
                elif path not in paths and parent not in paths:
                    fail("%s: the schema rejects it at %s, the loader at %s" % (name, paths, path))
                else:
                    print("ok %s: both reject at %s" % (name, path))
            else:
                print("ok %s: loader-only (%s); schema %s" % (name, path, "rejects too" if errors else "cannot express it"))
        if len(rows) < 20:
            fail("only %d violation classes" % len(rows))

    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
