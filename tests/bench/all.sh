#!/usr/bin/env bash
# Both standard benchmark suites into one report: the `single` suite on single
# members, then the `cluster` suite on 3-member clusters (tests/bench/run.sh
# twice, the second run with --append).
#
# Usage: tests/bench/all.sh [--out FILE] [--quick] [--keep] [--etcd-rs PATH] [--bench PATH]
#
#   --out FILE  Markdown report (default: <repo>/BENCHMARKS.md)
#   --quick, --keep, --etcd-rs, --bench are passed to both runs (see run.sh --help).
#
# The report is assembled in a temporary file next to FILE and renamed over
# FILE only when both runs got as far as writing their section, so a harness
# error or Ctrl-C leaves an existing FILE untouched.
#
# Exit status: 0 ok, 1 some load failed in either run (report still written),
# 2 harness error (FILE not written).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# For log, die and repo_root only.
# shellcheck source=SCRIPTDIR/../compat/lib/servers.sh
source "$HERE/../compat/lib/servers.sh"

OUT=$(repo_root)/BENCHMARKS.md
PASS=()

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
  case $1 in
    --out) [[ $# -ge 2 ]] || die "--out needs an argument"; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --quick|--keep) PASS+=("$1"); shift ;;
    --etcd-rs|--bench) [[ $# -ge 2 ]] || die "$1 needs an argument"; PASS+=("$1" "$2"); shift 2 ;;
    --etcd-rs=*|--bench=*) PASS+=("$1"); shift ;;
    -h|--help) usage; exit 0 ;;
    # --members, --suite and --append are what this wrapper decides.
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")
# Same directory as OUT, so the final rename is atomic.
TMP_OUT=$(mktemp "$OUT.partial.XXXXXX")
trap 'rm -f "$TMP_OUT"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$SECONDS
rc_single=0
log "=== suite single, 1 member"
"$HERE/run.sh" --members 1 --suite single --out "$TMP_OUT" "${PASS[@]}" || rc_single=$?
((rc_single != 2)) || die "single-member run failed with a harness error; $OUT not written"

rc_cluster=0
log "=== suite cluster, 3 members"
"$HERE/run.sh" --members 3 --suite cluster --append --out "$TMP_OUT" "${PASS[@]}" || rc_cluster=$?
((rc_cluster != 2)) || die "cluster run failed with a harness error; $OUT not written"

mv -f "$TMP_OUT" "$OUT"
log "report written to $OUT ($((SECONDS - start)) s)"
if ((rc_single || rc_cluster)); then
  log "some loads failed (single: exit $rc_single, cluster: exit $rc_cluster); see the report"
  exit 1
fi
