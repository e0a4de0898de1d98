#!/usr/bin/env bash
# bench/rows/derived.sh [ROUNDS]: issue 14's "derived key (1000 iterations)"
# row. A derived-key message made by WSS4J itself (test/wss4j/Gen.java: user
# bob, password "security", Iteration 1000, HMAC-SHA1 over Body and
# Timestamp, a Body of SIZE (default 200) bytes of text, as WSS4J's default test message and the recorded wsse/dsig/testdata/wss4j-soap11-hmac-sha1.xml) is verified by authsvc's
# BenchmarkLoginDerivedKeySize/body=SIZE (authn/username: parse, freshness, key
# derivation, DOM, C14N, digests, HMAC) and by Apache WSS4J 1.6.19
# (bench/wss4j/WSS4JSignedBench.java: DOM parse + processSecurityHeader),
# interleaved round by round, everything pinned to one CPU:
#   - authsvc: GOMAXPROCS=1, -test.benchtime BENCHTIME (default 2s);
#   - WSS4J fair: SerialGC, ActiveProcessorCount=1, one reused
#     DocumentBuilder, warmed WARMUP (default 20s) before a 2 s round;
#   - WSS4J default: the JVM's defaults (G1) and a new DocumentBuilderFactory
#     per message; reported, not in the ratio.
# The ratio of a round is WSS4J fair / authsvc (above 1: authsvc is faster);
# the last line is
#   RESULT derived authsvc=<µs> wss4j=<µs> ratio=<median> [<min>..<max>] target="<=80us" met=<yes|no>
# with the medians over the rounds. A script, not a test: nothing is asserted.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${1:-3}
BENCHTIME=${BENCHTIME:-2s}
WARMUP=${WARMUP:-20s}
CPU=${CPU:-1}
SIZE=${SIZE:-200}
JARS=/usr/share/java/wss4j.jar:/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar
FAIR_OPTS=${FAIR_OPTS:--Xms512m -Xmx512m -XX:+UseSerialGC -XX:ActiveProcessorCount=1}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/authsvc-row-derived.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

echo "# bench/rows/derived.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs ($(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //')), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(go version); $(java -version 2>&1 | head -1); commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . || echo ' + changes')"
echo "# pinned to CPU $CPU; authsvc -test.benchtime $BENCHTIME; WSS4J warm-up $WARMUP per round; fair JAVA_OPTS=$FAIR_OPTS"
javac -nowarn -d "$TMP/gen" -cp "$JARS" test/wss4j/Gen.java
javac -nowarn -d "$TMP/j" -cp "$JARS" bench/wss4j/WSS4JSignedBench.java
mkdir -p "$TMP/msgs"
printf 'env\t11\tbob\tsecurity\t1000\thmac-sha1\tsha1\tbody,ts\t86400\t0\t%s\n' "$SIZE" |
	java -cp "$TMP/gen:$JARS" Gen 2>/dev/null | sed -n 's/^OK //p' | base64 -d >"$TMP/msgs/signed-$SIZE.xml"
echo "# signed-$SIZE.xml (made by WSS4J): $(wc -c <"$TMP/msgs/signed-$SIZE.xml") bytes"
go test -c -o "$TMP/username.test" ./authn/username/

# nsop FILE PATTERN: the ns/op of the first line matching PATTERN.
nsop() { awk -v p="$2" '$0 ~ p { for (i = 1; i <= NF; i++) if ($(i+1) == "ns/op") { print $i; exit } }' "$1"; }

: >"$TMP/rounds"
for r in $(seq "$ROUNDS"); do
	(cd authn/username && AUTHSVC_SIGNED_DIR="$TMP/msgs" GOMAXPROCS=1 taskset -c "$CPU" "$TMP/username.test" -test.run '^$' \
		-test.bench "LoginDerivedKeySize/body=$SIZE\$" -test.benchtime "$BENCHTIME" -test.benchmem) >"$TMP/go" 2>&1
	# shellcheck disable=SC2086 # FAIR_OPTS is a list of words
	taskset -c "$CPU" java $FAIR_OPTS -cp "$TMP/j:$JARS" WSS4JSignedBench -dir "$TMP/msgs" -sizes "$SIZE" \
		-warmup "$WARMUP" -rounds 1 -round 2s >"$TMP/fair" 2>/dev/null
	taskset -c "$CPU" java -cp "$TMP/j:$JARS" WSS4JSignedBench -dir "$TMP/msgs" -sizes "$SIZE" -new-dbf \
		-warmup "$WARMUP" -rounds 1 -round 2s >"$TMP/dflt" 2>/dev/null
	a=$(nsop "$TMP/go" '^BenchmarkLoginDerivedKeySize')
	w=$(nsop "$TMP/fair" '^BenchmarkWSS4JSigned')
	d=$(nsop "$TMP/dflt" '^BenchmarkWSS4JSigned')
	grep '^BenchmarkLoginDerivedKeySize' "$TMP/go" | sed 's/^/authsvc /'
	grep -E '^(BenchmarkWSS4J|# self|#   tampered)' "$TMP/fair" | sed 's/^/wss4j-fair /'
	grep '^BenchmarkWSS4J' "$TMP/dflt" | sed 's/^/wss4j-default /'
	echo "$a $w $d" | awk -v r="$r" '{ printf "# round %d: authsvc %.1f us, WSS4J fair %.1f us (%.2fx), WSS4J default %.1f us (%.2fx)\n", r, $1/1000, $2/1000, $2/$1, $3/1000, $3/$1 }'
	echo "$a $w $d" >>"$TMP/rounds"
done
echo "# loadavg at the end $(cut -d' ' -f1-3 /proc/loadavg)"
med() { awk -v c="$1" '{ print $c }' "$TMP/rounds" | sort -g | awk '{ x[NR] = $1 } END { print x[int((NR+1)/2)] }'; }
a=$(med 1) w=$(med 2) d=$(med 3)
awk '{ print $2/$1 }' "$TMP/rounds" | sort -g | awk -v a="$a" -v w="$w" -v d="$d" '
	{ x[NR] = $1 }
	END {
		med = x[int((NR+1)/2)]
		printf "# WSS4J default configuration (G1, new DocumentBuilderFactory per message): %.1f us median, %.2fx authsvc\n", d/1000, d/a
		met = (a/1000 <= 80) ? "yes" : "no"
		printf "RESULT derived authsvc=%.1f wss4j=%.1f ratio=%.2f [%.2f..%.2f] target=\"<=80us\" met=%s\n", a/1000, w/1000, med, x[1], x[NR], met
	}'
