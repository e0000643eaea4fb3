# shellcheck shell=bash
# Cluster support for tests/compat/run.sh (scenarios with "# members: N").
# Needs lib/servers.sh (start_cluster, stop_cluster, term_then_kill,
# CLUSTER_MEMBERS, MEMBER_*).
#
# A side ("ref" = real etcd, "sut" = server under test) gets an N-member
# cluster whose members are MEMBER_* entries SIDE-0 .. SIDE-{N-1} with etcd
# names m0 .. m{N-1} (MEMBER_ETCD_NAME); both sides get identical flags apart
# from ports and directories (the same names and --initial-cluster-token). Members a
# scenario starts itself live in DIR/<name> with a pid file; they are stopped
# by stop_compat_cluster (and stop_scenario_members from the EXIT trap).

COMPAT_CLUSTER_TOKEN=etcd-compat-cluster
declare -ga SCENARIO_MEMBER_DIRS=()   # cluster dirs that may hold scenario-started members

# scenario_members FILE: the member count a scenario declares with a header
# line "# members: N" among its first 30 lines (default 1).
scenario_members() {
  local n
  n=$(sed -nE '1,30{s/^# members: *([0-9]+) *$/\1/p}' "$1" | head -n 1)
  echo "${n:-1}"
}

# scenario_server_flags FILE: extra server flags a scenario declares with a
# header line "# server-flags: FLAGS" (e.g. --enable-v2, which etcd 3.4 needs
# for the v2 API and etcd-rs accepts).
scenario_server_flags() {
  sed -nE '1,30{s/^# server-flags: *(.*)$/\1/p}' "$1" | head -n 1
}

# start_compat_cluster SIDE BINARY DIR N: start the cluster of SIDE with
# start_cluster (members SIDE-0 .. SIDE-{N-1}, etcd names and directories
# m0 .. m{N-1}, which retries on port collisions) and record when it became
# healthy. DIR is registered first so the EXIT trap also stops members a
# scenario started there.
start_compat_cluster() {
  local side=$1 bin=$2 dir=$3 n=$4
  SCENARIO_MEMBER_DIRS+=("$dir")
  start_cluster "$side" "$bin" "$dir" "$n" "$COMPAT_CLUSTER_TOKEN" m 0 || return 1
  date +%s >"$dir/ready-at"
}

# cluster_layout SIDE: "m0:CPORT:PPORT:PID m1:..." for the scenario process.
cluster_layout() {
  local m out=()
  for m in ${CLUSTER_MEMBERS[$1]}; do
    out+=("${MEMBER_ETCD_NAME[$m]}:${MEMBER_CPORT[$m]}:${MEMBER_PPORT[$m]}:${MEMBER_PID[$m]}")
  done
  echo "${out[*]}"
}

# write_cluster_masks SIDE MASKS: the masks file (lib/mask.sh) for the
# initial members: their ports, their ids (from `member list -w json` asked
# through m0) and the cluster id.
write_cluster_masks() {
  local side=$1 masks=$2 m name json objs obj id oname cid
  : >"$masks"
  for m in ${CLUSTER_MEMBERS[$side]}; do
    name=${MEMBER_ETCD_NAME[$m]}
    echo "port ${MEMBER_CPORT[$m]} CPORT:$name" >>"$masks"
    echo "port ${MEMBER_PPORT[$m]} PPORT:$name" >>"$masks"
  done
  m=${CLUSTER_MEMBERS[$side]%% *}
  json=$("$CTL_BIN" --endpoints="127.0.0.1:${MEMBER_CPORT[$m]}" -w json member list 2>/dev/null || true)
  cid=$(sed -nE 's/.*"cluster_id":([0-9]+).*/\1/p' <<<"$json")
  if [[ -n $cid ]]; then echo "cluster $cid" >>"$masks"; fi
  objs=$(sed -E 's/.*"members":\[//; s/\},\{/}\n{/g' <<<"$json")
  while IFS= read -r obj; do
    id=$(sed -nE 's/.*"ID":([0-9]+).*/\1/p' <<<"$obj")
    oname=$(sed -nE 's/.*"name":"([^"]*)".*/\1/p' <<<"$obj")
    if [[ -n $id && -n $oname ]]; then echo "member $id $oname" >>"$masks"; fi
  done <<<"$objs"
}

# _scenario_pid_ok PIDFILE DIR: print the pid in PIDFILE if that process
# still runs the member whose data dir is DIR (guards against pid reuse).
_scenario_pid_ok() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline" | grep -qF -- "$2/data" || return 1
  echo "$pid"
}

# stop_scenario_members DIR: stop the members a scenario started under DIR
# (SIGTERM, up to 10 s, then SIGKILL). They are not children of this shell.
stop_scenario_members() {
  local dir=$1 f pid
  for f in "$dir"/*/pid; do
    [[ -f $f ]] || continue
    pid=$(_scenario_pid_ok "$f" "$(dirname "$f")") || continue
    term_then_kill "$pid" "scenario member $(basename "$(dirname "$f")")"
  done
}

# stop_all_scenario_members: for the EXIT trap.
stop_all_scenario_members() {
  local d
  for d in "${SCENARIO_MEMBER_DIRS[@]}"; do
    stop_scenario_members "$d"
  done
}

# check_cluster_alive SIDE DIR: true if every member of SIDE and every member
# the scenario started is still running, except those the scenario removed
# (listed in DIR/removed); logs the tail of a dead member's log.
check_cluster_alive() {
  local side=$1 dir=$2 m name f ok=0
  for m in ${CLUSTER_MEMBERS[$side]}; do
    name=${MEMBER_ETCD_NAME[$m]}
    if grep -qxF -- "$name" "$dir/removed" 2>/dev/null; then continue; fi
    if ! kill -0 "${MEMBER_PID[$m]}" 2>/dev/null; then
      log "member $m died during the scenario; log tail:"
      tail -n 20 "${MEMBER_LOG[$m]}" >&2 || true
      ok=1
    fi
  done
  for f in "$dir"/*/pid; do
    [[ -f $f ]] || continue
    name=$(basename "$(dirname "$f")")
    if grep -qxF -- "$name" "$dir/removed" 2>/dev/null; then continue; fi
    if ! _scenario_pid_ok "$f" "$(dirname "$f")" >/dev/null; then
      log "scenario member $side/$name died during the scenario; log tail:"
      tail -n 20 "$(dirname "$f")/server.log" >&2 || true
      ok=1
    fi
  done
  return "$ok"
}

# stop_compat_cluster SIDE DIR: stop the initial members and those the
# scenario started.
stop_compat_cluster() {
  stop_scenario_members "$2"
  stop_cluster "$1"
}
