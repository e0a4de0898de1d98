#!/usr/bin/env bash
# bench/perf.sh: runs every bench/rows/*.sh (issue 14's rows: http.sh,
# negotiate.sh, digest.sh, derived.sh), collects their RESULT
# lines and writes bench/results-perf.txt with the machine, date, commit and
# command.
#
# Rows are interleaved across rounds: with -rounds R (default 3) each row
# script runs R times with -rounds 1, in turn (http, negotiate, ..., http, ...),
# so a slow period of the machine falls on every row alike; the RESULT of a
# row is then the median of its per-round ratios with [min..max] over rounds.
# With -whole, each row script runs once with -rounds R (its own interleaving).
#
# Usage: bench/perf.sh [-rounds R] [-whole] [-only name,name] [-out FILE]
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=3 WHOLE=0 ONLY="" OUT=bench/results-perf.txt
cmd="bench/perf.sh $*"
while [ $# -gt 0 ]; do
	case "$1" in
	-rounds) ROUNDS=$2; shift 2 ;;
	-whole) WHOLE=1; shift ;;
	-only) ONLY=$2; shift 2 ;;
	-out) OUT=$2; shift 2 ;;
	*) echo "usage: $0 [-rounds R] [-whole] [-only name,name] [-out FILE]" >&2; exit 2 ;;
	esac
done
# roundsarg SCRIPT R: the rounds argument SCRIPT takes: "-rounds R" when it
# parses that flag, else R as its first argument (digest.sh, derived.sh).
roundsarg() {
	if grep -q -- '-rounds)' "$1"; then echo "-rounds $2"; else echo "$2"; fi
}
rows=()
for f in bench/rows/*.sh; do
	[ -e "$f" ] || continue
	name=$(basename "$f" .sh)
	if [ -n "$ONLY" ] && [[ ",$ONLY," != *",$name,"* ]]; then continue; fi
	rows+=("$f")
done
[ ${#rows[@]} -gt 0 ] || { echo "perf.sh: no rows in bench/rows/" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
{
	echo "# bench/perf.sh (issue 14)"
	echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
	echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -sr)"
	echo "go:      $(go version)"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (at start)"
	echo "command: $cmd"
	echo "rows:    ${rows[*]}"
} >"$tmp/head"
cat "$tmp/head"
if [ "$WHOLE" = 1 ]; then
	for f in "${rows[@]}"; do
		echo "== $f $(roundsarg "$f" "$ROUNDS")"
		# shellcheck disable=SC2046 # the rounds argument is one or two words
		bash "$f" $(roundsarg "$f" "$ROUNDS") 2>&1 | tee -a "$tmp/log" | grep -E '^(RESULT|#)' || true
	done
	grep '^RESULT' "$tmp/log" >"$tmp/results" || true
else
	for r in $(seq 1 "$ROUNDS"); do
		for f in "${rows[@]}"; do
			echo "== round $r: $f $(roundsarg "$f" 1)"
			# shellcheck disable=SC2046 # the rounds argument is one or two words
			bash "$f" $(roundsarg "$f" 1) 2>&1 | tee -a "$tmp/log" | grep -E '^(RESULT|#)' || true
		done
	done
	# Merge the per-round RESULT lines of a row: median ratio, [min..max]
	# over rounds; the rps fields are medians too.
	awk '
	/^RESULT / {
		name = $2; if (!(name in seen)) { seen[name] = 1; order[++m] = name }
		k = ++cnt[name]
		# The target is quoted and may hold spaces ("<=3us, >=5x wss4j").
		line0 = $0
		if (match(line0, / target="[^"]*"/)) { target[name] = substr(line0, RSTART + 9, RLENGTH - 10); line0 = substr(line0, 1, RSTART - 1) substr(line0, RSTART + RLENGTH) }
		nf0 = split(line0, F, " ")
		for (i = 3; i <= nf0; i++) {
			if (F[i] ~ /^\[/) continue
			split(F[i], kv, "=")
			if (kv[1] == "ratio") { ratio[name, k] = kv[2] + 0 }
			else if (kv[1] == "met") { metv[name, k] = kv[2] }
			else if (kv[2] ~ /^[0-9.]+$/) { v[name, kv[1], k] = kv[2] + 0; if (!((name, kv[1]) in fs)) { fs[name, kv[1]] = 1; fields[name] = fields[name] " " kv[1] } }
		}
	}
	function median(a, n,   i, j, t) {
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	END {
		for (x = 1; x <= m; x++) {
			name = order[x]; n = cnt[name]; line = "RESULT " name
			nf = split(substr(fields[name], 2), fl, " ")
			for (y = 1; y <= nf; y++) { delete a; for (i = 1; i <= n; i++) a[i] = v[name, fl[y], i]; mv = median(a, n); line = line sprintf((mv < 100) ? " %s=%.2f" : " %s=%.0f", fl[y], mv) }
			delete a; for (i = 1; i <= n; i++) a[i] = ratio[name, i]
			med = median(a, n)
			# A target ">=X" or "<=X" is on the ratio: judged on the median.
			# Any other (a time in µs, two conditions) is judged by the row: met
			# when the RESULT of every round said so.
			t = target[name]
			if (t == "none") {
				met = "n/a" # informational (a floor)
			} else if (t ~ /^(>=|<=)[0-9.]+$/) {
				op = substr(t, 1, 2); lim = substr(t, 3) + 0
				met = ((op == "<=") ? (med <= lim) : (med >= lim)) ? "yes" : "no"
			} else {
				y = 0; for (i = 1; i <= n; i++) if (metv[name, i] == "yes") y++
				met = (y == n) ? "yes" : (y == 0) ? "no" : "in-" y "-of-" n "-rounds"
			}
			line = line sprintf(" ratio=%.2f [%.2f..%.2f] target=\"%s\" met=%s rounds=%d", med, a[1], a[n], t, met, n)
			print line
		}
	}' "$tmp/log" >"$tmp/results"
fi
{
	cat "$tmp/head"
	echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (at end)"
	echo
	echo "## results"
	cat "$tmp/results"
	echo
	echo "## full output"
	cat "$tmp/log"
} >"$OUT"
echo
echo "## results (written to $OUT)"
cat "$tmp/results"
