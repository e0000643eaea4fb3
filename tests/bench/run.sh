#!/usr/bin/env bash
# Side-by-side benchmark: etcd-rs vs. real etcd 3.4, same loads, same machine.
#
# Usage: tests/bench/run.sh [--members 1|3] [--suite single|cluster] [--etcd-rs PATH]
#                           [--bench PATH] [--out FILE] [--append] [--quick] [--keep]
#
#   --members N     members per server: 1 (default) or 3 (a static 3-member cluster)
#   --suite NAME    load set: `single` (put and linearizable range, 1 and 64 clients;
#                   default with --members 1) or `cluster` (put with 1/64/256 clients,
#                   linearizable and serializable range with 64; default with --members 3)
#   --etcd-rs PATH  server under test (default: <repo>/target/release/etcd-rs)
#   --bench PATH    load tool (default: <repo>/target/release/etcd-rs-bench)
#   --out FILE      Markdown report (default: <repo>/BENCHMARKS.md)
#   --append        append this run's section to FILE instead of replacing FILE
#                   (tests/bench/all.sh uses it to put both suites in one report)
#   --quick         divide all request totals by 10 (smoke run)
#   --keep          keep the scratch directory (server logs, raw outputs)
#
# Each server (etcd first, then etcd-rs) is started fresh on free 127.0.0.1
# ports with the same etcd-style flags (a single member, or N members
# bootstrapped with the same member names and --initial-cluster-token), and
# gets the same sequence of loads, sent to the client URLs of all its members;
# the resident memory of every member is sampled when idle and after the
# loads (before those that open 100,000 watchers), and the CPU time (user +
# system) of the members and of the load tool around every load; then the
# server is stopped before the other one runs so they never compete for the
# (few) CPUs. The report section contains throughput/latency
# per load with the etcd-rs/etcd ratio, the memory comparison (per member:
# average and max over the members), which targets are met, and the raw JSON.
#
# Exit status: 0 ok, 1 some load failed or etcd-rs did not start (report still
# written), 2 harness error (including: the reference etcd did not start).
# Environment knobs: BENCH_LOAD_TIMEOUT (s per load, 900), MEMBER_START_TIMEOUT (s, 60).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# Server start/stop, free ports, apt installs: shared with the compat suite.
# shellcheck source=SCRIPTDIR/../compat/lib/servers.sh
source "$HERE/../compat/lib/servers.sh"

ROOT=$(repo_root)
SUT_BIN=$ROOT/target/release/etcd-rs
BENCH_BIN=$ROOT/target/release/etcd-rs-bench
OUT=$ROOT/BENCHMARKS.md
APPEND=0
QUICK=0
KEEP=0
MEMBERS=1
SUITE=
# Same token for both servers, so their bootstrap flags are identical.
CLUSTER_TOKEN=etcd-rs-bench
# Per-load wall-clock limit, so a stuck server cannot hang CI forever.
LOAD_TIMEOUT=${BENCH_LOAD_TIMEOUT:-900}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

need_arg() { [[ $2 -ge 2 ]] || die "$1 needs an argument"; }
while (($#)); do
  case $1 in
    --etcd-rs) need_arg "$1" $#; SUT_BIN=$2; shift 2 ;;
    --etcd-rs=*) SUT_BIN=${1#*=}; shift ;;
    --bench) need_arg "$1" $#; BENCH_BIN=$2; shift 2 ;;
    --bench=*) BENCH_BIN=${1#*=}; shift ;;
    --out) need_arg "$1" $#; OUT=$2; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --members) need_arg "$1" $#; MEMBERS=$2; shift 2 ;;
    --members=*) MEMBERS=${1#*=}; shift ;;
    --suite) need_arg "$1" $#; SUITE=$2; shift 2 ;;
    --suite=*) SUITE=${1#*=}; shift ;;
    --append) APPEND=1; shift ;;
    --quick) QUICK=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

case $MEMBERS in
  1|3) ;;
  *) die "--members must be 1 or 3, not: $MEMBERS" ;;
esac
if [[ -z $SUITE ]]; then
  if ((MEMBERS == 1)); then SUITE=single; else SUITE=cluster; fi
fi
case $SUITE in
  single|cluster) ;;
  *) die "--suite must be single or cluster, not: $SUITE" ;;
esac

# abspath FILE: absolute path of an existing file (no realpath dependency).
abspath() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
[[ -x $SUT_BIN ]] || die "etcd-rs binary not found/executable: $SUT_BIN (cargo build --release, or --etcd-rs PATH)"
[[ -x $BENCH_BIN ]] || die "bench tool not found/executable: $BENCH_BIN (cargo build --release, or --bench PATH)"
SUT_BIN=$(abspath "$SUT_BIN")
BENCH_BIN=$(abspath "$BENCH_BIN")
mkdir -p "$(dirname "$OUT")"
OUT=$(cd "$(dirname "$OUT")" && pwd)/$(basename "$OUT")

sanitize_env
ensure_etcd_tools
command -v python3 >/dev/null 2>&1 || apt_install python3

# Scratch directory and EXIT/INT/TERM traps that stop the servers (lib/servers.sh).
init_workdir etcd-rs-bench
# The v2 loads need etcd 3.4's v2 API, which is off by default there (etcd-rs
# serves it by default and accepts the flag).
SERVER_FLAGS=(--enable-v2)
command -v curl >/dev/null 2>&1 || apt_install curl

# ---- the loads --------------------------------------------------------------
# Totals are the full-run values; --quick divides them by 10.
div=1
((QUICK)) && div=10
RANGE_KEY=bench-range-key
PUT_ARGS="--key-size 8 --val-size 256 --key-space-size 100000"
V2_SET_ARGS="--val-size 256 --key-space-size 100000"
# Every load once; a suite picks its loads (and their order) by name.
declare -A LOAD_DESC=(
  [put-1]="put, 1 client / 1 connection, 8-byte keys, 256-byte values"
  [put-64]="put, 64 clients / 8 connections, 8-byte keys, 256-byte values"
  [put-64-w]="put-64 while 100,000 idle watchers (on keys nobody writes) are open on the same connections"
  [put-256]="put, 256 clients / 16 connections, 8-byte keys, 256-byte values"
  [range-1]="linearizable range of one key, 1 client / 1 connection"
  [range-64]="linearizable range of one key, 64 clients / 8 connections"
  [range-l-64]="linearizable range of one key, 64 clients / 8 connections"
  [range-s-64]="serializable range of one key, 64 clients / 8 connections"
  [v2-set-1]="v2 set (PUT /v2/keys), 1 client, 256-byte values"
  [v2-set-64]="v2 set (PUT /v2/keys), 64 clients, 256-byte values"
  [v2-get-64]="v2 get of one key (local read), 64 clients"
  [v2-get-q-64]="v2 get of one key with quorum=true, 64 clients"
  [watch-fanout]="watch fan-out: 200 watchers on one key (10 streams), 2,000 puts; events/s, put-to-event latency"
  [lease-cycle-64]="lease grant + put with the lease + revoke, 64 clients / 8 connections"
  [lease-keepalive-64]="lease keep-alive round trips, 64 clients each with its own lease and stream"
  [watch-idle]="100,000 idle watchers on one member: server memory per watcher (bytes_per_watcher)"
)
declare -A LOAD_ARGS=(
  [put-1]="--conns 1 --clients 1 put --total $((2000 / div)) $PUT_ARGS"
  [put-64]="--conns 8 --clients 64 put --total $((20000 / div)) $PUT_ARGS"
  [put-64-w]="--conns 8 --clients 64 put --total $((20000 / div)) $PUT_ARGS --idle-watchers $((100000 / div))"
  [put-256]="--conns 16 --clients 256 put --total $((40000 / div)) $PUT_ARGS"
  [range-1]="--conns 1 --clients 1 range $RANGE_KEY --total $((2000 / div)) --consistency l"
  [range-64]="--conns 8 --clients 64 range $RANGE_KEY --total $((20000 / div)) --consistency l"
  [range-l-64]="--conns 8 --clients 64 range $RANGE_KEY --total $((20000 / div)) --consistency l"
  [range-s-64]="--conns 8 --clients 64 range $RANGE_KEY --total $((20000 / div)) --consistency s"
  [v2-set-1]="--clients 1 v2-set --total $((2000 / div)) $V2_SET_ARGS"
  [v2-set-64]="--clients 64 v2-set --total $((20000 / div)) $V2_SET_ARGS"
  [v2-get-64]="--clients 64 v2-get /$RANGE_KEY --total $((20000 / div))"
  [v2-get-q-64]="--clients 64 v2-get /$RANGE_KEY --total $((20000 / div)) --quorum"
  [watch-fanout]="--conns 10 watch-fanout --watchers 200 --puts $((2000 / div)) --val-size 256"
  [lease-cycle-64]="--conns 8 --clients 64 lease-cycle --total $((5000 / div))"
  [lease-keepalive-64]="--conns 8 --clients 64 lease-keepalive --total $((20000 / div))"
  [watch-idle]="--conns 10 watch-idle --watchers $((100000 / div))"
)
if [[ $SUITE == single ]]; then
  # watch-idle before put-64-w: a heap that has just held 100,000 watchers has
  # room for the next 100,000, and watch-idle would measure little growth.
  LOAD_NAMES=(put-1 put-64 range-1 range-64 v2-set-1 v2-set-64 v2-get-64 v2-get-q-64
    watch-fanout lease-cycle-64 lease-keepalive-64 watch-idle put-64-w)
else
  # The cluster set: write scaling from 1 to 256 clients, and both read paths
  # (a linearizable read needs the leader's confirmation; a serializable one
  # is answered by whichever member receives it).
  LOAD_NAMES=(put-1 put-64 put-256 range-l-64 range-s-64 v2-set-64 v2-get-64 v2-get-q-64
    watch-fanout lease-cycle-64 lease-keepalive-64 watch-idle)
fi

RESULTS=$WORK/results.jsonl
CLK_TCK=$(getconf CLK_TCK)
RSS=$WORK/rss.jsonl
CLUSTER_STATUS=$WORK/cluster.jsonl
: >"$RESULTS"
: >"$RSS"
: >"$CLUSTER_STATUS"
FAILED=0

# record_result SERVER LOAD RC STDOUT_FILE STDERR_FILE SERVER_CPU_S TOOL_CPU_S:
# validate the tool's output (exactly one JSON object) and append a row to
# results.jsonl, with the CPU seconds the members and the load tool spent.
record_result() {
  python3 - "$@" >>"$RESULTS" <<'PY'
import json, sys
server, load, rc, out_path, err_path, server_cpu, tool_cpu = sys.argv[1:8]
row = {"server": server, "load": load, "ok": False, "error": None, "result": None,
       "cpu_s": {"servers": float(server_cpu), "load_tool": float(tool_cpu)}}
text = open(out_path, encoding="utf-8", errors="replace").read().strip()
err = open(err_path, encoding="utf-8", errors="replace").read().strip()
try:
    obj = json.loads(text)
    if not isinstance(obj, dict):
        raise ValueError("not a JSON object")
    row["result"] = obj
except ValueError as e:
    row["error"] = f"unparsable output ({e}): {text[:200]!r}"
if rc != "0":
    tail = " | ".join(err.splitlines()[-3:])
    row["error"] = f"exit status {rc}" + (f": {tail}" if tail else "")
elif row["result"] is not None:
    row["ok"] = True
print(json.dumps(row))
PY
}

# server_cpu_ticks: user + system CPU time of every member of the current
# server so far, in clock ticks (fields 14 and 15 of /proc/PID/stat).
server_cpu_ticks() {
  local m total=0 t
  for m in "${SRV_MEMBERS[@]}"; do
    t=$(awk '{print $14 + $15}' "/proc/${MEMBER_PID[$m]}/stat" 2>/dev/null || echo 0)
    total=$((total + t))
  done
  echo "$total"
}

# run_timed OUT ERR CMD...: run CMD (stdin from /dev/null) with its stdout and
# stderr in files; sets RUN_RC to its exit status and RUN_CPU_S to the CPU
# time (user + system, seconds) of CMD and its children, from bash's `times`
# in the subshell that waited for them.
run_timed() {
  local out=$1 err=$2 t
  shift 2
  t=$(
    "$@" </dev/null >"$out" 2>"$err"
    echo "$?"
    times
  )
  RUN_RC=$(sed -n 1p <<<"$t")
  RUN_CPU_S=$(sed -n 3p <<<"$t" | awk '{
    s = 0
    for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); s += a[1] * 60 + a[2] }
    printf "%.3f", s }')
}

# record_failure SERVER LOAD MESSAGE: a results row for a load that could not
# run at all (server did not start, or a member died earlier).
record_failure() {
  python3 -c 'import json, sys
print(json.dumps({"server": sys.argv[1], "load": sys.argv[2], "ok": False,
                  "error": sys.argv[3], "result": None}))' "$@" >>"$RESULTS"
}

# sample_rss SERVER PHASE: VmRSS/VmHWM and data dir size of every member of
# SERVER (listed in SRV_MEMBERS), one row per member.
sample_rss() {
  local server=$1 phase=$2 m pid rss hwm dd
  for m in "${SRV_MEMBERS[@]}"; do
    pid=${MEMBER_PID[$m]}
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    dd=$(du -sk "${MEMBER_DIR[$m]}/data" 2>/dev/null | awk '{print $1}' || true)
    printf '{"server":"%s","member":"%s","phase":"%s","pid":%s,"VmRSS_kB":%s,"VmHWM_kB":%s,"data_dir_kB":%s}\n' \
      "$server" "$m" "$phase" "$pid" "${rss:-null}" "${hwm:-null}" "${dd:-null}" >>"$RSS"
    log "$m $phase: VmRSS ${rss:-?} kB, VmHWM ${hwm:-?} kB, data dir ${dd:-?} kB"
  done
}

# sample_status SERVER PHASE: leader and raft term as each member reports them
# (`etcdctl endpoint status`), so the report can show whether leadership
# changed during the loads (an election under load stalls writes and would
# explain outliers).
sample_status() {
  local server=$1 phase=$2 json
  json=$("$CTL_BIN" --endpoints="$SRV_ENDPOINTS" --dial-timeout=2s --command-timeout=5s \
    -w json endpoint status 2>/dev/null) || true
  python3 - "$server" "$phase" "$json" >>"$CLUSTER_STATUS" <<'PY'
import json, sys
server, phase, text = sys.argv[1:4]
row = {"server": server, "phase": phase, "answered": 0, "leaders": [], "raft_terms": []}
try:
    for ep in json.loads(text or "[]"):
        st = ep.get("Status") or {}
        row["answered"] += 1
        row["leaders"].append(st.get("leader"))
        row["raft_terms"].append((st.get("header") or {}).get("raft_term"))
except (ValueError, AttributeError, TypeError):
    pass
print(json.dumps(row))
PY
}

# members_alive: true if every member of the current server still runs;
# otherwise sets DEAD_MEMBER and shows that member's log tail.
members_alive() {
  local m
  for m in "${SRV_MEMBERS[@]}"; do
    if ! kill -0 "${MEMBER_PID[$m]}" 2>/dev/null; then
      DEAD_MEMBER=$m
      log "member $m died; log tail:"
      tail -n 20 "${MEMBER_LOG[$m]}" >&2 || true
      return 1
    fi
  done
}

# bench_server KEY BINARY: full cycle for one server (single member or
# cluster). A reference etcd that does not start is a harness error; an
# etcd-rs that does not start fails every load and the report is still written.
bench_server() {
  local key=$1 bin=$2 load rc out err m ticks started=0 sampled=0
  if ((MEMBERS == 1)); then
    start_member "$key" "$bin" "$WORK/$key" && started=1
    SRV_MEMBERS=("$key")
  else
    start_cluster "$key" "$bin" "$WORK/$key" "$MEMBERS" "$CLUSTER_TOKEN" && started=1
    read -ra SRV_MEMBERS <<<"${CLUSTER_MEMBERS[$key]:-}"
  fi
  if ((!started)); then
    [[ $key != etcd ]] || die "$key did not start (logs under $WORK/$key)"
    log "$key did not start; all its loads count as failed"
    for load in "${LOAD_NAMES[@]}"; do
      record_failure "$key" "$load" "server did not start ($MEMBERS member(s))"
    done
    FAILED=1
    return 0
  fi
  # All client URLs: the load tool balances every connection over them.
  SRV_ENDPOINTS=
  for m in "${SRV_MEMBERS[@]}"; do
    SRV_ENDPOINTS+="${SRV_ENDPOINTS:+,}127.0.0.1:${MEMBER_CPORT[$m]}"
  done
  # The range loads read one existing key with a value like the put loads'.
  "$CTL_BIN" --endpoints="$SRV_ENDPOINTS" put "$RANGE_KEY" \
    "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null || die "could not seed $RANGE_KEY on $key"
  # And the v2 loads one v2 key of the same name and size.
  curl -sf -o /dev/null -X PUT "http://127.0.0.1:${MEMBER_CPORT[${SRV_MEMBERS[0]}]}/v2/keys/$RANGE_KEY" \
    --data-urlencode "value=$(head -c 256 /dev/zero | tr '\0' v)" || die "could not seed v2 $RANGE_KEY on $key"
  sample_rss "$key" idle
  ((MEMBERS == 1)) || sample_status "$key" start
  # Unrecorded warm-up (connection setup, first allocations, page cache), so
  # the first measured load is not penalised relative to the others. One
  # client per member, so that every member's client path is likely warmed.
  # PUT_ARGS is a fixed string defined above; word splitting intended.
  # shellcheck disable=SC2086
  timeout "$LOAD_TIMEOUT" "$BENCH_BIN" --endpoints "$SRV_ENDPOINTS" \
    --conns 1 --clients "$MEMBERS" put --total "$((1000 / div))" $PUT_ARGS \
    </dev/null >/dev/null 2>"$WORK/$key.warmup.stderr" ||
    log "$key: warm-up failed (ignored): $(tail -n 1 "$WORK/$key.warmup.stderr")"
  DEAD_MEMBER=
  for load in "${LOAD_NAMES[@]}"; do
    if [[ -n $DEAD_MEMBER ]]; then
      record_failure "$key" "$load" "not run: member $DEAD_MEMBER had died"
      continue
    fi
    out=$WORK/$key.$load.json
    err=$WORK/$key.$load.stderr
    log "$key: $load"
    # watch-idle reads one member's memory: it talks to that member only.
    endpoints=$SRV_ENDPOINTS extra=()
    # The memory after the loads is sampled before the loads with 100,000 idle
    # watchers: they would swamp both servers' after-load and peak figures, and
    # watch-idle measures what they cost. (That many, so that what a heap holds
    # spare from the earlier loads is small beside what they need.)
    if [[ ($load == watch-idle || $load == put-64-w) && $sampled == 0 ]]; then
      sample_rss "$key" after
      sampled=1
    fi
    if [[ $load == watch-idle ]]; then
      endpoints=127.0.0.1:${MEMBER_CPORT[${SRV_MEMBERS[0]}]}
      extra=(--server-pid "${MEMBER_PID[${SRV_MEMBERS[0]}]}")
    fi
    ticks=$(server_cpu_ticks)
    # LOAD_ARGS values are fixed strings defined above; word splitting intended.
    # shellcheck disable=SC2086
    run_timed "$out" "$err" timeout "$LOAD_TIMEOUT" "$BENCH_BIN" --endpoints "$endpoints" \
      ${LOAD_ARGS[$load]} "${extra[@]}"
    rc=$RUN_RC
    ticks=$(($(server_cpu_ticks) - ticks))
    record_result "$key" "$load" "$rc" "$out" "$err" \
      "$(awk -v t="$ticks" -v hz="$CLK_TCK" 'BEGIN { printf "%.2f", t / hz }')" "$RUN_CPU_S"
    if ((rc != 0)); then
      FAILED=1
      log "$key: $load failed with exit status $rc; stderr tail:"
      tail -n 5 "$err" >&2 || true
    fi
    if ! members_alive; then
      log "$key: member $DEAD_MEMBER died during $load"
      FAILED=1
    fi
  done
  # After a death the survivors' numbers would describe a different cluster.
  if [[ -z $DEAD_MEMBER ]]; then
    ((sampled)) || sample_rss "$key" after
    ((MEMBERS == 1)) || sample_status "$key" after
  fi
  if ((MEMBERS == 1)); then stop_member "$key"; else stop_cluster "$key"; fi
}

# ---- environment description ----------------------------------------------
# first_line CMD...: first output line of a version query; the timeout guards
# against a binary that ignores --version and starts serving instead.
first_line() {
  local o
  o=$(timeout 10 "$@" </dev/null 2>/dev/null) || o=
  head -n 1 <<<"$o"
}
REF_VERSION=$(first_line "$REF_ETCD_BIN" --version | sed 's/^etcd Version: //')
SUT_VERSION=$(first_line "$SUT_BIN" --version)
BENCH_VERSION=$(first_line "$BENCH_BIN" --version)
GIT_REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "no commit")
if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -n 1) ]]; then
  GIT_REV="$GIT_REV (working tree modified)"
fi

# Loads as TSV (name, description, arguments) for the report generator.
for load in "${LOAD_NAMES[@]}"; do
  printf '%s\t%s\t%s\n' "$load" "${LOAD_DESC[$load]}" "${LOAD_ARGS[$load]}"
done >"$WORK/loads.tsv"

CTL_VERSION=$(first_line "$CTL_BIN" version | sed 's/^etcdctl version: //')
# The endpoint list as the report shows it in the load commands.
EP_FORM=127.0.0.1:PORT
if ((MEMBERS > 1)); then
  EP_FORM=
  for ((i = 1; i <= MEMBERS; i++)); do EP_FORM+="${EP_FORM:+,}127.0.0.1:PORT$i"; done
fi
python3 - "$WORK/meta.json" "$WORK/loads.tsv" "$QUICK" "$REF_VERSION" "$CTL_VERSION" \
  "${SUT_VERSION:-unknown}" "${BENCH_VERSION:-unknown}" "$GIT_REV" "$SUT_BIN" "$BENCH_BIN" \
  "$SUITE" "$MEMBERS" "$EP_FORM" "$CLUSTER_TOKEN" <<'PY'
import datetime, json, os, platform, sys
(meta_path, loads_path, quick, ref_version, ctl_version,
 sut_version, bench_version, git_rev, sut_bin, bench_bin,
 suite, members, ep_form, token) = sys.argv[1:15]

def first(path, key):
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"

mem = first("/proc/meminfo", "MemTotal")
try:
    mem = f"{int(mem.split()[0]) / 1024 / 1024:.1f} GiB"
except ValueError:
    pass
loads = []
with open(loads_path, encoding="utf-8") as f:
    for line in f:
        name, desc, args = line.rstrip("\n").split("\t")
        loads.append({"name": name, "description": desc,
                      "command": f"--endpoints {ep_form} " + args})
meta = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "mode": "quick (totals / 10)" if quick == "1" else "full",
    "suite": suite,
    "members": int(members),
    "cluster_token": token if int(members) > 1 else None,
    "invocation": f"tests/bench/run.sh --members {members} --suite {suite}"
                  + (" --quick" if quick == "1" else ""),
    "machine": {
        "cpu_model": first("/proc/cpuinfo", "model name"),
        "nproc": os.cpu_count(),
        "memory": mem,
        "kernel": platform.release(),
    },
    "versions": {
        "etcd (reference)": ref_version,
        "etcdctl (seeding only)": ctl_version,
        "etcd-rs": f"{sut_version} (`{os.path.basename(sut_bin)}`)",
        "etcd-rs-bench": f"{bench_version} (`{os.path.basename(bench_bin)}`)",
        "etcd-rs git revision": git_rev,
    },
    "servers": [
        {"key": "etcd", "label": "etcd"},
        {"key": "etcd-rs", "label": "etcd-rs"},
    ],
    "loads": loads,
}
with open(meta_path, "w", encoding="utf-8") as f:
    json.dump(meta, f, indent=1)
PY

# ---- run ---------------------------------------------------------------------
log "suite $SUITE, $MEMBERS member(s), mode: $( ((QUICK)) && echo quick || echo full ); report: $OUT$( ((APPEND)) && echo ' (appending)')"
bench_server etcd "$REF_ETCD_BIN"
bench_server etcd-rs "$SUT_BIN"

append=()
((APPEND)) && append=(--append)
python3 "$HERE/report.py" --meta "$WORK/meta.json" --results "$RESULTS" --rss "$RSS" \
  --cluster-status "$CLUSTER_STATUS" --out "$OUT" "${append[@]}"
log "report written to $OUT"

# Short summary on stdout for CI logs; exits 1 if any load has no valid result
# (non-zero exit status or output that is not one JSON object) or if more than
# 1% of a load's requests failed (its numbers would be meaningless).
summary_rc=0
python3 - "$RESULTS" <<'PY' || summary_rc=$?
import json, sys
bad = 0
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    res = r.get("result") or {}
    lat = res.get("latency_ms") or {}
    status = "ok" if r["ok"] else "FAILED: " + str(r.get("error"))
    print(f"{r['server']:8} {r['load']:10} throughput={res.get('throughput', 'n/a')} "
          f"p50={lat.get('p50', 'n/a')} p99={lat.get('p99', 'n/a')} errors={res.get('errors', 'n/a')} {status}")
    errs, total = res.get("errors") or 0, res.get("total") or 0
    if r["ok"] and errs and errs > 0.01 * max(total, 1):
        print(f"  -> {r['server']} {r['load']}: {errs} of {total} requests failed")
        bad += 1
    bad += not r["ok"]
sys.exit(1 if bad else 0)
PY

if ((FAILED || summary_rc)); then
  log "some loads failed; see the report"
  exit 1
fi
