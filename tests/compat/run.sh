#!/usr/bin/env bash
# Differential compatibility suite: etcd-rs vs. real etcd 3.4.
#
# Usage: tests/compat/run.sh [--etcd-rs PATH] [--keep] [--artifacts DIR] [SCENARIO...]
#
#   --etcd-rs PATH   server binary under test (default: <repo>/target/debug/etcd-rs).
#                    `--etcd-rs /usr/bin/etcd` compares etcd with itself, which
#                    must pass: that is the self-test of this harness.
#   --keep           keep the scratch directory (transcripts, server logs).
#   --artifacts DIR  copy raw and masked transcripts, diffs and server logs to DIR.
#   SCENARIO...      names (e.g. v3-kv) or paths of scenario files; default: all
#                    tests/compat/scenarios/*.sh in lexical order.
#
# For every scenario a fresh pair of single-member servers is started (real
# etcd = "ref", the binary under test = "sut"), the scenario is executed with
# the real etcdctl 3.4 against each, the transcripts (stdout, stderr and exit
# code of every command) are masked for values that legitimately differ
# (ids, raft term/index, versions, sizes, timings, ports; see lib/mask.sh) and
# compared with `diff -u`. Output ends with the line "N passed, M failed".
#
# Exit status: 0 all scenarios passed, 1 some scenario differed (or etcd-rs
# did not start / crashed), 2 harness error (bad arguments, the reference etcd
# did not start, or a scenario script fails against real etcd).
#
# Environment knobs: COMPAT_SCENARIO_TIMEOUT (s per scenario and server, 600),
# CTL_TIMEOUT (s per etcdctl call, 30), MEMBER_START_TIMEOUT (s, 60).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib/servers.sh
source "$HERE/lib/servers.sh"
# shellcheck source=SCRIPTDIR/lib/mask.sh
source "$HERE/lib/mask.sh"

ROOT=$(repo_root)
SUT_BIN=$ROOT/target/debug/etcd-rs
KEEP=0
ARTIFACTS=
# Upper bound for one scenario against one server. Each etcdctl call is also
# bounded (lib/scenario.sh), but a server that hangs on every request would
# otherwise take ~7 s per command.
SCENARIO_TIMEOUT=${COMPAT_SCENARIO_TIMEOUT:-600}
SCENARIOS=()

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
  case $1 in
    --etcd-rs) [[ $# -ge 2 ]] || die "--etcd-rs needs a path"; SUT_BIN=$2; shift 2 ;;
    --etcd-rs=*) SUT_BIN=${1#*=}; shift ;;
    --keep) KEEP=1; shift ;;
    --artifacts) [[ $# -ge 2 ]] || die "--artifacts needs a directory"; ARTIFACTS=$2; shift 2 ;;
    --artifacts=*) ARTIFACTS=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option: $1" ;;
    *) SCENARIOS+=("$1"); shift ;;
  esac
done

# Resolve the binary to an absolute path now: scenarios run with another cwd.
[[ -e $SUT_BIN ]] || die "etcd-rs binary not found: $SUT_BIN (build it first, or pass --etcd-rs PATH)"
SUT_BIN=$(cd "$(dirname "$SUT_BIN")" && pwd)/$(basename "$SUT_BIN")
[[ -x $SUT_BIN ]] || die "not executable: $SUT_BIN"

# Scenario list: explicit names/paths, or every file in scenarios/ (sorted).
if ((${#SCENARIOS[@]} == 0)); then
  shopt -s nullglob
  SCENARIOS=("$HERE"/scenarios/*.sh)
  shopt -u nullglob
  ((${#SCENARIOS[@]})) || die "no scenarios in $HERE/scenarios"
else
  for i in "${!SCENARIOS[@]}"; do
    s=${SCENARIOS[$i]}
    if [[ ! -f $s ]]; then s=$HERE/scenarios/${s%.sh}.sh; fi
    [[ -f $s ]] || die "no such scenario: ${SCENARIOS[$i]}"
    SCENARIOS[i]=$(cd "$(dirname "$s")" && pwd)/$(basename "$s")
  done
fi

sanitize_env
ensure_etcd_tools
command -v diff >/dev/null 2>&1 || apt_install diffutils

WORK=$(mktemp -d "${TMPDIR:-/tmp}/etcd-rs-compat.XXXXXX")
cleanup() {
  local rc=$?
  stop_all_members
  if ((KEEP)); then
    log "scratch directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
# Turn signals into a normal exit so the EXIT trap stops the servers.
trap 'exit 130' INT
trap 'exit 143' TERM

log "reference: $REF_ETCD_BIN ($("$REF_ETCD_BIN" --version 2>/dev/null | head -n 1))"
log "under test: $SUT_BIN"
log "client: $CTL_BIN ($("$CTL_BIN" version 2>/dev/null | head -n 1))"

# member_ids NAME: print "MEMBER_ID CLUSTER_ID" (decimal) as reported in the
# header of `endpoint status`; used to mask exactly these values.
member_ids() {
  local json mid cid
  json=$("$CTL_BIN" --endpoints="127.0.0.1:${MEMBER_CPORT[$1]}" -w json endpoint status 2>/dev/null || true)
  mid=$(sed -nE 's/.*"member_id":([0-9]+).*/\1/p' <<<"$json")
  cid=$(sed -nE 's/.*"cluster_id":([0-9]+).*/\1/p' <<<"$json")
  echo "${mid:-none} ${cid:-none}"
}

# run_scenario NAME SCENARIO_FILE OUTDIR: run one scenario against member NAME
# in a clean bash process; the raw transcript goes to OUTDIR/NAME.raw and the
# masked one to OUTDIR/NAME.masked. Returns non-zero if the scenario script
# itself failed (a harness bug, not a server difference).
run_scenario() {
  local name=$1 file=$2 outdir=$3 scratch rc=0 mid cid
  scratch=$outdir/$name.scratch
  mkdir -p "$scratch"
  (
    cd "$scratch"
    # shellcheck disable=SC2016  # $1/$2 are expanded by the inner bash
    ENDPOINT="127.0.0.1:${MEMBER_CPORT[$name]}" SCRATCH=$scratch CTL_BIN=$CTL_BIN \
      exec timeout "$SCENARIO_TIMEOUT" bash -c 'set -uo pipefail; source "$1"; source "$2"' _ \
      "$HERE/lib/scenario.sh" "$file"
  ) >"$outdir/$name.raw" 2>"$outdir/$name.scenario-stderr" || rc=$?
  if ((rc != 0)); then
    log "scenario script $(basename "$file") exited with $rc against $name:"
    cat "$outdir/$name.scenario-stderr" >&2
  fi
  read -r mid cid < <(member_ids "$name")
  mask_transcript "$outdir/$name.raw" "$outdir/$name.masked" \
    "${MEMBER_CPORT[$name]}" "${MEMBER_PPORT[$name]}" "$mid" "$cid"
  return "$rc"
}

passed=0
failed=0
harness_error=0
failed_names=()
for scenario in "${SCENARIOS[@]}"; do
  sname=$(basename "$scenario" .sh)
  outdir=$WORK/$sname
  mkdir -p "$outdir"
  log "=== scenario $sname"
  ok=1
  # A fresh pair per scenario, so scenarios cannot influence each other and
  # revisions start at 1 on both sides.
  if ! start_member ref "$REF_ETCD_BIN" "$outdir/ref"; then
    log "HARNESS ERROR: reference etcd did not start"
    harness_error=1
    ok=0
  elif ! start_member sut "$SUT_BIN" "$outdir/sut"; then
    log "server under test did not start"
    ok=0
  fi
  if ((ok)); then
    if ! run_scenario ref "$scenario" "$outdir"; then
      log "HARNESS ERROR: scenario $sname is broken (its script fails against real etcd)"
      harness_error=1
      ok=0
    fi
  fi
  if ((ok)); then
    run_scenario sut "$scenario" "$outdir" || ok=0
    # Check both servers survived the scenario (a crash would also show up in
    # the diff, but this makes the cause obvious).
    for m in ref sut; do
      if ! kill -0 "${MEMBER_PID[$m]}" 2>/dev/null; then
        log "member $m died during the scenario; log tail:"
        tail -n 20 "${MEMBER_LOG[$m]}" >&2 || true
        ok=0
      fi
    done
    if ! diff -u --label "etcd-3.4/$sname" --label "etcd-rs/$sname" \
         "$outdir/ref.masked" "$outdir/sut.masked" >"$outdir/diff"; then
      ok=0
      cat "$outdir/diff"
    fi
  fi
  stop_member ref
  stop_member sut
  if ((ok)); then
    passed=$((passed + 1))
    echo "PASS $sname"
  else
    failed=$((failed + 1))
    failed_names+=("$sname")
    echo "FAIL $sname"
  fi
  if [[ -n $ARTIFACTS ]]; then
    mkdir -p "$ARTIFACTS/$sname"
    for f in ref.raw ref.masked sut.raw sut.masked diff; do
      if [[ -f $outdir/$f ]]; then cp "$outdir/$f" "$ARTIFACTS/$sname/$f"; fi
    done
    for m in ref sut; do
      if [[ -f $outdir/$m/server.log ]]; then
        cp "$outdir/$m/server.log" "$ARTIFACTS/$sname/$m.server.log"
      fi
    done
  fi
done

if ((failed)); then
  log "failed scenarios: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
if ((harness_error)); then
  exit 2
fi
((failed == 0))
