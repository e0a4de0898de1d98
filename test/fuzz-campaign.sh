#!/usr/bin/env bash
# Runs every fuzz target of the repository for a fixed number of executions,
# one after the other, and prints a Markdown table of the figures (the one in
# test/FUZZING.md). Targets are discovered the way test/run.sh finds them.
#
#   test/fuzz-campaign.sh [-n EXECS] [-nice N] [-parallel P] [-minimize T]
#                         [-logdir DIR] [-only REGEX]
#
#   -n EXECS      executions per target (default 10000000)
#   -nice N       run go test under nice -n N (default 19; 0 for none)
#   -parallel P   fuzzing workers (default 1)
#   -minimize T   -fuzzminimizetime (default 2s; the Go default of 60s makes a
#                 target that finds many new inputs look stalled, see FUZZING.md)
#   -logdir DIR   one log per target, DIR/<pkg>.<Target>.log (default /tmp/fuzzlogs)
#   -only REGEX   only the targets whose "pkg Target" matches REGEX
#
# FUZZ_COMMIT names the commit in the header when the tree is not a git checkout
# (e.g. a `git archive` copy kept stable while the worktree changes).
#
# Each row: the target, the executions the fuzzer reported, wall time (build
# included), the fuzzing time the fuzzer reported and the average rate over it, the slowest 3-second interval (a stall shows as ~0), the new
# interesting inputs and the final corpus size. A crasher fails the row and
# the run (exit 1) after the remaining targets; go test keeps the input in the
# package's testdata/fuzz.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

EXECS=10000000 NICE=19 PARALLEL=1 MINIMIZE=2s LOGDIR=/tmp/fuzzlogs ONLY=.
while [ $# -gt 0 ]; do
  case "$1" in
    -n) EXECS=$2; shift 2 ;;
    -nice) NICE=$2; shift 2 ;;
    -parallel) PARALLEL=$2; shift 2 ;;
    -minimize) MINIMIZE=$2; shift 2 ;;
    -logdir) LOGDIR=$2; shift 2 ;;
    -only) ONLY=$2; shift 2 ;;
    *) echo "usage: $0 [-n EXECS] [-nice N] [-parallel P] [-minimize T] [-logdir DIR] [-only REGEX]" >&2; exit 2 ;;
  esac
done
mkdir -p "$LOGDIR"

commit=${FUZZ_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+dirty"; fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
echo "commit $commit; $(go version | cut -d' ' -f3-); $(nproc) CPUs ($cpu); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: nice -n $NICE go test -run '^\$' -fuzz '^Target\$' -fuzztime ${EXECS}x -fuzzminimizetime $MINIMIZE -parallel $PARALLEL -timeout 0 PKG"
echo
echo "| package | target | execs | wall (build+fuzz) | fuzzing | execs/s | slowest 3 s | new interesting | corpus | result | started (UTC) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"

status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
    short=${pkg#github.com/authsvc/authsvc/}
    [ "$short" = "$pkg" ] && short=$pkg
    echo "$short $f" | grep -Eq -- "$ONLY" || continue
    log="$LOGDIR/$(echo "$short" | tr / _).$f.log"
    started=$(date -u +%H:%M)
    t0=$(date +%s)
    if [ "$NICE" != 0 ]; then pre=(nice -n "$NICE"); else pre=(); fi
    "${pre[@]}" go test -run '^$' -fuzz "^${f}\$" -fuzztime "${EXECS}x" -fuzzminimizetime "$MINIMIZE" \
      -parallel "$PARALLEL" -timeout 0 "$pkg" >"$log" 2>&1
    rc=$?
    wall=$(( $(date +%s) - t0 ))
    # Status lines: "fuzz: elapsed: 3s, execs: 1234 (411/sec), new interesting: 2 (total: 40)"
    read -r execs newi total slow fsecs <<<"$(awk '
      /fuzz: elapsed: .*execs: / {
        e=$0; sub(/.*elapsed: /,"",e); sub(/s,.*/,"",e)
        # elapsed may be "1m2s" or "1h2m3s"
        secs=0; n=split(e, p, /[hm]/)
        if (n==3) secs=p[1]*3600+p[2]*60+p[3]; else if (n==2) secs=p[1]*60+p[2]; else secs=p[1]
        x=$0; sub(/.*execs: /,"",x); sub(/ .*/,"",x)
        if (last_t != "" && secs > last_t && x >= last_x) { r=(x-last_x)/(secs-last_t); if (min=="" || r<min) min=r }
        last_t=secs; last_x=x
        ni=$0; if (ni ~ /new interesting: /) { sub(/.*new interesting: /,"",ni); tot=ni; sub(/ .*/,"",ni); sub(/.*total: /,"",tot); sub(/\).*/,"",tot) } else { ni="-"; tot="-" }
      }
      END { if (last_x=="") last_x=0; if (min=="") min="-"; else min=sprintf("%d", min); print last_x, (ni==""?"-":ni), (tot==""?"-":tot), min, (last_t==""?0:last_t) }' "$log")"
    # The rate is over the fuzzing time the fuzzer reports, not the build.
    rate=$(( fsecs > 0 ? execs / fsecs : 0 ))
    if [ $rc = 0 ]; then res=ok; else res="FAIL (rc $rc, see $log)"; status=1; fi
    printf '| %s | %s | %s | %dm%02ds | %dm%02ds | %s | %s | %s | %s | %s | %s |\n' \
      "$short" "$f" "$execs" $((wall/60)) $((wall%60)) $((fsecs/60)) $((fsecs%60)) "$rate" "$slow" "$newi" "$total" "$res" "$started"
  done
done
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
