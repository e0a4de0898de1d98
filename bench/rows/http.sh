#!/usr/bin/env bash
# bench/rows/http.sh: authsvc's HTTP paths against fair baselines (issue 14).
#
#   api:   authsvc /v1/authenticate (PasswordDigest, fresh nonce per request,
#          default log level info, JSON log to a file) vs a bare net/http
#          handler that reads the whole body and answers a small SOAP response.
#   proxy: authsvc proxy mode vs a bare httputil.ReverseProxy, both in front of
#          that same bare handler, both with MaxIdleConnsPerHost 256 (the
#          default 2 would churn upstream connections for the bare one).
#
#   floors (informational): authsvc's mandatory work alone, without its
#          service layer (cmd/authsvc-bench/floor.go): the configured chain on
#          wsse.Parse answering the Subject's JSON, and the same in front of
#          the bare ReverseProxy. floor/bare says how close to the bare
#          handler any implementation of the same authentication gets here;
#          authsvc/floor what authsvc's service layer (routing, limits,
#          metrics, the info log line, faults) costs.
#
# Load generator: cmd/authsvc-bench (keep-alive clients, 16 connections). Each
# round measures bare, api, floor, bare proxy, proxy, floor proxy in turn
# (interleaved); the ratio of a round is authsvc/bare of that round; the
# RESULT line gives the median ratio over the rounds and its [min..max], and
# the median CPU time per request of the whole process (load generator and
# servers) for each target, cpu_us_*.
#
# Usage: bench/rows/http.sh [-rounds R] [-duration D] [-conns C]
#   env: ROUNDS (5), DURATION (5s), CONNS (16)
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-5s} CONNS=${CONNS:-16}
while [ $# -gt 0 ]; do
	case "$1" in
	-rounds) ROUNDS=$2; shift 2 ;;
	-duration) DURATION=$2; shift 2 ;;
	-conns) CONNS=$2; shift 2 ;;
	*) echo "usage: $0 [-rounds R] [-duration D] [-conns C]" >&2; exit 2 ;;
	esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/authsvc-bench" ./cmd/authsvc-bench
echo "# http: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $CONNS conns, $ROUNDS rounds of $DURATION per target"
# The authsvc log (info: one line per request) goes to a file, as a service's
# stderr would go to journald or a file, not to a terminal.
timeout $((ROUNDS * 4 * 20 + 120)) "$tmp/authsvc-bench" -rounds "$ROUNDS" -duration "$DURATION" \
	-conns "$CONNS" -log-level info 2>"$tmp/authsvc.log" | tee "$tmp/out"
echo "# authsvc log: $(wc -l <"$tmp/authsvc.log") lines"
awk '
/^RATE / {
	for (i = 2; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	r = f["round"]; rate[f["target"], r] = f["rps"]; cpu[f["target"], r] = f["cpu_us"]; if (r > n) n = r
	if (f["errors"] > 0) errs[f["target"]] += f["errors"]
}
function median(a, k,   i, j, t) {
	for (i = 1; i <= k; i++) for (j = i + 1; j <= k; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	return (k % 2) ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
}
# row prints the RESULT line of target a against target b, labelled la and
# lb; target ">=0.9" is judged on the median ratio, "none" is informational.
function row(name, a, b, la, lb, target,   i, k, ra, sa, sb, ca, cb, mn, mx, med, met) {
	k = 0
	for (i = 1; i <= n; i++) {
		if (rate[b, i] == "" || rate[a, i] == "") continue
		k++; ra[k] = rate[a, i] / rate[b, i]; sa[k] = rate[a, i]; sb[k] = rate[b, i]; ca[k] = cpu[a, i]; cb[k] = cpu[b, i]
	}
	if (k == 0) { printf "RESULT %s missing\n", name; return }
	med = median(ra, k); mn = ra[1]; mx = ra[k]
	met = (target == "none") ? "n/a" : (med >= 0.9 ? "yes" : "no")
	printf "RESULT %s %s=%.0f %s=%.0f cpu_us_%s=%.1f cpu_us_%s=%.1f ratio=%.2f [%.2f..%.2f] target=\"%s\" met=%s%s\n", name,
		la, median(sa, k), lb, median(sb, k), la, median(ca, k), lb, median(cb, k), med, mn, mx, target, met,
		(errs[a] + errs[b] > 0 ? " errors=" errs[a] + errs[b] : "")
}
END {
	row("api", "api", "bare", "authsvc", "bare", ">=0.9"); row("proxy", "proxy", "bareproxy", "authsvc", "bare", ">=0.9")
	# Informational: the floors, and what authsvc costs above its floor.
	row("api-floor", "floor", "bare", "floor", "bare", "none"); row("api-vs-floor", "api", "floor", "authsvc", "floor", "none")
	row("proxy-floor", "floorproxy", "bareproxy", "floor", "bare", "none"); row("proxy-vs-floor", "proxy", "floorproxy", "authsvc", "floor", "none")
}
' "$tmp/out"
