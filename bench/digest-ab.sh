#!/usr/bin/env bash
# bench/digest-ab.sh BASE [ROUNDS]: the unsigned PasswordDigest hot path
# (BenchmarkDigestAuth, authn/username: parse + chain + nonce record) at
# commit BASE and at the working tree, interleaved round by round on one
# pinned CPU with GOMAXPROCS=1, at a fixed iteration count so that both
# replay caches end the same size. Prints Go benchmark lines tagged base/new.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${1:?usage: bench/digest-ab.sh BASE [ROUNDS]}
ROUNDS=${2:-5}
N=${N:-200000x}
CPU=${CPU:-1}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/authsvc-ab.XXXXXX")
trap 'git worktree remove --force "$TMP/base" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
git worktree add -q --detach "$TMP/base" "$BASE"
(cd "$TMP/base" && go test -c -o "$TMP/base.test" ./authn/username/)
go test -c -o "$TMP/new.test" ./authn/username/
echo "# bench/digest-ab.sh: base $(git rev-parse --short "$BASE"), new $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' + changes'), $(date -u +%Y-%m-%dT%H:%M:%SZ), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$ROUNDS"); do
	for v in base new; do
		(cd authn/username && GOMAXPROCS=1 taskset -c "$CPU" "$TMP/$v.test" -test.run '^$' \
			-test.bench 'DigestAuth' -test.benchtime "$N" -test.benchmem) |
			sed -n "s/^Benchmark/$v Benchmark/p"
	done
done
