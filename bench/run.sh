#!/usr/bin/env bash
# bench/run.sh: authsvc's hot-path figures and the Apache WSS4J 1.6.19
# baseline, in one go, written to bench/results.txt. Run it on a quiet machine
# (nothing else busy: the load average is recorded in the results).
#
#   bench/run.sh           full run (about 5-6 minutes; every step is bounded
#                          by `timeout`, the whole under 10 minutes)
#   bench/run.sh -quick    smoke test of every step (about 1 minute); writes
#                          bench/results-quick.txt, and its numbers are noise
#
# Environment:
#   OUT                 results file (default bench/results.txt, or
#                       bench/results-quick.txt with -quick)
#   AUTHSVC_BENCH_ARGS  arguments for cmd/authsvc-bench, if that command
#                       exists; every target in them (and in its defaults)
#                       must be a loopback address or the step is skipped
#   JAVA_OPTS           JVM options (default -Xms2g -Xmx2g)
set -u -o pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=0
if [ "${1:-}" = "-quick" ]; then
	QUICK=1
elif [ $# -gt 0 ]; then
	echo "usage: bench/run.sh [-quick]" >&2
	exit 2
fi

if [ $QUICK = 1 ]; then
	OUT=${OUT:-bench/results-quick.txt}
	GOFLAGS_BENCH=(-benchtime 100ms -count 1)
	WSS4J_ARGS=(-warmup 2s -big-warmup 2s -rounds 3 -round 500ms)
	TOOL_SECONDS=3
else
	OUT=${OUT:-bench/results.txt}
	GOFLAGS_BENCH=(-count 5)
	# JIT warm-up: 20 s for the 1.5 KB message (about a million messages
	# at ~15-30 us), 10 s for the 1 MB one; then 5 rounds of 2 s each.
	WSS4J_ARGS=(-warmup 20s -big-warmup 10s -rounds 5 -round 2s)
	TOOL_SECONDS=30
fi
JAVA_OPTS=${JAVA_OPTS:--Xms2g -Xmx2g}
JARS=/usr/share/java/wss4j.jar:/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar

TMP=$(mktemp -d "${TMPDIR:-/tmp}/authsvc-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
START=$(date +%s)
FAILED=0

: >"$OUT"
say() { printf '%s\n' "$*" | tee -a "$OUT"; }
# step NAME TIMEOUT CMD...: runs CMD with a time limit, its output (stdout
# and stderr) going to the terminal and the results file.
step() {
	local name=$1 limit=$2
	shift 2
	say ""
	say "=== $name"
	say "\$ $*"
	local t0=$(date +%s)
	timeout --kill-after=10s "$limit" "$@" 2>&1 | tee -a "$OUT"
	local rc=${PIPESTATUS[0]}
	say "--- $name: exit $rc, $(($(date +%s) - t0)) s"
	if [ "$rc" != 0 ]; then
		FAILED=1
	fi
}

say "# authsvc hot-path benchmarks$([ $QUICK = 1 ] && echo ' (QUICK SMOKE RUN: numbers are noise)')"
say "date:     $(date -u +%Y-%m-%dT%H:%M:%SZ)"
say "host:     $(uname -srm)"
say "nproc:    $(nproc)"
say "cpu:      $(grep -m1 '^model name' /proc/cpuinfo | sed 's/^model name[[:space:]]*:[[:space:]]*//')"
say "cpu MHz:  $(grep -m1 '^cpu MHz' /proc/cpuinfo | sed 's/^cpu MHz[[:space:]]*:[[:space:]]*//')"
say "loadavg:  $(cut -d' ' -f1-3 /proc/loadavg) (at start; should be near 0 on a quiet machine)"
say "go:       $(go version)"
say "java:     $(java -version 2>&1 | tr '\n' ';' | sed 's/;$//')"
say "commit:   $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD -- . 2>/dev/null || echo ' (working tree has changes)')"
say "JAVA_OPTS: $JAVA_OPTS"

# --- Go ---------------------------------------------------------------------
GOBENCH=(go test -run '^$' -bench . -benchmem "${GOFLAGS_BENCH[@]}" ./wsse/ ./authn/username/)
# Build (and cache) the test binaries first, so compiling is not part of the
# timed steps' wall time and a build error shows up on its own.
step "go test build" 300s go test -run '^$' -count 1 ./wsse/ ./authn/username/
step "Go benchmarks, GOMAXPROCS=1" 270s env GOMAXPROCS=1 "${GOBENCH[@]}"
step "Go benchmarks, GOMAXPROCS default ($(nproc))" 270s "${GOBENCH[@]}"

# --- WSS4J 1.6.19 -----------------------------------------------------------
if javac -nowarn -d "$TMP/wss4j" -cp "$JARS" bench/wss4j/WSS4JBench.java 2>"$TMP/javac.err"; then
	# shellcheck disable=SC2086 # JAVA_OPTS is a list of words
	step "WSS4J 1.6.19 baseline (same message as BenchmarkDigestAuth)" 150s \
		java $JAVA_OPTS -cp "$TMP/wss4j:$JARS" WSS4JBench "${WSS4J_ARGS[@]}"
	# shellcheck disable=SC2086
	step "WSS4J 1.6.19 with a wsu:Timestamp in the header too (not in the Go message)" 90s \
		java $JAVA_OPTS -cp "$TMP/wss4j:$JARS" WSS4JBench "${WSS4J_ARGS[@]}" -sizes 600 -timestamp
else
	say ""
	say "=== WSS4J baseline: javac failed"
	tee -a "$OUT" <"$TMP/javac.err"
	FAILED=1
fi

# --- cmd/authsvc-bench (load tool), if it exists ------------------------------
# Only loopback targets: every URL or host:port in the arguments and in the
# tool's own -help defaults must be 127.0.0.0/8, ::1 or localhost.
nonloopback() {
	grep -oE '[a-zA-Z][a-zA-Z0-9+.-]*://(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+)|(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):[0-9]{2,5}' |
		sed -E 's#^[a-zA-Z][a-zA-Z0-9+.-]*://##; s#:[0-9]+$##; s#^\[(.*)\]$#\1#' |
		grep -vE '^(127\.[0-9]+\.[0-9]+\.[0-9]+|localhost|::1|)$' || true
}
if [ -d cmd/authsvc-bench ]; then
	step "build cmd/authsvc-bench" 120s go build -o "$TMP/authsvc-bench" ./cmd/authsvc-bench
	if [ -x "$TMP/authsvc-bench" ]; then
		HELP=$(timeout 10s "$TMP/authsvc-bench" -h 2>&1 || true)
		say ""
		say "=== cmd/authsvc-bench -h"
		say "$HELP"
		ARGS=${AUTHSVC_BENCH_ARGS:-}
		if [ -z "$ARGS" ]; then
			# Bound the run by its own duration flag if it has one.
			for f in duration d time t; do
				if grep -qE "^[[:space:]]*-{1,2}$f([[:space:]=]|$)" <<<"$HELP"; then
					ARGS="-$f ${TOOL_SECONDS}s"
					break
				fi
			done
		fi
		# Explicit arguments are checked; without them, the tool's defaults too.
		if [ -n "${AUTHSVC_BENCH_ARGS:-}" ]; then
			BAD=$(printf '%s\n' "$ARGS" | nonloopback | sort -u | tr '\n' ' ')
		else
			BAD=$( (printf '%s\n' "$ARGS"; printf '%s\n' "$HELP") | nonloopback | sort -u | tr '\n' ' ')
		fi
		if [ -n "$BAD" ]; then
			say ""
			say "=== cmd/authsvc-bench: NOT RUN, non-loopback target(s) in its arguments or defaults: $BAD"
			say "    (set AUTHSVC_BENCH_ARGS to loopback targets only)"
		else
			# shellcheck disable=SC2086 # ARGS is a list of words
			step "cmd/authsvc-bench $ARGS (bounded to $((TOOL_SECONDS + 60)) s)" "$((TOOL_SECONDS + 60))s" \
				"$TMP/authsvc-bench" $ARGS
		fi
	fi
else
	say ""
	say "=== cmd/authsvc-bench: not in this tree (skipped)"
fi

say ""
say "loadavg:  $(cut -d' ' -f1-3 /proc/loadavg) (at end)"
say "total:    $(($(date +%s) - START)) s$([ $FAILED = 1 ] && echo ', SOME STEPS FAILED')"
echo "wrote $OUT" >&2
exit $FAILED
