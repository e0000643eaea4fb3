# shellcheck shell=bash
# Cluster support for tests/compat/run.sh (scenarios with "# members: N").
# Needs lib/servers.sh (take_free_port, launch_member, wait_cluster_ready,
# stop_cluster, stop_member, CLUSTER_MEMBERS, MEMBER_*).
#
# A side ("ref" = real etcd, "sut" = server under test) gets an N-member
# cluster whose members are MEMBER_* entries SIDE-m0 .. SIDE-m{N-1} with etcd
# names m0 .. m{N-1}; both sides get identical flags apart from ports and
# directories (the same names and --initial-cluster-token). Members a
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

# start_compat_cluster SIDE BINARY DIR N: start the cluster of SIDE and wait
# until `endpoint health --cluster` reports all N members healthy. Retries with
# new ports if a start failed because a port was taken meanwhile.
start_compat_cluster() {
  local side=$1 bin=$2 dir=$3 n=$4 attempt i initial m
  local -a names=() cports=() pports=()
  [[ -x $bin ]] || die "server binary not executable: $bin"
  SCENARIO_MEMBER_DIRS+=("$dir")
  for attempt in 1 2 3; do
    names=() cports=() pports=() initial=
    for ((i = 0; i < n; i++)); do
      names+=("$side-m$i")
      take_free_port "cports[$i]"
      take_free_port "pports[$i]"
      initial+="${initial:+,}m$i=http://127.0.0.1:${pports[i]}"
    done
    # shellcheck disable=SC2004  # associative array (declared in servers.sh)
    CLUSTER_MEMBERS[$side]="${names[*]}"
    rm -rf "$dir"
    mkdir -p "$dir"
    for ((i = 0; i < n; i++)); do
      launch_member "${names[i]}" "$bin" "$dir/m$i" "${cports[i]}" "${pports[i]}" \
        --name "m$i" --initial-cluster "$initial" \
        --initial-cluster-state new --initial-cluster-token "$COMPAT_CLUSTER_TOKEN"
    done
    if wait_cluster_ready "$side" "${MEMBER_START_TIMEOUT:-60}"; then
      log "cluster $side healthy: $(cluster_endpoints "$side")"
      date +%s >"$dir/ready-at"
      return 0
    fi
    for m in "${names[@]}"; do
      log "last 20 lines of $m's log (${MEMBER_LOG[$m]}):"
      tail -n 20 "${MEMBER_LOG[$m]}" >&2 || true
    done
    stop_cluster "$side"
    if ! grep -qi 'address already in use' "$dir"/m*/server.log 2>/dev/null; then
      break
    fi
    log "port collision, retrying ($attempt)"
  done
  return 1
}

# cluster_layout SIDE: "m0:CPORT:PPORT:PID m1:..." for the scenario process.
cluster_layout() {
  local m out=()
  for m in ${CLUSTER_MEMBERS[$1]}; do
    out+=("${m#"$1"-}:${MEMBER_CPORT[$m]}:${MEMBER_PPORT[$m]}:${MEMBER_PID[$m]}")
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
    name=${m#"$side"-}
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
  local dir=$1 f pid i
  for f in "$dir"/*/pid; do
    [[ -f $f ]] || continue
    pid=$(_scenario_pid_ok "$f" "$(dirname "$f")") || continue
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "scenario member $(basename "$(dirname "$f")") (pid $pid) ignored SIGTERM, killing"
      kill -KILL "$pid" 2>/dev/null || true
    fi
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
    name=${m#"$side"-}
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
