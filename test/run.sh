#!/usr/bin/env bash
# Runs authsvc's whole test suite: vet, unit and integration tests (they
# start their own MIT KDC, slapd, Redis and nginx on loopback through
# internal/testenv and the scripts under test/), and a short run of every fuzz
# target. Nothing skips: AUTHSVC_LIVE=require makes a missing service fail
# its test (internal/testenv), and a skipped test fails the run. test/setup.sh
# installs what is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin:/usr/sbin:/sbin
# The live tier: a missing daemon, client or JVM fails instead of skipping.
export AUTHSVC_LIVE=require
# Count-based: a duration-based -fuzztime can fail spuriously with "context
# deadline exceeded" on Go 1.26 (go.dev/issue/75804).
FUZZTIME=${FUZZTIME:-50000x}

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change: $bad"; exit 1; fi
echo "== go vet"
go vet ./...
echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...
echo "== go test"
set +e
go test -count=1 -timeout 20m -json ./... > /tmp/authsvc-gotest.json 2>&1
gotest=$?
set -e
/usr/bin/python3 test/gotest-summary.py --no-skips < /tmp/authsvc-gotest.json > /tmp/authsvc-gotest-summary.txt || gotest=1
summary=$(tail -n 1 /tmp/authsvc-gotest-summary.txt)
cat /tmp/authsvc-gotest-summary.txt | sed '$d'
if [ "$gotest" != 0 ]; then echo "$summary"; exit 1; fi
echo "== fuzz (${FUZZTIME} inputs each)"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
    echo "-- $pkg $f"
    go test -run '^$' -fuzz "^${f}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime 2s "$pkg" >/tmp/authsvc-fuzz.log 2>&1 || { cat /tmp/authsvc-fuzz.log; exit 1; }
  done
done
echo "== all tests passed (fuzz targets included)"
echo "$summary"
