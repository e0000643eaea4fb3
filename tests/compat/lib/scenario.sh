# shellcheck shell=bash
# Helpers available to scenario scripts (tests/compat/scenarios/*.sh).
#
# run.sh executes every scenario once per server, in a fresh bash process with
#   ENDPOINT     host:port of the server under test (127.0.0.1:PORT); in a
#                cluster scenario the client endpoint of member m0
#   CTL_BIN      path to the real etcdctl 3.4
#   SCRATCH      an empty private directory (cwd is set to it) for input files
# and stdout redirected into the transcript. A scenario is plain bash that
# calls the helpers below; it must be deterministic, i.e. produce the same
# transcript on every run against the same server implementation (no clocks,
# no random data, no absolute paths in recorded command lines).
#
# Cluster scenarios (header line "# members: N") additionally get
#   CLUSTER_LAYOUT   "m0:CPORT:PPORT:PID m1:..." of the members run.sh started
#   SERVER_BIN       the server binary of this side (etcd or etcd-rs), for
#                    members the scenario starts itself (start_joining_member)
#   CLUSTER_DIR      directory for such members (run.sh stops them afterwards)
#   CLUSTER_TOKEN    the --initial-cluster-token of the cluster
#   CLUSTER_READY_AT epoch seconds when the cluster became healthy
#   MASKS            masks file (lib/mask.sh) the scenario appends to
# and the helpers in the "cluster helpers" part below.
#
# Transcript format (modelled on Appendix A of the spec):
#   $ etcdctl <args as typed>            (endpoint flag omitted: it differs;
#                                         shown as --endpoints=... by ctl_at)
#   [rows sorted after masking]          (only for `sorted` commands)
#   [retried until ...]                  (only for `retry_until_*` commands)
#   <stdout verbatim>
#   [stderr]
#   <stderr verbatim>                    (only if non-empty)
#   [exit N]                             (only if N != 0)
#   <empty line>
# and "[check] TEXT" lines for facts the scenario derives itself.
# A missing trailing newline on stdout is made visible explicitly, so that
# "OK" and "OK\n" do not compare equal.

# Commands get a hard timeout so a hung server cannot hang CI; a timeout shows
# up as "[exit 124]" in the transcript.
CTL_TIMEOUT=${CTL_TIMEOUT:-30}

# section TITLE: a heading in the transcript (makes diffs easier to read).
section() { printf '### %s\n\n' "$*"; }

# Modifiers, set as function-local variables by the wrappers below (bash's
# dynamic scoping makes them visible to _ctl_record):
#   _ctl_ep       endpoint to use instead of $ENDPOINT (then shown)
#   _ctl_sorted   1: print the "[rows sorted after masking]" marker
#   _ctl_retry    seconds: repeat the command until it succeeds (see
#                 retry_until_ok); _ctl_match: regex stdout must match too
_ctl_ep=
_ctl_sorted=
_ctl_retry=
_ctl_match=

# _ctl_record STDIN_FILE SHOWN_SUFFIX ARGS...: run etcdctl, record everything.
_ctl_record() {
  local stdin=$1 suffix=$2 rc=0 shown ep=${_ctl_ep:-$ENDPOINT} deadline
  shift 2
  local out=$SCRATCH/.stdout err=$SCRATCH/.stderr
  if [[ -n $_ctl_retry ]]; then
    deadline=$((SECONDS + _ctl_retry))
    while :; do
      rc=0
      timeout "$CTL_TIMEOUT" "$CTL_BIN" --endpoints="$ep" "$@" \
        <"$stdin" >"$out" 2>"$err" || rc=$?
      if ((rc == 0)) && { [[ -z $_ctl_match ]] || grep -Eq -- "$_ctl_match" "$out"; }; then
        break
      fi
      ((SECONDS < deadline)) || break
      sleep 0.5
    done
  else
    timeout "$CTL_TIMEOUT" "$CTL_BIN" --endpoints="$ep" "$@" \
      <"$stdin" >"$out" 2>"$err" || rc=$?
  fi
  # printf %q gives an unambiguous, copy-pastable rendering of the arguments.
  shown=$(printf ' %q' "$@")
  if [[ -n $_ctl_ep ]]; then
    shown=" --endpoints=$_ctl_ep$shown"
  fi
  printf '$ etcdctl%s%s\n' "$shown" "$suffix"
  if [[ -n $_ctl_sorted ]]; then
    printf '[rows sorted after masking]\n'
  fi
  if [[ -n $_ctl_retry ]]; then
    if [[ -n $_ctl_match ]]; then
      printf '[retried until exit 0 and output matching /%s/ (up to %s s); last attempt shown]\n' \
        "$_ctl_match" "$_ctl_retry"
    else
      printf '[retried until exit 0 (up to %s s); last attempt shown]\n' "$_ctl_retry"
    fi
  fi
  _ctl_dump "$out"
  if [[ -s $err ]]; then
    printf '[stderr]\n'
    _ctl_dump "$err"
  fi
  if ((rc != 0)); then
    printf '[exit %d]\n' "$rc"
  fi
  printf '\n'
}

# _ctl_dump FILE: print FILE, flagging a missing final newline.
_ctl_dump() {
  [[ -s $1 ]] || return 0
  cat -- "$1"
  if [[ $(tail -c 1 -- "$1" | od -An -tx1 | tr -d ' \n') != 0a ]]; then
    printf '\n[no newline at end of output]\n'
  fi
}

# ctl ARGS...: run `etcdctl ARGS` with empty stdin.
ctl() { _ctl_record /dev/null '' "$@"; }

# ctl_beyond34 ARGS...: a command where etcdctl-rs deliberately does more than
# etcdctl 3.4 (e.g. `get -w table`, which etcdctl refuses). Recorded like `ctl`
# when real etcdctl runs on both sides; with --ctl (COMPAT_CTL_MODE=1) both sides
# record only a marker, since the outputs are meant to differ.
ctl_beyond34() {
  if [[ -n ${COMPAT_CTL_MODE:-} ]]; then
    printf '$ etcdctl%s\n[etcdctl-rs does more than etcdctl 3.4 here: not compared]\n\n' "$(printf ' %q' "$@")"
  else
    ctl "$@"
  fi
}

# etcdctl_only CMD...: run CMD (a recorded command, or a function that records
# checks) for what etcdctl 3.4 has and etcdctl-rs does not: auth management,
# `check`, and etcdctl's own log lines around `--user`. These exercise the
# server, so they run when real etcdctl is on both sides; with --ctl
# (COMPAT_CTL_MODE=1) both sides record only a marker.
etcdctl_only() {
  if [[ -n ${COMPAT_CTL_MODE:-} ]]; then
    printf '$%s\n[a command of etcdctl 3.4 that etcdctl-rs does not have: not compared]\n\n' "$(printf ' %q' "$@")"
  else
    "$@"
  fi
}

# ctl_in TEXT ARGS...: run `etcdctl ARGS` with TEXT on stdin (e.g. txn); the
# transcript shows TEXT as a here-document so the input is part of the record.
ctl_in() {
  local text=$1
  shift
  _ctl_stdin "$text"
  _ctl_record "$SCRATCH/.stdin" " $(cat "$SCRATCH/.shown")" "$@"
}

# ctl_in_held SECONDS TEXT ARGS...: like ctl_in, but stdin stays open for
# SECONDS after TEXT. Interactive commands (watch -i) exit on EOF, so without
# the hold whether an event prints before that exit is a race in etcdctl too.
ctl_in_held() {
  local hold=$1 text=$2
  shift 2
  _ctl_stdin "$text"
  _ctl_record <(cat "$SCRATCH/.stdin" && sleep "$hold") \
    " $(cat "$SCRATCH/.shown") [stdin open ${hold}s more]" "$@"
}

# _ctl_stdin TEXT: write TEXT to SCRATCH/.stdin and its here-document
# rendering to SCRATCH/.shown.
_ctl_stdin() {
  printf '%s' "$1" >"$SCRATCH/.stdin"
  printf '<<EOF\n%s\nEOF\n' "$1" | sed '1!s/^/  | /' >"$SCRATCH/.shown"
}

# ctl_file FILE ARGS...: run `etcdctl ARGS < FILE` (FILE relative to SCRATCH;
# only its name is shown, scenarios describe the content in a comment/section).
ctl_file() {
  local file=$1
  shift
  _ctl_record "$file" " < $(basename -- "$file")" "$@"
}

# ctl_quiet ARGS...: run etcdctl and print its stdout for use in $(...) without
# recording anything (e.g. to learn the current revision). Failures yield "".
ctl_quiet() {
  timeout "$CTL_TIMEOUT" "$CTL_BIN" --endpoints="${_ctl_ep:-$ENDPOINT}" "$@" </dev/null 2>/dev/null || true
}

# current_rev: the store revision from a Range response header. Scenarios use
# it to build compaction/--rev arguments instead of hard-coding numbers, so a
# revision bug shows up once (in the recorded outputs) rather than cascading.
current_rev() {
  local r
  r=$(ctl_quiet -w json get compat-probe-nonexistent-key |
    sed -nE 's/.*"revision":([0-9]+).*/\1/p')
  echo "${r:-0}"
}

# make_file NAME SIZE [CHAR]: create SCRATCH/NAME with SIZE bytes of CHAR
# (default "x"), no trailing newline. Used for request-size limits.
make_file() {
  local name=$1 size=$2 char=${3:-x}
  head -c "$size" /dev/zero | tr '\0' "$char" >"$SCRATCH/$name"
}

# metric_reaches NAME VALUE: wait (up to 20 s) until gauge NAME on the
# server's /metrics reads VALUE. Not recorded. Scenarios use it instead of a
# fixed sleep to learn that a watch they started is registered with the server
# (etcd_debugging_mvcc_watcher_total, etcd_debugging_store_watchers), which a
# loaded machine can delay past any sleep. On a timeout it returns 1 and the
# scenario goes on: the transcript then shows what went wrong.
metric_reaches() {
  local name=$1 want=$2 deadline=$((SECONDS + 20))
  until [[ $(curl -s --max-time 5 "http://$ENDPOINT/metrics" | sed -n "s/^$name //p") == "$want" ]]; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# last_stdout: stdout of the last recorded command (e.g. to reuse its output).
last_stdout() { cat -- "$SCRATCH/.stdout"; }

# check TEXT: record a fact the scenario derived itself ("[check] TEXT").
check() { printf '[check] %s\n\n' "$*"; }

# sorted CMD ARGS...: run a recording helper (ctl, ctl_at, ...) and mark the
# record so that its rows are sorted after masking (lib/normalize.awk): for
# outputs whose row order depends on random member ids or on timing.
sorted() {
  local _ctl_sorted=1
  "$@"
}

# retry_until_ok SECONDS CMD ARGS...: run a recording helper, repeating the
# etcdctl call (unrecorded) until it exits 0 or SECONDS have passed; only the
# last attempt is recorded. For outcomes that depend on replication progress
# (e.g. promoting a learner that is still catching up). Use only for commands
# whose failed attempts have no effect.
retry_until_ok() {
  local _ctl_retry=$1
  shift
  "$@"
}

# retry_until_output SECONDS REGEX CMD ARGS...: like retry_until_ok, but the
# output must also match the extended regex REGEX.
retry_until_output() {
  local _ctl_retry=$1 _ctl_match=$2
  shift 2
  "$@"
}

# ---------------------------------------------------------------------------
# Cluster helpers (only in scenarios with "# members: N").
#
# Members are referred to by their etcd name (m0, m1, ...; members the
# scenario adds get the names it chooses). In recorded command lines their
# ports and ids appear as real values; the masks file maps them to
# <CPORT:NAME>, <PPORT:NAME>, <ID:NAME>, <ID_HEX:NAME>.

declare -A CPORT=() PPORT=() PID=()
MEMBER_NAMES=()
if [[ -n ${CLUSTER_LAYOUT:-} ]]; then
  # shellcheck source=SCRIPTDIR/servers.sh
  source "$(dirname "${BASH_SOURCE[0]}")/servers.sh"
  for _m in $CLUSTER_LAYOUT; do
    IFS=: read -r _n _c _p _pid <<<"$_m"
    MEMBER_NAMES+=("$_n")
    CPORT[$_n]=$_c
    PPORT[$_n]=$_p
    PID[$_n]=$_pid
    # Ports the parent handed out are in use; never hand them out again here.
    PORTS_TAKEN[$_c]=1
    PORTS_TAKEN[$_p]=1
  done
  unset _m _n _c _p _pid
fi

# ep NAME: client endpoint of member NAME.
ep() { echo "127.0.0.1:${CPORT[$1]}"; }

# ctl_at NAME ARGS...: like ctl, but sent to member NAME (shown in the record).
ctl_at() {
  local _ctl_ep
  _ctl_ep=$(ep "$1")
  shift
  ctl "$@"
}

# quiet_at NAME ARGS...: ctl_quiet against member NAME.
quiet_at() {
  local _ctl_ep
  _ctl_ep=$(ep "$1")
  shift
  ctl_quiet "$@"
}

# add_mask KIND VALUE [LABEL]: append a line to the masks file (lib/mask.sh).
add_mask() { echo "$*" >>"$MASKS"; }

# member_id NAME: decimal id of member NAME (from the masks file), or "".
member_id() { awk -v n="$1" '$1 == "member" && $3 == n { print $2; exit }' "$MASKS"; }

# member_hex NAME: the id in hex, as etcdctl member commands take it.
member_hex() {
  local id
  id=$(member_id "$1")
  if [[ -n $id ]]; then printf '%x\n' "$id"; fi
}

# name_of_id DEC: member name for an id, or "id DEC" if unknown.
name_of_id() {
  local n
  n=$(awk -v i="$1" '$1 == "member" && $2 == i { print $3; exit }' "$MASKS")
  echo "${n:-id $1}"
}

# _member_rows: `member list -w json` (from m0, quietly) as lines
# "ID NAME PEER_URLS..." (NAME "-" for unstarted members).
_member_rows() {
  ctl_quiet -w json member list | sed -E 's/.*"members":\[//; s/\},\{/}\n{/g' |
    while IFS= read -r obj; do
      local id name peers
      id=$(sed -nE 's/.*"ID":([0-9]+).*/\1/p' <<<"$obj")
      name=$(sed -nE 's/.*"name":"([^"]*)".*/\1/p' <<<"$obj")
      peers=$(sed -nE 's/.*"peerURLs":\[([^]]*)\].*/\1/p' <<<"$obj" | tr -d '"' | tr ',' ' ')
      [[ -n $id ]] && echo "$id ${name:--} $peers"
    done
}

# register_member NAME: learn NAME's id (by its peer port, from member list)
# and add it to the masks. Needed for members the scenario adds.
register_member() {
  local name=$1 id rest
  while read -r id rest; do
    if [[ " $rest " == *":${PPORT[$name]} "* ]]; then
      add_mask member "$id" "$name"
      return 0
    fi
  done < <(_member_rows)
  echo "register_member: no member with peer port ${PPORT[$name]} for $name" >&2
  return 1
}

# alloc_port VAR LABEL: pick a free port into VAR and mask it as <LABEL>.
alloc_port() {
  take_free_port "$1"
  add_mask port "${!1}" "$2"
}

# alloc_member NAME: choose client and peer ports for a member the scenario
# will add (masked as <CPORT:NAME>, <PPORT:NAME>).
alloc_member() {
  local name=$1 _am_c _am_p
  alloc_port _am_c "CPORT:$name"
  alloc_port _am_p "PPORT:$name"
  CPORT[$name]=$_am_c
  PPORT[$name]=$_am_p
  MEMBER_NAMES+=("$name")
}

# start_joining_member NAME INITIAL_CLUSTER: start $SERVER_BIN as member NAME
# (ports from alloc_member) joining the running cluster: the same flags as the
# initial members, with --initial-cluster INITIAL_CLUSTER (as printed by
# `member add`) and --initial-cluster-state existing. Does not wait; run.sh
# stops it after the scenario (its pid is in CLUSTER_DIR/NAME/pid).
start_joining_member() {
  local name=$1 initial=$2
  launch_member "$name" "$SERVER_BIN" "$CLUSTER_DIR/$name" "${CPORT[$name]}" "${PPORT[$name]}" \
    --name "$name" --initial-cluster "$initial" \
    --initial-cluster-state existing --initial-cluster-token "$CLUSTER_TOKEN"
  PID[$name]=${MEMBER_PID[$name]}
  echo "${PID[$name]}" >"$CLUSTER_DIR/$name/pid"
}

# _status_view: asks every started member in `member list` (from m0) for its
# own `endpoint status` (sent to 127.0.0.1:PORT directly, not via --cluster,
# so that this check does not depend on what --cluster exercises). Sets _VIEW
# to "MEMBER -> LEADER" pairs, _NSTATUS to the number of members asked, and
# _LEADER to the leader's name if every member reports the same known,
# non-zero leader, else "".
_status_view() {
  local id name rest json mid lid i
  local -a names=() leaders=()
  _VIEW='' _LEADER='' _NSTATUS=0
  while read -r id name rest; do
    [[ $name != - && -n ${CPORT[$name]:-} ]] || continue
    json=$(quiet_at "$name" --dial-timeout=2s --command-timeout=3s -w json endpoint status)
    mid=$(sed -nE 's/.*"member_id":([0-9]+).*/\1/p' <<<"$json")
    lid=$(sed -nE 's/.*"leader":([0-9]+).*/\1/p' <<<"$json")
    names+=("$name")
    if [[ -z $mid ]]; then
      leaders+=("(no status)")
    elif [[ $(name_of_id "$mid") != "$name" ]]; then
      leaders+=("(status reports member $(name_of_id "$mid"))")
    else
      leaders+=("$(name_of_id "${lid:-0}")")
    fi
  done < <(_member_rows)
  _NSTATUS=${#names[@]}
  for i in "${!names[@]}"; do
    _VIEW+="${_VIEW:+, }${names[i]} -> ${leaders[i]}"
  done
  ((_NSTATUS)) || return 1
  for i in "${!leaders[@]}"; do
    [[ ${leaders[i]} == "${leaders[0]}" ]] || return 1
  done
  [[ ${leaders[0]} != "id "* && ${leaders[0]} != "("* ]] || return 1
  _LEADER=${leaders[0]}
}

# find_leader [SECONDS]: poll (quietly, default 20 s) until all members
# agree on a leader; sets _LEADER (empty on timeout) and _VIEW.
find_leader() {
  local deadline=$((SECONDS + ${1:-20}))
  until _status_view; do
    ((SECONDS < deadline)) || return 1
    sleep 0.3
  done
}

# check_leader: record which member leads, as agreed by all members'
# `endpoint status` (or what each member reports if they do not agree).
check_leader() {
  if find_leader 20; then
    check "leader: $_LEADER (agreed by all $_NSTATUS started members)"
  else
    check "leader: no agreement after 20 s: ${_VIEW:-no status}"
  fi
}

# check_one_leader: like check_leader, but without naming the leader (which
# member wins the first election is random): "[check] one leader, agreed by
# all N started members".
check_one_leader() {
  if find_leader 20; then
    check "one leader, agreed by all $_NSTATUS started members"
  else
    check "leader: no agreement after 20 s: ${_VIEW:-no status}"
  fi
}

# ensure_leader NAME: quietly make NAME the leader (move-leader sent to the
# current leader) so that later leader-dependent steps are deterministic.
# Not recorded; follow it with check_leader.
ensure_leader() {
  local want=$1 attempt _ctl_ep
  for attempt in 1 2 3 4 5; do
    find_leader 20 || continue
    [[ $_LEADER == "$want" ]] && return 0
    _ctl_ep=$(ep "$_LEADER")
    ctl_quiet move-leader "$(member_hex "$want")" >/dev/null
    sleep 0.5
  done
  return 1
}

# leader_name: the name of the current leader (quiet; m0 if none), for ctl_at.
leader_name() {
  find_leader 20
  echo "${_LEADER:-m0}"
}

# wait_member_status NAME [SECONDS]: quietly wait until member NAME's own
# `endpoint status` reports a (non-zero) leader, e.g. after it joined.
wait_member_status() {
  local name=$1 deadline=$((SECONDS + ${2:-30}))
  while ((SECONDS < deadline)); do
    if quiet_at "$name" -w json endpoint status | grep -Eq '"leader":[1-9]'; then
      return 0
    fi
    sleep 0.3
  done
  return 1
}

# wait_member_started NAME [SECONDS]: quietly wait until `member list` (from
# m0) shows member NAME with its name published (i.e. not "unstarted").
wait_member_started() {
  local name=$1 deadline=$((SECONDS + ${2:-30})) id n rest
  while ((SECONDS < deadline)); do
    while read -r id n rest; do
      if [[ $n == "$name" ]]; then return 0; fi
    done < <(_member_rows)
    sleep 0.3
  done
  return 1
}

# settle_cluster SECONDS: wait until the cluster has been healthy for
# SECONDS. etcd (strict reconfig check) rejects member add with "unhealthy
# cluster" until all peers have been connected for 5 s.
settle_cluster() {
  local until=$((CLUSTER_READY_AT + $1)) now
  now=$(date +%s)
  if ((now < until)); then sleep "$((until - now))"; fi
}

# _proc_gone PID: the process no longer exists (or is a zombie).
_proc_gone() {
  local state
  [[ -r /proc/$1/stat ]] || return 0
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Za-z]).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 0
  [[ -z $state || $state == Z || $state == X ]]
}

# check_removed_exits NAME SECONDS: record whether member NAME's server
# process exits within SECONDS after it was removed from the cluster (etcd's
# members stop themselves). Also tells run.sh not to expect NAME alive.
check_removed_exits() {
  local name=$1 secs=$2 deadline
  echo "$name" >>"$CLUSTER_DIR/removed"
  deadline=$((SECONDS + secs))
  while ! _proc_gone "${PID[$name]}"; do
    if ((SECONDS >= deadline)); then
      check "removed member $name's server process still running after $secs s"
      return 0
    fi
    sleep 0.2
  done
  check "removed member $name's server process exited (within $secs s)"
}

# ---------------------------------------------------------------------------
# v2 helpers (scenarios with "# server-flags: --enable-v2").

# v2 ARGS...: run `ETCDCTL_API=2 etcdctl ARGS` against the member (recorded
# like ctl; the endpoint needs a scheme in v2 mode).
v2() {
  local _ctl_ep="http://${_v2_ep:-$ENDPOINT}"
  ETCDCTL_API=2 _ctl_record /dev/null '' "$@"
}

# http METHOD PATH [CURL_ARGS...]: a raw HTTP request to the client port.
# Records the status line, the headers clients read (lowercased, sorted) and
# the body, so status codes, v2 and CORS headers and JSON shapes are compared.
http() {
  local method=$1 path=$2 raw=$SCRATCH/.http
  shift 2
  # curl -X HEAD would wait for the body a Content-Length announces; --head does not.
  local verb=(-X "$method")
  [[ $method == HEAD ]] && verb=(--head)
  curl -s -i --max-time "$CTL_TIMEOUT" "${verb[@]}" "http://$ENDPOINT$path" "$@" >"$raw" || true
  printf '$ curl -X %s %q%s\n' "$method" "$path" "$( (($#)) && printf ' %q' "$@")"
  tr -d '\r' <"$raw" | awk '
    NR == 1 { print; next }
    !body && /^$/ { body = 1; n = asort_headers(); next }
    !body {
      name = tolower(substr($0, 1, index($0, ":") - 1))
      if (name ~ /^(content-type|x-content-type-options|x-etcd-index|x-etcd-cluster-id|x-raft-index|x-raft-term|allow|access-control-allow-(origin|methods|headers))$/)
        hdr[++h] = name ": " substr($0, index($0, ":") + 2)
      next
    }
    { print }
    function asort_headers(   i, j, t) {
      for (i = 1; i <= h; i++) for (j = i + 1; j <= h; j++) if (hdr[j] < hdr[i]) { t = hdr[i]; hdr[i] = hdr[j]; hdr[j] = t }
      for (i = 1; i <= h; i++) print hdr[i]
      print "[body]"
    }' >"$SCRATCH/.stdout"
  _ctl_dump "$SCRATCH/.stdout"
  printf '\n'
}

# v2_index: the current v2 store index (X-Etcd-Index of a GET of the root).
v2_index() {
  curl -s -I --max-time 5 "http://$ENDPOINT/v2/keys/" | tr -d '\r' |
    sed -nE 's/^[Xx]-[Ee]tcd-[Ii]ndex: *([0-9]+)$/\1/p'
}
