#!/usr/bin/python3
"""Reads `go test -json` on stdin, prints each package's result as go test
would, the output of every failed test, and a closing line
"tests: N passed, N failed, N skipped". Exits 1 when anything failed, and
with --no-skips also when any test skipped (the live tier: test/run.sh),
after printing each skipped test with its reason."""
import json
import re
import sys

passed = failed = skipped = 0
out = {}          # (package, test) -> output lines
failed_tests = []
skipped_tests = []
no_skips = "--no-skips" in sys.argv[1:]
pkg_fail = False
for line in sys.stdin:
    try:
        ev = json.loads(line)
    except ValueError:
        print(line, end="")
        continue
    pkg, test, action = ev.get("Package", ""), ev.get("Test"), ev.get("Action")
    if action == "output":
        out.setdefault((pkg, test), []).append(ev.get("Output", ""))
        if test is None:
            o = ev.get("Output", "")
            if o.startswith(("ok ", "FAIL", "?  ", "---", "panic")) or "build failed" in o:
                print(o, end="")
        continue
    if test is None:
        if action == "fail":
            pkg_fail = True
            for l in out.get((pkg, None), []):
                if not l.startswith(("ok ", "FAIL\t")):
                    print(l, end="")
        continue
    if action == "pass":
        passed += 1
    elif action == "fail":
        failed += 1
        failed_tests.append((pkg, test))
    elif action == "skip":
        skipped += 1
        skipped_tests.append((pkg, test))

for pkg, test in failed_tests:
    print("--- FAIL: %s %s" % (pkg, test))
    for l in out.get((pkg, test), []):
        print("    " + l, end="")
if no_skips:
    for pkg, test in skipped_tests:
        print("--- SKIP (not allowed here): %s %s" % (pkg, test))
        for l in out.get((pkg, test), []):
            print("    " + l, end="")
# A failed test's output can be long (service logs dumped on failure), and
# only its tail may be seen; so its own messages (file_test.go:N: ...) are
# repeated here, last, at most 20 per test.
msg = re.compile(r"^\s*[\w.-]+_test\.go:\d+: ")
if failed_tests:
    print("== why the failed tests failed")
for pkg, test in failed_tests:
    lines = [l.strip() for l in out.get((pkg, test), []) if msg.match(l)]
    print("%s %s: %d message(s)" % (pkg, test, len(lines)))
    for l in lines[:20]:
        print("    " + l[:300])
print("tests: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
sys.exit(1 if failed or pkg_fail or (no_skips and skipped) else 0)
