#!/usr/bin/env bash
# bench/rows/digest.sh [ROUNDS]: issue 14's "PasswordDigest in process" row.
# authsvc's BenchmarkDigestAuth/body=600 (authn/username: parse + chain +
# nonce recorded in a replay cache of 64k-80k entries) and Apache WSS4J
# 1.6.19's processSecurityHeader on the same 1.5 KB envelope
# (bench/wss4j/WSS4JBench.java, fresh nonce per message, MemoryReplayCache),
# interleaved round by round, everything pinned to one CPU:
#   - authsvc: GOMAXPROCS=1, a fixed iteration count (N, default 200000x);
#   - WSS4J fair: SerialGC, ActiveProcessorCount=1, one reused
#     DocumentBuilder, warmed WARMUP (default 10s) before a 2 s round;
#   - WSS4J default: the JVM's defaults (G1) and a new DocumentBuilderFactory
#     per message, as BENCHMARKS.md's older figures; reported, not in the ratio.
# The ratio of a round is WSS4J fair / authsvc (above 1: authsvc is faster); the last line is
#   RESULT digest authsvc=<µs> wss4j=<µs> ratio=<median> [<min>..<max>] target="<=3us, >=5x wss4j" met=<yes|no>
# with the medians over the rounds. A script, not a test: nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
N=${N:-200000x}
WARMUP=${WARMUP:-10s}
CPU=${CPU:-1}
JARS=/usr/share/java/wss4j.jar:/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar
FAIR_OPTS=${FAIR_OPTS:--Xms512m -Xmx512m -XX:+UseSerialGC -XX:ActiveProcessorCount=1}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/authsvc-row-digest.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "# bench/rows/digest.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs ($(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //')), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(go version); $(java -version 2>&1 | head -1); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' + changes')"
echo "# pinned to CPU $CPU; authsvc -test.benchtime $N; WSS4J warm-up $WARMUP per round; fair JAVA_OPTS=$FAIR_OPTS"
javac -nowarn -d "$TMP/j" -cp "$JARS" bench/wss4j/WSS4JBench.java
go test -c -o "$TMP/username.test" ./authn/username/

# nsop FILE PATTERN: the ns/op of the first line matching PATTERN.
nsop() { awk -v p="$2" '$0 ~ p { for (i = 1; i <= NF; i++) if ($(i+1) == "ns/op") { print $i; exit } }' "$1"; }

: >"$TMP/rounds"
for r in $(seq "$ROUNDS"); do
	(cd authn/username && GOMAXPROCS=1 taskset -c "$CPU" "$TMP/username.test" -test.run '^$' \
		-test.bench 'DigestAuth/body=600$' -test.benchtime "$N" -test.benchmem) >"$TMP/go" 2>&1
	# shellcheck disable=SC2086 # FAIR_OPTS is a list of words
	taskset -c "$CPU" java $FAIR_OPTS -cp "$TMP/j:$JARS" WSS4JBench -sizes 600 \
		-warmup "$WARMUP" -rounds 1 -round 2s >"$TMP/fair" 2>/dev/null
	taskset -c "$CPU" java -cp "$TMP/j:$JARS" WSS4JBench -sizes 600 -new-dbf \
		-warmup "$WARMUP" -rounds 1 -round 2s >"$TMP/dflt" 2>/dev/null
	a=$(nsop "$TMP/go" '^BenchmarkDigestAuth')
	w=$(nsop "$TMP/fair" '^BenchmarkWSS4J')
	d=$(nsop "$TMP/dflt" '^BenchmarkWSS4J')
	grep '^BenchmarkDigestAuth' "$TMP/go" | sed 's/^/authsvc /'
	grep '^BenchmarkWSS4J' "$TMP/fair" | sed 's/^/wss4j-fair /'
	grep '^BenchmarkWSS4J' "$TMP/dflt" | sed 's/^/wss4j-default /'
	echo "$a $w $d" | awk -v r="$r" '{ printf "# round %d: authsvc %.2f us, WSS4J fair %.2f us (%.2fx), WSS4J default %.2f us (%.2fx)\n", r, $1/1000, $2/1000, $2/$1, $3/1000, $3/$1 }'
	echo "$a $w $d" >>"$TMP/rounds"
done
echo "# loadavg at the end $(cut -d' ' -f1-3 /proc/loadavg)"
med() { awk -v c="$1" '{ print $c }' "$TMP/rounds" | sort -g | awk '{ x[NR] = $1 } END { print x[int((NR+1)/2)] }'; }
a=$(med 1) w=$(med 2) d=$(med 3)
awk '{ print $2/$1 }' "$TMP/rounds" | sort -g | awk -v a="$a" -v w="$w" -v d="$d" '
	{ x[NR] = $1 }
	END {
		med = x[int((NR+1)/2)]
		printf "# WSS4J default configuration (G1, new DocumentBuilderFactory per message): %.2f us median, %.2fx authsvc\n", d/1000, d/a
		met = (a/1000 <= 3 && med >= 5) ? "yes" : "no"
		printf "RESULT digest authsvc=%.2f wss4j=%.2f ratio=%.2f [%.2f..%.2f] target=\"<=3us, >=5x wss4j\" met=%s\n", a/1000, w/1000, med, x[1], x[NR], met
	}'
