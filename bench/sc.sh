#!/usr/bin/env bash
# bench/sc.sh [ROUNDS]: the cost of one message signed with a
# WS-SecureConversation context (profile M: a DerivedKeyToken signs Body and
# Timestamp; profile T: the context's secret signs the Timestamp), next to
# the other ways a message authenticates: PasswordDigest over the users file,
# a Kerberos AP-REQ, an LDAP bind. Each benchmark is the module's whole work
# on a ready message (parse, chain, key lookup, verification, replay
# record). The benchmarks alternate round by round on one pinned CPU with
# GOMAXPROCS=1 at fixed iteration counts; the LDAP and Kerberos benchmarks
# start their real slapd and KDC (internal/testenv) outside the timer.
# Prints Go benchmark lines; take the median of each across rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-5}
CPU=${CPU:-1}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/authsvc-sc.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
declare -A PKG=([secureconv]=./authn/secureconv [username]=./authn/username [kerberos]=./authn/kerberos [ldap]=./registry/ldap)
for b in "${!PKG[@]}"; do go test -c -o "$TMP/$b.test" "${PKG[$b]}"; done
echo "# bench/sc.sh: $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' + changes'), $(date -u +%Y-%m-%dT%H:%M:%SZ), loadavg $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3), CPU $CPU"
run() { # binary dir pattern benchtime
	(cd "$2" && GOMAXPROCS=1 taskset -c "$CPU" "$TMP/$1.test" -test.run '^$' -test.bench "$3" \
		-test.benchtime "$4" -test.benchmem 2>&1) | grep '^Benchmark' || { echo "bench/sc.sh: $1 $3 failed" >&2; exit 1; }
}
for r in $(seq "$ROUNDS"); do
	echo "# round $r"
	run secureconv authn/secureconv 'ProfileM$' 2000x
	run secureconv authn/secureconv 'ProfileT$' 2000x
	run username authn/username 'DigestAuth/body=600$' 50000x
	run kerberos authn/kerberos '^BenchmarkAccept$/no-ticket-cache' 2000x
	run ldap registry/ldap 'VerifyPassword/NoCache/Right' 300x
done
