#!/usr/bin/env bash
# bench/rows/negotiate.sh — issue 14's "HTTP Negotiate, fresh SPNEGO tokens"
# row: authsvc against its peers, side by side, interleaved, on loopback.
#
#   bash bench/rows/negotiate.sh            # defaults below
#   bash bench/rows/negotiate.sh -rounds 5 -tokens 8000 -conns 16
#   env: ROUNDS (5), TOKENS (8000), CONNS (16), PRINCIPALS (4), WARMUP (10000)
#
# What it runs (all on 127.0.0.1, free ports, one temp dir):
#   - a real MIT KDC (test/kdc/provision.sh) and PRINCIPALS extra users;
#   - authsvc, the real binary, API mode, one kerberos chain entry, log
#     level info (the shipped default);
#   - gokrb5's SPNEGO middleware (spnego.SPNEGOKRB5Authenticate) around a
#     trivial handler (bench/negotiate);
#   - Apache httpd with Debian's mod_auth_gssapi, LogLevel warn, mpm_event,
#     in the foreground from a config of its own in the temp dir; started as
#     root (CI, here) its children run as nobody/nogroup (Apache refuses to
#     serve as root), so the temp dir and the keytab copy it reads are made
#     readable by them;
#   - the same trivial handler bare (no authentication);
#   - the floor (informational): the trivial handler behind authsvc's
#     Kerberos module alone (authn/kerberos through its Go API, the default
#     memory replay cache, the AP-REP reply header as authsvc sends it; no
#     chain, server, log or metrics; bench/negotiate/floor.go).
# Fresh SPNEGO tokens (mutual flag set, as browsers do) are minted BEFORE any
# measuring by python3-gssapi (MIT), one minting process per client
# principal (MIT clients in different processes collide on ctime/cusec), one
# token set per round; within a round every server gets the same set (each has
# its own replay cache), in an order that rotates each round. Before the
# first round every server is warmed up, unmeasured, with WARMUP tokens of a
# set of their own (Go's heaps and caches, Apache's workers): without it a
# one-round run (bench/perf.sh) measured cold servers, and gokrb5 gained
# more from warming than authsvc did. The load
# generator (bench/negotiate -mode load) sends each token once over CONNS
# keep-alive connections; a failed request fails the script.
#
# Needs (Debian): golang, krb5-kdc krb5-admin-server krb5-user,
# python3-gssapi, apache2 libapache2-mod-auth-gssapi.
#
# Each round line gives each server's requests per second and, in
# parentheses, the CPU its processes used per request (from /proc, Apache's
# workers included); the medians of the latter are printed before the
# RESULT lines. PERF_OUT=FILE records authsvc with perf during its loads
# (PERF_SERVERS="authsvc floor ..." records those servers instead, into
# FILE.<server>.rN; PERF_FREQ sets the sampling rate, default 999 Hz).
#
# A/B a change: AB_BINARY=PATH (an authsvc binary built elsewhere, e.g. from
# another commit) runs a second authsvc, "authsvc_b", with the same
# configuration (log level AB_LOG_LEVEL, default info) in the same rotation;
# its rate and CPU per request are printed with the others and in an
# informational line:
#   AB authsvc_b/authsvc=<median> [<min>..<max>] cpu_us_authsvc=<µs> cpu_us_authsvc_b=<µs>
# With AB_ONLY=1 only the two authsvc servers are measured (and only that
# line printed), so that longer loads (-tokens) fit in the same time.
#
# The last lines are the row, for bench/perf.sh (ratio = authsvc/peer, the
# median over rounds with [min..max]):
#   RESULT negotiate-gokrb5 authsvc=<rps> gokrb5=<rps> bare=<rps> cpu_us_authsvc=<µs> cpu_us_gokrb5=<µs> ratio=<median> [<min>..<max>] target=">=2" met=<yes|no>
#   RESULT negotiate-apache authsvc=<rps> apache=<rps> cpu_us_authsvc=<µs> cpu_us_apache=<µs> ratio=<median> [<min>..<max>] target=">=5" met=<yes|no>
# (the ratio is of requests per second; cpu_us_* are the servers' CPU per
# request, medians over rounds) and an informational line on the floor
# (ratio = floor/gokrb5; floor/apache; authsvc/floor: what authsvc's chain
# and server cost above its module):
#   RESULT negotiate-floor floor=<rps> bare=<rps> gokrb5=<rps> apache=<rps> cpu_us_floor=<µs> cpu_us_authsvc=<µs> cpu_us_gokrb5=<µs> cpu_us_apache=<µs> ratio=<median> [<min>..<max>] floor/apache=<median> [<min>..<max>] authsvc/floor=<median> [<min>..<max>] target="none" met=n/a
set -euo pipefail

ROUNDS=${ROUNDS:-5}
TOKENS=${TOKENS:-8000}      # per round, sent to each server
CONNS=${CONNS:-16}
PRINCIPALS=${PRINCIPALS:-4} # minting processes
WARMUP=${WARMUP:-10000}     # unmeasured tokens per server before round 1
while [ $# -gt 0 ]; do
	case "$1" in
	-rounds) ROUNDS=$2; shift 2 ;;
	-tokens) TOKENS=$2; shift 2 ;;
	-conns) CONNS=$2; shift 2 ;;
	*) echo "usage: $0 [-rounds R] [-tokens N] [-conns C]" >&2; exit 2 ;;
	esac
done
PY=/usr/bin/python3

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d /tmp/negotiate-bench.XXXXXX)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -s "$TMP/kdc/krb5kdc.pid" ]; then kill "$(cat "$TMP/kdc/krb5kdc.pid")" 2>/dev/null || true; fi
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TMP"
}
trap cleanup EXIT

freeport() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
waitport() {
	for _ in $(seq 200); do
		if "$PY" -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
		sleep 0.05
	done
	echo "nothing listens on port $1" >&2
	return 1
}
for p in krb5kdc kadmin.local kinit apache2 go; do
	command -v "$p" >/dev/null || [ -x "/usr/sbin/$p" ] || { echo "negotiate.sh: $p is not installed" >&2; exit 1; }
done
[ -f /usr/lib/apache2/modules/mod_auth_gssapi.so ] || { echo "negotiate.sh: apt-get install libapache2-mod-auth-gssapi" >&2; exit 1; }

echo "== build"
(cd "$ROOT" && go build -o "$TMP/authsvc" ./cmd/authsvc && go build -o "$TMP/negotiate" ./bench/negotiate)

echo "== KDC"
sh "$ROOT/test/kdc/provision.sh" "$TMP/kdc" "$(freeport)" >/dev/null
unset KRB5CCNAME KRB5_KTNAME
export KRB5_CONFIG="$TMP/kdc/krb5.conf" KRB5_KDC_PROFILE="$TMP/kdc/kdc.conf"
KT="$TMP/kdc/localhost.keytab"
SPN=HTTP/localhost@EXAMPLE.TEST

echo "== minting $((ROUNDS * TOKENS + WARMUP)) tokens in $PRINCIPALS processes"
per=$(((ROUNDS * TOKENS + WARMUP + PRINCIPALS - 1) / PRINCIPALS))
mint=()
for i in $(seq "$PRINCIPALS"); do
	kadmin.local -r EXAMPLE.TEST -q "addprinc -clearpolicy -pw pw-$i bench$i@EXAMPLE.TEST" >/dev/null
	echo "pw-$i" | KRB5CCNAME="FILE:$TMP/cc$i" kinit "bench$i@EXAMPLE.TEST" >/dev/null
	KRB5CCNAME="FILE:$TMP/cc$i" "$PY" "$ROOT/authn/kerberos/testdata/gss_client.py" spnego "$SPN" "$per" >"$TMP/tok$i" &
	mint+=($!)
done
for p in "${mint[@]}"; do wait "$p"; done
# Round r gets lines r*TOKENS+1 .. (r+1)*TOKENS of the principals' tokens
# interleaved (so that each round has every principal).
paste -d '\n' "$TMP"/tok* | grep -v '^$' >"$TMP/all"
[ "$(wc -l <"$TMP/all")" -ge $((ROUNDS * TOKENS + WARMUP)) ] || { echo "not enough tokens minted" >&2; exit 1; }
for r in $(seq 0 $((ROUNDS - 1))); do
	sed -n "$((r * TOKENS + 1)),$(((r + 1) * TOKENS))p" "$TMP/all" >"$TMP/round$r"
done
sed -n "$((ROUNDS * TOKENS + 1)),$((ROUNDS * TOKENS + WARMUP))p" "$TMP/all" >"$TMP/warmup"

echo "== servers"
AP=$(freeport)
cat >"$TMP/authsvc.yaml" <<EOF
listen: 127.0.0.1:$AP
replay:
  type: memory
  max_entries: 8000000 # the default; its per-address quota (a tenth) holds long A/B runs from 127.0.0.1
chain:
  - name: sso
    type: kerberos
    flag: sufficient
    keytab: $KT
    service_principals: [$SPN]
log:
  level: info
  format: text
EOF
"$TMP/authsvc" serve -config "$TMP/authsvc.yaml" >"$TMP/authsvc.log" 2>&1 &
PIDS+=($!)
declare -A PID=([authsvc]=$!)
waitport "$AP"
AB_BINARY=${AB_BINARY:-}
if [ -n "$AB_BINARY" ]; then
	BP=$(freeport)
	sed -e "s/^listen: .*/listen: 127.0.0.1:$BP/" -e "s/^  level: .*/  level: ${AB_LOG_LEVEL:-info}/" \
		"$TMP/authsvc.yaml" >"$TMP/authsvc_b.yaml"
	"$AB_BINARY" serve -config "$TMP/authsvc_b.yaml" >"$TMP/authsvc_b.log" 2>&1 &
	PIDS+=($!)
	PID[authsvc_b]=$!
	waitport "$BP"
fi

"$TMP/negotiate" -mode gokrb5 -keytab "$KT" >"$TMP/gokrb5.addr" 2>"$TMP/gokrb5.log" &
PIDS+=($!)
PID[gokrb5]=$!
"$TMP/negotiate" -mode bare >"$TMP/bare.addr" 2>"$TMP/bare.log" &
PIDS+=($!)
PID[bare]=$!
"$TMP/negotiate" -mode floor -keytab "$KT" -spn "$SPN" >"$TMP/floor.addr" 2>"$TMP/floor.log" &
PIDS+=($!)
PID[floor]=$!

HP=$(freeport)
mkdir -p "$TMP/apache/htdocs" "$TMP/apache/rcache"
echo ok >"$TMP/apache/htdocs/index.txt"
# Apache's children read the keytab and write their replay cache as the
# unprivileged user when started as root.
cp "$KT" "$TMP/apache/http.keytab"
RUNAS=""
if [ "$(id -u)" = 0 ]; then
	RUNAS="User nobody
Group nogroup"
	chmod 755 "$TMP"
	chown -R nobody:nogroup "$TMP/apache"
	chmod 600 "$TMP/apache/http.keytab"
fi
M=/usr/lib/apache2/modules
cat >"$TMP/apache/httpd.conf" <<EOF
ServerRoot $TMP/apache
ServerName localhost
Listen 127.0.0.1:$HP
PidFile $TMP/apache/httpd.pid
DefaultRuntimeDir $TMP/apache
ErrorLog $TMP/apache/error.log
LogLevel warn
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authn_core_module $M/mod_authn_core.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authz_user_module $M/mod_authz_user.so
LoadModule auth_gssapi_module $M/mod_auth_gssapi.so
$RUNAS
KeepAlive On
MaxKeepAliveRequests 0
DocumentRoot $TMP/apache/htdocs
<Location />
	AuthType GSSAPI
	AuthName "bench"
	GssapiCredStore keytab:$TMP/apache/http.keytab
	GssapiAllowedMech krb5
	Require valid-user
</Location>
EOF
KRB5RCACHEDIR="$TMP/apache/rcache" apache2 -f "$TMP/apache/httpd.conf" -D FOREGROUND >"$TMP/apache.out" 2>&1 &
PIDS+=($!)
PID[apache]=$!
waitport "$HP" || { cat "$TMP/apache.out" "$TMP/apache/error.log" >&2; exit 1; }

# The Go servers print their address once listening: wait for it (on a
# loaded machine that can come after Apache is up).
for f in gokrb5 bare floor; do
	for _ in $(seq 200); do [ -s "$TMP/$f.addr" ] && break; sleep 0.05; done
	[ -s "$TMP/$f.addr" ] || { echo "negotiate.sh: the $f server printed no address" >&2; cat "$TMP/$f.log" >&2; exit 1; }
	waitport "$(head -1 "$TMP/$f.addr" | cut -d: -f2)"
done
GO_ADDR=$(head -1 "$TMP/gokrb5.addr")
BARE_ADDR=$(head -1 "$TMP/bare.addr")
FLOOR_ADDR=$(head -1 "$TMP/floor.addr")
declare -A URL=(
	[authsvc]="http://127.0.0.1:$AP/v1/authenticate"
	[gokrb5]="http://$GO_ADDR/"
	[apache]="http://127.0.0.1:$HP/index.txt"
	[bare]="http://$BARE_ADDR/"
	[floor]="http://$FLOOR_ADDR/"
)
NAMES=(authsvc gokrb5 apache bare floor)
if [ -n "$AB_BINARY" ]; then
	URL[authsvc_b]="http://127.0.0.1:$BP/v1/authenticate"
	NAMES+=(authsvc_b)
	if [ "${AB_ONLY:-}" = 1 ]; then NAMES=(authsvc authsvc_b); fi
fi
NS=${#NAMES[@]}
# Where the rotation starts: random, so that bench/perf.sh's one-round
# invocations do not always measure the same server first.
OFFSET=${OFFSET:-$((RANDOM % NS))}
echo "# negotiate: the first round starts with ${NAMES[$OFFSET]}"

# cputicks NAME: the CPU time (user + system, clock ticks) used so far by
# server NAME's process and its children that are alive (Apache's workers).
cputicks() {
	local p=${PID[$1]} kids
	kids=$(ps -o pid= --ppid "$p" 2>/dev/null | tr '\n' ' ')
	# shellcheck disable=SC2086 # a list of pids
	for q in $p $kids; do cut -d')' -f2- "/proc/$q/stat" 2>/dev/null; done |
		awk '{ t += $12 + $13 } END { print t + 0 }'
}
TICK=$(getconf CLK_TCK)
# PERF_OUT=FILE: record authsvc's process with perf (-g, 999 Hz) during its
# loads, into FILE.rN per round (perf report -i FILE.rN).
PERF_OUT=${PERF_OUT:-}
PERF_SERVERS=${PERF_SERVERS:-}
PERF_FREQ=${PERF_FREQ:-999}

if [ "$WARMUP" -gt 0 ]; then
	echo "== warm-up: $WARMUP tokens per server, unmeasured"
	for n in "${NAMES[@]}"; do
		out=$("$TMP/negotiate" -mode load -url "${URL[$n]}" -tokens "$TMP/warmup" -conns "$CONNS")
		case $out in
		*" failed=0") ;;
		*) echo "$n (warm-up): $out" >&2; exit 1 ;;
		esac
	done
fi
echo "== $ROUNDS rounds of $TOKENS fresh tokens per server, $CONNS connections ($(nproc) CPUs; $(uptime))"
for r in $(seq 0 $((ROUNDS - 1))); do
	line="round $((r + 1)):"
	for k in $(seq 0 $((NS - 1))); do
		n=${NAMES[$(((k + r + OFFSET) % NS))]}
		perfpid=""
		if [ -n "$PERF_OUT" ] && [ -z "$PERF_SERVERS" ] && [ "$n" = authsvc ]; then
			perf record -q -F "$PERF_FREQ" -g -p "${PID[authsvc]}" -o "$PERF_OUT.r$r" 2>/dev/null &
			perfpid=$!
			sleep 0.5
		elif [ -n "$PERF_OUT" ] && [[ " $PERF_SERVERS " == *" $n "* ]]; then
			perf record -q -F "$PERF_FREQ" -g -p "${PID[$n]}" -o "$PERF_OUT.$n.r$r" 2>/dev/null &
			perfpid=$!
			sleep 0.5
		fi
		before=$(cputicks "$n")
		out=$("$TMP/negotiate" -mode load -url "${URL[$n]}" -tokens "$TMP/round$r" -conns "$CONNS")
		after=$(cputicks "$n")
		if [ -n "$perfpid" ]; then kill -INT "$perfpid"; wait "$perfpid" || true; fi
		echo "$r $n $(((after - before) * 1000000 / TICK / TOKENS))" >>"$TMP/cpu"
		case $out in
		*" failed=0") ;;
		*) echo "$n: $out" >&2; echo "logs in $TMP" >&2; tail -n 5 "$TMP/authsvc.log" "$TMP/apache/error.log" "$TMP/gokrb5.log" "$TMP/floor.log" >&2; exit 1 ;;
		esac
		rps=${out#rps=}
		rps=${rps%% *}
		echo "$r $n $rps" >>"$TMP/results"
		line="$line $n=$rps($(tail -1 "$TMP/cpu" | cut -d' ' -f3)µs)"
	done
	echo "$line"
done
echo "(load after: $(uptime))"

"$PY" - "$TMP/results" "$TMP/cpu" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
cpu = {}
for r, n, us in (l.split() for l in open(sys.argv[2])):
    cpu.setdefault(n, []).append(int(us))
by = {}
for r, n, rps in rows:
    by.setdefault(n, {})[int(r)] = float(rps)
def ratios(peer):
    return sorted(by["authsvc"][r] / by[peer][r] for r in by["authsvc"])
med = {n: statistics.median(v.values()) for n, v in by.items()}
cu = {n: statistics.median(v) for n, v in cpu.items()}
def pair(x, y):
    return sorted(by[x][r] / by[y][r] for r in by[x] if r in by[y])
if "authsvc_b" in by:
    ab = pair("authsvc_b", "authsvc")
    print("AB authsvc_b/authsvc=%.2f [%.2f..%.2f] cpu_us_authsvc=%d cpu_us_authsvc_b=%d" % (
        statistics.median(ab), ab[0], ab[-1], cu["authsvc"], cu["authsvc_b"]))
    if "gokrb5" not in by:
        sys.exit(0)
g, a = ratios("gokrb5"), ratios("apache")
print("# negotiate: authsvc/bare %.2f (medians)" % (med["authsvc"] / med["bare"]))
# CPU per request of each server's processes (Apache: its workers too), from
# /proc over each load: what each server costs apart from the load
# generator, which shares the machine's cores with it.
print("# negotiate: server CPU per request, median over rounds (µs): " + ", ".join(
    "%s %d" % (n, statistics.median(cpu[n])) for n in ("authsvc", "gokrb5", "apache", "bare", "floor", "authsvc_b") if n in cpu))
if "gokrb5" in cpu and "apache" in cpu:
    print("# negotiate: CPU per request, peer/authsvc: gokrb5 %.2f, apache %.2f" % (
        statistics.median(cpu["gokrb5"]) / statistics.median(cpu["authsvc"]),
        statistics.median(cpu["apache"]) / statistics.median(cpu["authsvc"])))
yn = lambda b: "yes" if b else "no"
print('RESULT negotiate-gokrb5 authsvc=%.0f gokrb5=%.0f bare=%.0f cpu_us_authsvc=%d cpu_us_gokrb5=%d ratio=%.2f [%.2f..%.2f] target=">=2" met=%s' % (
    med["authsvc"], med["gokrb5"], med["bare"], cu["authsvc"], cu["gokrb5"], statistics.median(g), g[0], g[-1], yn(statistics.median(g) >= 2)))
print('RESULT negotiate-apache authsvc=%.0f apache=%.0f cpu_us_authsvc=%d cpu_us_apache=%d ratio=%.2f [%.2f..%.2f] target=">=5" met=%s' % (
    med["authsvc"], med["apache"], cu["authsvc"], cu["apache"], statistics.median(a), a[0], a[-1], yn(statistics.median(a) >= 5)))
# Informational, no target: the floor (authsvc's Kerberos module alone).
fg, fa, af = pair("floor", "gokrb5"), pair("floor", "apache"), pair("authsvc", "floor")
print("# negotiate: floor/bare %.2f (medians)" % (med["floor"] / med["bare"]))
# ratio = floor/gokrb5; target "none": informational (perf.sh: met=n/a).
print('RESULT negotiate-floor floor=%.0f bare=%.0f gokrb5=%.0f apache=%.0f cpu_us_floor=%d cpu_us_authsvc=%d cpu_us_gokrb5=%d cpu_us_apache=%d ratio=%.2f [%.2f..%.2f] floor/apache=%.2f [%.2f..%.2f] authsvc/floor=%.2f [%.2f..%.2f] target="none" met=n/a' % (
    med["floor"], med["bare"], med["gokrb5"], med["apache"], cu["floor"], cu["authsvc"], cu["gokrb5"], cu["apache"],
    statistics.median(fg), fg[0], fg[-1], statistics.median(fa), fa[0], fa[-1], statistics.median(af), af[0], af[-1]))
EOF
