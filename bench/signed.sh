#!/usr/bin/env bash
# bench/signed.sh: the cost of verifying derived-key signed messages whose
# signature covers Bodies of 200 B, 4 KiB, 100 KiB and 1 MiB, authsvc next to Apache
# WSS4J 1.6.19 on the same bytes, interleaved in one run.
#
#   bench/signed.sh [ROUNDS]     (default 3 rounds; about 40 s a round)
#
# The messages are made once by WSS4J itself (test/wss4j/Gen.java): user bob,
# 1000 iterations, HMAC-SHA1 over Body and Timestamp. Each round runs
# BenchmarkLoginDerivedKeySize (authn/username: parse, key derivation, DOM,
# C14N, digests, HMAC) and then bench/wss4j/WSS4JSignedBench.java (DOM parse +
# processSecurityHeader, which derives the key and verifies the signature).
# Both sides get one core, pinned to the same CPU with taskset: Go with
# GOMAXPROCS=1, the JVM with SerialGC and ActiveProcessorCount=1, warmed up
# for WARMUP (default 10s) before its round, one reused DocumentBuilder.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
WARMUP=${WARMUP:-10s}
CPU=${CPU:-1}
JARS=/usr/share/java/wss4j.jar:/usr/share/java/xmlsec.jar:/usr/share/java/commons-logging.jar:/usr/share/java/slf4j-api.jar
JAVA_OPTS=${JAVA_OPTS:--Xms1g -Xmx1g -XX:+UseSerialGC -XX:ActiveProcessorCount=1}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/authsvc-signed.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
SIZES=(200 4096 102400 1048576)

echo "# bench/signed.sh: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs ($(grep -m1 '^model name' /proc/cpuinfo | sed 's/.*: //')), loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(go version); $(java -version 2>&1 | head -1); commit $(git rev-parse --short HEAD)"
echo "# pinned to CPU $CPU; JAVA_OPTS=$JAVA_OPTS; WSS4J warm-up $WARMUP per size per round"
javac -nowarn -d "$TMP/gen" -cp "$JARS" test/wss4j/Gen.java
javac -nowarn -d "$TMP/bench" -cp "$JARS" bench/wss4j/WSS4JSignedBench.java
mkdir -p "$TMP/msgs"
for s in "${SIZES[@]}"; do
	printf 'env\t11\tbob\tsecurity\t1000\thmac-sha1\tsha1\tbody,ts\t86400\t0\t%s\n' "$s" |
		java -cp "$TMP/gen:$JARS" Gen 2>/dev/null | sed -n 's/^OK //p' | base64 -d >"$TMP/msgs/signed-$s.xml"
	echo "# signed-$s.xml: $(wc -c <"$TMP/msgs/signed-$s.xml") bytes"
done
go test -c -o "$TMP/username.test" ./authn/username/
sizes_csv=$(IFS=,; echo "${SIZES[*]}")
for r in $(seq "$ROUNDS"); do
	echo "## round $r: authsvc"
	(cd authn/username && AUTHSVC_SIGNED_DIR="$TMP/msgs" GOMAXPROCS=1 taskset -c "$CPU" \
		"$TMP/username.test" -test.run '^$' -test.bench 'LoginDerivedKeySize' -test.benchmem -test.benchtime 2s) |
		grep '^Benchmark'
	echo "## round $r: WSS4J"
	# shellcheck disable=SC2086 # JAVA_OPTS is a list of words
	taskset -c "$CPU" java $JAVA_OPTS -cp "$TMP/bench:$JARS" WSS4JSignedBench -dir "$TMP/msgs" -sizes "$sizes_csv" \
		-warmup "$WARMUP" -rounds 1 -round 2s 2>/dev/null | grep -E '^(Benchmark|# self|#   tampered)'
done
