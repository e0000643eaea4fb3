#!/usr/bin/env bash
# Runs both benchmark suites (tests/bench/all.sh) several times in a row and
# summarises how the etcd-rs / etcd ratios moved from run to run: one table per
# suite with every run's throughput ratio per load and the median, so a target
# is judged on the median of the runs rather than on one noisy run.
#
# Usage: tests/bench/repeat.sh [--runs N] [--dir DIR] [--out FILE] [all.sh options]
#
#   --runs N    how many runs (default 3)
#   --dir DIR   where each run's full report goes, as run-K.md (default: a new
#               temporary directory, printed)
#   --out FILE  the summary, in Markdown (default: stdout)
#   Other options (--quick, --etcd-rs, --bench, --keep) go to every all.sh run.
#
# Exit status: 0 ok, 1 some load failed in some run, 2 harness error.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../compat/lib/servers.sh
source "$HERE/../compat/lib/servers.sh"

RUNS=3 DIR='' OUT='' PASS=()
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
while (($#)); do
  case $1 in
    --runs) [[ $# -ge 2 ]] || die "--runs needs an argument"; RUNS=$2; shift 2 ;;
    --dir) [[ $# -ge 2 ]] || die "--dir needs an argument"; DIR=$2; shift 2 ;;
    --out) [[ $# -ge 2 ]] || die "--out needs an argument"; OUT=$2; shift 2 ;;
    --quick|--keep) PASS+=("$1"); shift ;;
    --etcd-rs|--bench) [[ $# -ge 2 ]] || die "$1 needs an argument"; PASS+=("$1" "$2"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive number"
[[ -n $DIR ]] || DIR=$(mktemp -d /tmp/etcd-rs-bench-repeat.XXXXXX)
mkdir -p "$DIR"
log "full reports go to $DIR"

rc=0
for ((k = 1; k <= RUNS; k++)); do
  log "=== run $k of $RUNS"
  run_rc=0
  "$HERE/all.sh" --out "$DIR/run-$k.md" "${PASS[@]}" || run_rc=$?
  ((run_rc != 2)) || die "run $k failed with a harness error"
  ((run_rc == 0)) || rc=1
done

reports=()
for ((k = 1; k <= RUNS; k++)); do reports+=("$DIR/run-$k.md"); done
if [[ -n $OUT ]]; then
  python3 "$HERE/median.py" "${reports[@]}" >"$OUT"
  log "summary written to $OUT"
else
  python3 "$HERE/median.py" "${reports[@]}"
fi
exit "$rc"
