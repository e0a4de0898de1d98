#!/usr/bin/env bash
# Runs every fuzz target of the repository for a fixed number of executions,
# one after the other, and prints a Markdown table of the figures (the one in
# test/FUZZING.md). Targets are discovered the way test/run.sh finds them.
#
#   test/fuzz-campaign.sh [-n EXECS] [-nice N] [-parallel P] [-minimize T]
#                         [-logdir DIR] [-only REGEX] [-report]
#
#   -n EXECS      executions per target (default 10000000)
#   -nice N       run go test under nice -n N (default 19; 0 for none)
#   -parallel P   fuzzing workers (default 1)
#   -minimize T   -fuzzminimizetime (default 2s; the Go default of 60s makes a
#                 target that finds many new inputs look stalled, see FUZZING.md)
#   -logdir DIR   one log per target, DIR/<pkg>.<Target>.log (default /tmp/fuzzlogs)
#   -only REGEX   only the targets whose "pkg Target" matches REGEX
#   -report       run nothing: print the table from the logs already in DIR
#                 (of a run still going, too); the wall column is then "-"
#
# FUZZ_COMMIT names the commit in the header when the tree is not a git checkout
# (e.g. a `git archive` copy kept stable while the worktree changes).
#
# Each row: the target, the executions the fuzzer reported, wall time (build
# included), the fuzzing time the fuzzer reported and the average rate over
# it, the longest stretch the fuzzer ran below 100 execs/s (a stall: with
# the default -fuzzminimizetime 60s FuzzVerify showed minutes of it), the
# new interesting inputs and the final corpus size. A crasher fails the row and
# the run (exit 1) after the remaining targets; go test keeps the input in the
# package's testdata/fuzz.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

EXECS=10000000 NICE=19 PARALLEL=1 MINIMIZE=2s LOGDIR=/tmp/fuzzlogs ONLY=. REPORT=
while [ $# -gt 0 ]; do
  case "$1" in
    -n) EXECS=$2; shift 2 ;;
    -nice) NICE=$2; shift 2 ;;
    -parallel) PARALLEL=$2; shift 2 ;;
    -minimize) MINIMIZE=$2; shift 2 ;;
    -logdir) LOGDIR=$2; shift 2 ;;
    -only) ONLY=$2; shift 2 ;;
    -report) REPORT=1; shift ;;
    *) echo "usage: $0 [-n EXECS] [-nice N] [-parallel P] [-minimize T] [-logdir DIR] [-only REGEX] [-report]" >&2; exit 2 ;;
  esac
done
mkdir -p "$LOGDIR"

# summarize LOG prints "execs new-interesting corpus longest-stall-seconds
# fuzzing-seconds" from the fuzzer's status lines, e.g.
# "fuzz: elapsed: 1m3s, execs: 1234 (411/sec), new interesting: 2 (total: 40)".
summarize() {
  awk '
    /fuzz: elapsed: .*execs: / {
      e=$0; sub(/.*elapsed: /,"",e); sub(/s,.*/,"",e)
      secs=0; n=split(e, p, /[hm]/)
      if (n==3) secs=p[1]*3600+p[2]*60+p[3]; else if (n==2) secs=p[1]*60+p[2]; else secs=p[1]
      x=$0; sub(/.*execs: /,"",x); sub(/ .*/,"",x)
      if (last_t != "" && secs > last_t) {
        if ((x-last_x)/(secs-last_t) < 100) { run += secs-last_t; if (run > stall) stall=run } else run=0
      }
      last_t=secs; last_x=x
      if ($0 ~ /new interesting: /) { ni=$0; sub(/.*new interesting: /,"",ni); tot=ni; sub(/ .*/,"",ni); sub(/.*total: /,"",tot); sub(/\).*/,"",tot) }
    }
    END { print (last_x==""?0:last_x), (ni==""?"-":ni), (tot==""?"-":tot), stall+0, last_t+0 }' "$1"
}

commit=${FUZZ_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then commit="$commit+dirty"; fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
[ -n "$REPORT" ] && echo "report of the logs in $LOGDIR (commit below is the tree's now, not necessarily the run's)"
echo "commit $commit; $(go version | cut -d' ' -f3-); $(nproc) CPUs ($cpu); load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: nice -n $NICE go test -run '^\$' -fuzz '^Target\$' -fuzztime ${EXECS}x -fuzzminimizetime $MINIMIZE -parallel $PARALLEL -timeout 0 PKG"
echo
echo "| package | target | execs | wall (build+fuzz) | fuzzing | execs/s | longest < 100/s | new interesting | corpus | result | started (UTC) |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|"

status=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/func //' | sort -u); do
    short=${pkg#github.com/authsvc/authsvc/}
    [ "$short" = "$pkg" ] && short=$pkg
    echo "$short $f" | grep -Eq -- "$ONLY" || continue
    log="$LOGDIR/$(echo "$short" | tr / _).$f.log"
    if [ -n "$REPORT" ]; then
      [ -f "$log" ] || continue
      wall=-1 started=-
      if grep -q '^ok ' "$log"; then rc=0; elif grep -q -e '^FAIL' -e '^--- FAIL' "$log"; then rc=1; else rc=running; fi
    else
      started=$(date -u +%H:%M)
      t0=$(date +%s)
      if [ "$NICE" != 0 ]; then pre=(nice -n "$NICE"); else pre=(); fi
      "${pre[@]}" go test -run '^$' -fuzz "^${f}\$" -fuzztime "${EXECS}x" -fuzzminimizetime "$MINIMIZE" \
        -parallel "$PARALLEL" -timeout 0 "$pkg" >"$log" 2>&1
      rc=$?
      wall=$(( $(date +%s) - t0 ))
    fi
    read -r execs newi total stall fsecs <<<"$(summarize "$log")"
    # The rate is over the fuzzing time the fuzzer reports, not the build.
    rate=$(( fsecs > 0 ? execs / fsecs : 0 ))
    case $rc in
      0) res=ok ;;
      running) res="still running" ;;
      *) res="FAIL (rc $rc, see $log)"; status=1 ;;
    esac
    if [ "$wall" -ge 0 ]; then wallf=$(printf '%dm%02ds' $((wall/60)) $((wall%60))); else wallf=-; fi
    printf '| %s | %s | %s | %s | %dm%02ds | %s | %ss | %s | %s | %s | %s |\n' \
      "$short" "$f" "$execs" "$wallf" $((fsecs/60)) $((fsecs%60)) "$rate" "$stall" "$newi" "$total" "$res" "$started"
  done
done
echo
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
exit $status
