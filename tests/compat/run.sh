#!/usr/bin/env bash
# Differential compatibility suite: etcd-rs vs. real etcd 3.4.
#
# Usage: tests/compat/run.sh [--etcd-rs PATH] [--ctl PATH] [--keep] [--artifacts DIR] [SCENARIO...]
#
#   --etcd-rs PATH   server binary under test (default: <repo>/target/debug/etcd-rs).
#                    `--etcd-rs /usr/bin/etcd` compares etcd with itself, which
#                    must pass: that is the self-test of this harness.
#   --ctl PATH       client for the side under test (default: the real etcdctl):
#                    `--ctl target/debug/etcdctl-rs` compares etcdctl-rs against
#                    etcd-rs with etcdctl 3.4 against etcd 3.4, command by command
#                    (clientv3's zap retry warnings are then dropped on both sides, and
#                    the "caller" field of zap log lines too).
#   --keep           keep the scratch directory (transcripts, server logs).
#   --artifacts DIR  copy raw and masked transcripts, diffs and server logs to DIR.
#   SCENARIO...      names (e.g. v3-kv) or paths of scenario files; default: all
#                    tests/compat/scenarios/*.sh in lexical order.
#
# For every scenario a fresh single-member server is started for each side
# (real etcd = "ref", then the binary under test = "sut"; one at a time), or a
# fresh N-member cluster of each if the scenario has a header line
# "# members: N". The scenario is executed with the real etcdctl 3.4 against
# each, the transcripts (stdout, stderr and exit code of every command) are
# masked for values that legitimately differ (ids, raft term/index, versions,
# sizes, timings, ports, leader; see lib/mask.sh, lib/normalize.awk) and
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
# shellcheck source=SCRIPTDIR/lib/cluster.sh
source "$HERE/lib/cluster.sh"

ROOT=$(repo_root)
SUT_BIN=$ROOT/target/debug/etcd-rs
KEEP=0
ARTIFACTS=
# Upper bound for one scenario against one server. Each etcdctl call is also
# bounded (lib/scenario.sh), but a server that hangs on every request would
# otherwise take ~7 s per command.
SCENARIO_TIMEOUT=${COMPAT_SCENARIO_TIMEOUT:-600}
SCENARIOS=()
SUT_CTL=

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

while (($#)); do
  case $1 in
    --etcd-rs) [[ $# -ge 2 ]] || die "--etcd-rs needs a path"; SUT_BIN=$2; shift 2 ;;
    --etcd-rs=*) SUT_BIN=${1#*=}; shift ;;
    --ctl) [[ $# -ge 2 ]] || die "--ctl needs a path"; SUT_CTL=$2; shift 2 ;;
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

# Scratch directory and EXIT/INT/TERM traps (lib/servers.sh); members that
# scenarios started themselves are not children of this shell, so the hook
# stops them too.
init_workdir etcd-rs-compat stop_all_scenario_members

log "reference: $REF_ETCD_BIN ($("$REF_ETCD_BIN" --version 2>/dev/null | head -n 1))"
log "under test: $SUT_BIN"
log "client: $CTL_BIN ($("$CTL_BIN" version 2>/dev/null | head -n 1))"
if [[ -n $SUT_CTL ]]; then
  SUT_CTL=$(cd "$(dirname "$SUT_CTL")" && pwd)/$(basename "$SUT_CTL")
  [[ -x $SUT_CTL ]] || die "not executable: $SUT_CTL"
  log "client of the side under test: $SUT_CTL"
  # etcdctl-rs writes etcdctl's zap log lines without their Go "caller" field.
  MASK_EXTRA=(-e '/"msg":"retrying of unary invoker failed"/d' -e 's/,"caller":"[^"]*"//')
fi

# member_ids NAME: print "MEMBER_ID CLUSTER_ID" (decimal) as reported in the
# header of `endpoint status`; used to mask exactly these values.
member_ids() {
  local json mid cid
  json=$("$CTL_BIN" --endpoints="127.0.0.1:${MEMBER_CPORT[$1]}" -w json endpoint status 2>/dev/null || true)
  mid=$(sed -nE 's/.*"member_id":([0-9]+).*/\1/p' <<<"$json")
  cid=$(sed -nE 's/.*"cluster_id":([0-9]+).*/\1/p' <<<"$json")
  echo "${mid:-none} ${cid:-none}"
}

# run_scenario NAME SCENARIO_FILE OUTDIR MEMBERS: run one scenario against
# side NAME (a single member NAME, or the cluster NAME if MEMBERS > 1) in a
# clean bash process; the raw transcript goes to OUTDIR/NAME.raw and the
# masked one to OUTDIR/NAME.masked. Returns non-zero if the scenario script
# itself failed (a harness bug, not a server difference).
run_scenario() {
  local name=$1 file=$2 outdir=$3 members=$4 scratch rc=0 mid cid m0 ctl=$CTL_BIN
  local -a env=()
  scratch=$outdir/$name.scratch
  mkdir -p "$scratch"
  if [[ $name == sut && -n $SUT_CTL ]]; then ctl=$SUT_CTL; fi
  if ((members > 1)); then
    m0=${CLUSTER_MEMBERS[$name]%% *}
    write_cluster_masks "$name" "$outdir/$name.masks"
    env=(ENDPOINT="127.0.0.1:${MEMBER_CPORT[$m0]}"
         CLUSTER_LAYOUT="$(cluster_layout "$name")"
         SERVER_BIN="$(side_bin "$name")"
         CLUSTER_DIR="$outdir/$name"
         CLUSTER_TOKEN="$COMPAT_CLUSTER_TOKEN"
         CLUSTER_READY_AT="$(cat "$outdir/$name/ready-at")"
         MASKS="$outdir/$name.masks")
  else
    env=(ENDPOINT="127.0.0.1:${MEMBER_CPORT[$name]}")
  fi
  (
    cd "$scratch"
    # shellcheck disable=SC2016  # $1/$2 are expanded by the inner bash
    env "${env[@]}" SCRATCH="$scratch" CTL_BIN="$ctl" COMPAT_CTL_MODE="${SUT_CTL:+1}" \
      timeout "$SCENARIO_TIMEOUT" bash -c 'set -uo pipefail; source "$1"; source "$2"' _ \
      "$HERE/lib/scenario.sh" "$file"
  ) >"$outdir/$name.raw" 2>"$outdir/$name.scenario-stderr" || rc=$?
  if ((rc != 0)); then
    log "scenario script $(basename "$file") exited with $rc against $name:"
    cat "$outdir/$name.scenario-stderr" >&2
  fi
  if ((members > 1)); then
    mask_cluster_transcript "$outdir/$name.raw" "$outdir/$name.masked" "$outdir/$name.masks"
  else
    read -r mid cid < <(member_ids "$name")
    mask_transcript "$outdir/$name.raw" "$outdir/$name.masked" \
      "${MEMBER_CPORT[$name]}" "${MEMBER_PPORT[$name]}" "$mid" "$cid"
  fi
  return "$rc"
}

# side_bin NAME: the server binary of side NAME.
side_bin() {
  if [[ $1 == ref ]]; then echo "$REF_ETCD_BIN"; else echo "$SUT_BIN"; fi
}

# start_side NAME OUTDIR MEMBERS / stop_side NAME OUTDIR MEMBERS /
# side_alive NAME OUTDIR MEMBERS: a single member or a cluster.
start_side() {
  if (($3 > 1)); then
    start_compat_cluster "$1" "$(side_bin "$1")" "$2/$1" "$3"
  else
    start_member "$1" "$(side_bin "$1")" "$2/$1"
  fi
}
stop_side() {
  if (($3 > 1)); then stop_compat_cluster "$1" "$2/$1"; else stop_member "$1"; fi
}
side_alive() {
  if (($3 > 1)); then
    check_cluster_alive "$1" "$2/$1"
  elif ! kill -0 "${MEMBER_PID[$1]}" 2>/dev/null; then
    log "member $1 died during the scenario; log tail:"
    tail -n 20 "${MEMBER_LOG[$1]}" >&2 || true
    return 1
  fi
}

# server_logs NAME OUTDIR MEMBERS: "LABEL FILE" lines for --artifacts.
server_logs() {
  local f
  if (($3 > 1)); then
    for f in "$2/$1"/*/server.log; do
      [[ -f $f ]] && echo "$1.$(basename "$(dirname "$f")") $f"
    done
  elif [[ -f $2/$1/server.log ]]; then
    echo "$1 $2/$1/server.log"
  fi
}

passed=0
failed=0
harness_error=0
failed_names=()
for scenario in "${SCENARIOS[@]}"; do
  sname=$(basename "$scenario" .sh)
  members=$(scenario_members "$scenario")
  read -ra SERVER_FLAGS <<<"$(scenario_server_flags "$scenario")"
  outdir=$WORK/$sname
  mkdir -p "$outdir"
  if ((members > 1)); then
    log "=== scenario $sname ($members-member clusters)"
  else
    log "=== scenario $sname"
  fi
  ok=1
  ref_broken=0
  # A fresh server (or cluster) per scenario and side, so scenarios cannot
  # influence each other and revisions start at 1 on both sides. The sides
  # run one after the other (less load, in particular for clusters).
  for side in ref sut; do
    if ! start_side "$side" "$outdir" "$members"; then
      if [[ $side == ref ]]; then
        log "HARNESS ERROR: reference etcd did not start"
        harness_error=1
      else
        log "server under test did not start"
      fi
      ok=0
      stop_side "$side" "$outdir" "$members"
      break
    fi
    if ! run_scenario "$side" "$scenario" "$outdir" "$members"; then
      ok=0
      if [[ $side == ref ]]; then
        log "HARNESS ERROR: scenario $sname is broken (its script fails against real etcd)"
        harness_error=1
        ref_broken=1
      fi
    fi
    # Check the servers survived the scenario (a crash would also show up in
    # the diff, but this makes the cause obvious).
    if ! side_alive "$side" "$outdir" "$members"; then
      ok=0
    fi
    stop_side "$side" "$outdir" "$members"
    if ((ref_broken)); then
      break
    fi
  done
  if [[ -f $outdir/ref.masked && -f $outdir/sut.masked ]]; then
    if ! diff -u --label "etcd-3.4/$sname" --label "etcd-rs/$sname" \
         "$outdir/ref.masked" "$outdir/sut.masked" >"$outdir/diff"; then
      ok=0
      cat "$outdir/diff"
    fi
  fi
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
    for f in ref.raw ref.masked ref.masks sut.raw sut.masked sut.masks diff; do
      if [[ -f $outdir/$f ]]; then cp "$outdir/$f" "$ARTIFACTS/$sname/$f"; fi
    done
    for side in ref sut; do
      while read -r label f; do
        cp "$f" "$ARTIFACTS/$sname/$label.server.log"
      done < <(server_logs "$side" "$outdir" "$members")
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
