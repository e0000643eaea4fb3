# shellcheck shell=bash
# The globals below are set here and read by the sourcing scripts.
# shellcheck disable=SC2034
# Shared helpers for starting/stopping etcd-compatible servers (single members
# or N-member clusters) on 127.0.0.1. Sourced by tests/compat/run.sh and
# tests/bench/run.sh.
#
# The caller must call init_workdir (below) before starting servers: it sets
# WORK to a private scratch directory and installs the EXIT trap that stops
# all members, so that no server outlives the script, even on error or Ctrl-C.
#
# Members are addressed by a short NAME (e.g. "ref", "sut"); their details are
# kept in the associative arrays below so several members can coexist. The
# members of a cluster started by start_cluster CLUSTER are named CLUSTER-I
# (I = 1..N by default) and are ordinary members in these arrays as well.

declare -gA MEMBER_PID=()    # NAME -> pid of the server process
declare -gA MEMBER_CPORT=()  # NAME -> client port
declare -gA MEMBER_PPORT=()  # NAME -> peer port
declare -gA MEMBER_DIR=()    # NAME -> directory holding data dir and log
declare -gA MEMBER_LOG=()    # NAME -> server log file (stdout+stderr)
declare -gA MEMBER_ETCD_NAME=() # NAME -> the member's etcd --name
declare -gA PORTS_TAKEN=()   # ports already handed out by this script
declare -gA CLUSTER_MEMBERS=() # CLUSTER -> its member NAMEs, space-separated, in order
declare -ga SERVER_FLAGS=()  # extra flags every member is started with (e.g. --enable-v2)

# log MSG... : progress messages go to stderr so stdout stays machine-usable.
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# die MSG... : fatal harness error (exit code 2 distinguishes "harness broken"
# from "comparison failed" = 1).
die() { log "ERROR: $*"; exit 2; }

# init_workdir PREFIX [HOOK]: create the scratch directory WORK
# (${TMPDIR:-/tmp}/PREFIX.XXXXXX) and install the traps. On exit the EXIT trap
# runs HOOK if given (a command for extra cleanup, e.g. stopping processes that
# are not in MEMBER_PID), stops all members, then removes WORK, or only logs
# its path if the caller set KEEP=1; the exit status is preserved. INT/TERM
# are turned into a normal exit so that the EXIT trap stops the servers.
init_workdir() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  WORK_CLEANUP_HOOK=${2:-}
  trap _cleanup_workdir EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# _cleanup_workdir: the EXIT trap installed by init_workdir.
_cleanup_workdir() {
  local rc=$?
  if [[ -n $WORK_CLEANUP_HOOK ]]; then "$WORK_CLEANUP_HOOK"; fi
  stop_all_members
  if ((${KEEP:-0})); then
    log "scratch directory kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}

# apt_install PKG... : install Debian packages non-interactively. CI runs as
# root on a fresh machine; locally we use sudo if we are not root.
apt_install() {
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "need root or sudo to install: $*"
    sudo=(sudo)
  fi
  log "installing $* with apt-get"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 \
    || die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends "$@" >&2 \
    || die "apt-get install $* failed"
}

# ensure_etcd_tools: the reference server and the client are the Debian
# packages etcd-server / etcd-client (3.4.x). Install them only if missing.
ensure_etcd_tools() {
  local missing=()
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
  command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
  if ((${#missing[@]})); then
    apt_install "${missing[@]}"
  fi
  REF_ETCD_BIN=$(command -v etcd) || die "etcd still not found after install"
  CTL_BIN=$(command -v etcdctl) || die "etcdctl still not found after install"
  # Deliberately not exported: etcd and etcdctl warn about unknown ETCD_*/ETCDCTL_* variables.
}

# sanitize_env: inherited ETCD_* / ETCDCTL_* variables would silently change
# server configuration or etcdctl behaviour (etcdctl even aborts when an env var
# shadows a flag), so drop them all and pin the v3 API.
sanitize_env() {
  local v
  while IFS= read -r v; do
    case $v in
      ETCD_*|ETCDCTL_*) unset "$v" ;;
    esac
  done < <(compgen -e)
  export ETCDCTL_API=3
}

# port_is_listening PORT: true if something accepts TCP connections on it.
# Uses bash's /dev/tcp so no extra tools are needed on a fresh machine.
port_is_listening() {
  # shellcheck disable=SC2016  # $1 is expanded by the inner bash
  timeout 1 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# take_free_port VAR: set VAR to a port nobody listens on and that we have not
# handed out yet. Ports are drawn below the kernel's ephemeral range so that
# outgoing client connections cannot grab them between our check and the
# server's bind. (A residual race with other programs remains; start_member and
# start_cluster retry on it.) Assigns instead of printing because `$(...)` runs
# in a subshell, where recording the port in PORTS_TAKEN would be lost and two
# calls could hand out the same port.
take_free_port() {
  local lo=10000 hi=32767 eph_lo p tries
  if read -r eph_lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null \
     && ((eph_lo > lo + 1000)); then
    hi=$((eph_lo - 1))
  fi
  for ((tries = 0; tries < 200; tries++)); do
    p=$((lo + (RANDOM * 32768 + RANDOM) % (hi - lo + 1)))
    [[ -n ${PORTS_TAKEN[$p]:-} ]] && continue
    if ! port_is_listening "$p"; then
      PORTS_TAKEN[$p]=1
      printf -v "$1" '%s' "$p"
      return 0
    fi
  done
  die "could not find a free port"
}

# free_port: print a free port (see take_free_port; in `$(free_port)` the port
# is not remembered, so prefer take_free_port in this file).
free_port() {
  local port
  take_free_port port
  echo "$port"
}

# wait_ready NAME TIMEOUT_S: poll `etcdctl endpoint health` until the member
# answers (it does a linearizable read, so it implies a leader exists). Fails
# early if the process has exited.
wait_ready() {
  local name=$1 timeout_s=$2 deadline
  deadline=$((SECONDS + timeout_s))
  while ((SECONDS < deadline)); do
    if ! kill -0 "${MEMBER_PID[$name]}" 2>/dev/null; then
      local rc=0
      wait "${MEMBER_PID[$name]}" 2>/dev/null || rc=$?
      log "member $name (pid ${MEMBER_PID[$name]}) exited during startup with status $rc"
      return 1
    fi
    if "$CTL_BIN" --endpoints="127.0.0.1:${MEMBER_CPORT[$name]}" \
         --dial-timeout=1s --command-timeout=2s endpoint health >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.2
  done
  log "member $name not healthy after ${timeout_s}s"
  return 1
}

# launch_member NAME BINARY DIR CPORT PPORT EXTRA_FLAG...: record NAME's
# details, then start BINARY in the background with its data dir in DIR/data,
# its log in DIR/server.log, client/peer URLs on 127.0.0.1:CPORT/PPORT and the
# extra etcd flags (--name, --initial-cluster, ...) and SERVER_FLAGS. Does not
# wait for it.
launch_member() {
  local name=$1 bin=$2 dir=$3 cport=$4 pport=$5
  shift 5
  mkdir -p "$dir"
  MEMBER_DIR[$name]=$dir
  MEMBER_LOG[$name]=$dir/server.log
  MEMBER_CPORT[$name]=$cport
  MEMBER_PPORT[$name]=$pport
  "$bin" --data-dir "$dir/data" \
    --listen-client-urls "http://127.0.0.1:$cport" \
    --advertise-client-urls "http://127.0.0.1:$cport" \
    --listen-peer-urls "http://127.0.0.1:$pport" \
    --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
    "$@" "${SERVER_FLAGS[@]}" </dev/null >"${MEMBER_LOG[$name]}" 2>&1 &
  MEMBER_PID[$name]=$!
  log "started $name: $(basename "$bin") pid ${MEMBER_PID[$name]} client 127.0.0.1:$cport peer 127.0.0.1:$pport"
}

# start_member NAME BINARY DIR: start a fresh single-member cluster with the
# etcd flag set (etcd-rs accepts the same flags) on free 127.0.0.1 ports and
# wait until it is healthy. Retries with new ports if the start fails because
# a port was taken in the meantime.
start_member() {
  local name=$1 bin=$2 dir=$3 attempt cport pport
  [[ -x $bin ]] || die "server binary not executable: $bin"
  for attempt in 1 2 3; do
    take_free_port cport
    take_free_port pport
    rm -rf "$dir"
    MEMBER_ETCD_NAME[$name]=default
    launch_member "$name" "$bin" "$dir" "$cport" "$pport" \
      --name default --initial-cluster "default=http://127.0.0.1:$pport"
    if wait_ready "$name" "${MEMBER_START_TIMEOUT:-60}"; then
      return 0
    fi
    stop_member "$name"
    if ! grep -qi 'address already in use' "$dir/server.log" 2>/dev/null; then
      break
    fi
    log "port collision, retrying ($attempt)"
  done
  log "last 40 lines of $name's log (${MEMBER_LOG[$name]}):"
  tail -n 40 "${MEMBER_LOG[$name]}" >&2 || true
  return 1
}

# cluster_endpoints CLUSTER: the members' client endpoints, comma-separated
# (the form both etcdctl --endpoints and etcd-rs-bench --endpoints take).
cluster_endpoints() {
  local m eps=()
  for m in ${CLUSTER_MEMBERS[$1]}; do
    eps+=("127.0.0.1:${MEMBER_CPORT[$m]}")
  done
  local IFS=,
  echo "${eps[*]}"
}

# wait_cluster_ready CLUSTER TIMEOUT_S: poll `etcdctl endpoint health --cluster`
# until every member reports healthy (each check is a linearizable read, so a
# leader exists and all members serve). Counts the healthy entries because
# etcdctl exits 0 with an empty list while the members are still unstarted
# (no client URLs published yet). Fails early if any member process exited.
wait_cluster_ready() {
  local cluster=$1 timeout_s=$2 deadline m n=0 out healthy
  for m in ${CLUSTER_MEMBERS[$cluster]}; do n=$((n + 1)); done
  deadline=$((SECONDS + timeout_s))
  while ((SECONDS < deadline)); do
    for m in ${CLUSTER_MEMBERS[$cluster]}; do
      if ! kill -0 "${MEMBER_PID[$m]}" 2>/dev/null; then
        local rc=0
        wait "${MEMBER_PID[$m]}" 2>/dev/null || rc=$?
        log "member $m (pid ${MEMBER_PID[$m]}) exited during startup with status $rc"
        return 1
      fi
    done
    if out=$("$CTL_BIN" --endpoints="$(cluster_endpoints "$cluster")" \
               --dial-timeout=1s --command-timeout=2s -w json endpoint health --cluster 2>/dev/null); then
      healthy=$(grep -o '"health":true' <<<"$out" | wc -l)
      if ((healthy == n)); then
        return 0
      fi
    fi
    sleep 0.2
  done
  log "cluster $cluster: not all $n members healthy after ${timeout_s}s; last answer: ${out:-none}"
  return 1
}

# start_cluster CLUSTER BINARY DIR N TOKEN [NAME_PREFIX [FIRST]]: start a
# fresh N-member cluster on free 127.0.0.1 ports with the etcd static-bootstrap
# flags (--initial-cluster of all members, --initial-cluster-state new,
# --initial-cluster-token TOKEN), and wait until all members are healthy. For
# I = FIRST..FIRST+N-1 (FIRST defaults to 1) member CLUSTER-I gets the etcd
# name NAME_PREFIX<I> (NAME_PREFIX defaults to "member-") and the directory
# DIR/NAME_PREFIX<I>. All members are started before waiting: none can elect a
# leader alone. Member names and TOKEN do not depend on BINARY, so two clusters
# started with the same N, TOKEN and names get identical flags apart from
# ports and directories. Retries with new ports if a start fails because a
# port was taken meanwhile.
start_cluster() {
  local cluster=$1 bin=$2 dir=$3 n=$4 token=$5 prefix=${6:-member-} first=${7:-1}
  local attempt i initial m
  local -a names etcd_names cports pports
  [[ -x $bin ]] || die "server binary not executable: $bin"
  ((n >= 1)) || die "start_cluster: bad member count: $n"
  for attempt in 1 2 3; do
    names=() etcd_names=() cports=() pports=() initial=
    for ((i = 0; i < n; i++)); do
      names+=("$cluster-$((first + i))")
      etcd_names+=("$prefix$((first + i))")
      take_free_port "cports[$i]"
      take_free_port "pports[$i]"
      initial+="${initial:+,}${etcd_names[i]}=http://127.0.0.1:${pports[i]}"
    done
    CLUSTER_MEMBERS[$cluster]="${names[*]}"
    rm -rf "$dir"
    for ((i = 0; i < n; i++)); do
      MEMBER_ETCD_NAME[${names[i]}]=${etcd_names[i]}
      launch_member "${names[i]}" "$bin" "$dir/${etcd_names[i]}" "${cports[i]}" "${pports[i]}" \
        --name "${etcd_names[i]}" --initial-cluster "$initial" \
        --initial-cluster-state new --initial-cluster-token "$token"
    done
    if wait_cluster_ready "$cluster" "${MEMBER_START_TIMEOUT:-60}"; then
      log "cluster $cluster healthy: $(cluster_endpoints "$cluster")"
      return 0
    fi
    stop_cluster "$cluster"
    if ! grep -qi 'address already in use' "$dir/$prefix"*/server.log 2>/dev/null; then
      break
    fi
    log "port collision, retrying ($attempt)"
  done
  for m in "${names[@]}"; do
    log "last 20 lines of $m's log (${MEMBER_LOG[$m]}):"
    tail -n 20 "${MEMBER_LOG[$m]}" >&2 || true
  done
  return 1
}

# term_then_kill PID LABEL: SIGTERM, wait up to 10 s for PID to exit, then
# SIGKILL (logged as "LABEL (pid PID) ignored SIGTERM"). Does not reap: PID
# need not be a child of this shell.
term_then_kill() {
  local pid=$1 label=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$label (pid $pid) ignored SIGTERM, killing"
    kill -KILL "$pid" 2>/dev/null || true
  fi
}

# stop_member NAME: SIGTERM, wait up to 10 s, then SIGKILL; always reaps.
stop_member() {
  local name=$1 pid
  pid=${MEMBER_PID[$name]:-}
  [[ -n $pid ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    term_then_kill "$pid" "member $name"
  fi
  wait "$pid" 2>/dev/null || true
  unset "MEMBER_PID[$name]"
}

# stop_cluster CLUSTER: stop all its members. SIGTERM goes to every member
# first so they shut down in parallel (bounded by one stop_member timeout, not
# N of them); stop_member then waits for each, escalating to SIGKILL.
stop_cluster() {
  local m pid
  for m in ${CLUSTER_MEMBERS[$1]:-}; do
    pid=${MEMBER_PID[$m]:-}
    if [[ -n $pid ]]; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for m in ${CLUSTER_MEMBERS[$1]:-}; do
    stop_member "$m"
  done
  unset "CLUSTER_MEMBERS[$1]"
}

# stop_all_members: for the EXIT trap.
stop_all_members() {
  local name
  for name in "${!MEMBER_PID[@]}"; do
    stop_member "$name"
  done
}

# repo_root: the git top level if available, else two levels above this file
# (tests/compat/lib -> repo root is three up).
repo_root() {
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/../../.." && pwd)
}
