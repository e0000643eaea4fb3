#!/usr/bin/env bash
# Side-by-side benchmark: etcd-rs vs. real etcd 3.4, same loads, same machine.
#
# Usage: tests/bench/run.sh [--etcd-rs PATH] [--bench PATH] [--out FILE] [--quick] [--keep]
#
#   --etcd-rs PATH  server under test (default: <repo>/target/release/etcd-rs)
#   --bench PATH    load tool (default: <repo>/target/release/etcd-rs-bench)
#   --out FILE      Markdown report (default: <repo>/BENCHMARKS.md)
#   --quick         divide all request totals by 10 (smoke run)
#   --keep          keep the scratch directory (server logs, raw outputs)
#
# Each server (etcd first, then etcd-rs) is started as a fresh single member
# on free 127.0.0.1 ports, with the same etcd-style flags, and gets the same
# sequence of loads; its resident memory is sampled when idle and after the
# loads; then it is stopped before the other one runs so they never compete
# for the (few) CPUs. The report contains throughput/latency per load with the
# etcd-rs/etcd ratio, the memory comparison and the raw JSON of every run.
#
# Exit status: 0 ok, 1 some load failed (report still written), 2 harness error.
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
QUICK=0
KEEP=0
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
    --quick) QUICK=1; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done

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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/etcd-rs-bench.XXXXXX")
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
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- the loads --------------------------------------------------------------
# Totals are the full-run values; --quick divides them by 10.
div=1
((QUICK)) && div=10
RANGE_KEY=bench-range-key
LOAD_NAMES=(put-1 put-64 range-1 range-64)
declare -A LOAD_DESC=(
  [put-1]="put, 1 client / 1 connection, 8-byte keys, 256-byte values"
  [put-64]="put, 64 clients / 8 connections, 8-byte keys, 256-byte values"
  [range-1]="linearizable range of one key, 1 client / 1 connection"
  [range-64]="linearizable range of one key, 64 clients / 8 connections"
)
declare -A LOAD_ARGS=(
  [put-1]="--conns 1 --clients 1 put --total $((2000 / div)) --key-size 8 --val-size 256 --key-space-size 100000"
  [put-64]="--conns 8 --clients 64 put --total $((20000 / div)) --key-size 8 --val-size 256 --key-space-size 100000"
  [range-1]="--conns 1 --clients 1 range $RANGE_KEY --total $((2000 / div)) --consistency l"
  [range-64]="--conns 8 --clients 64 range $RANGE_KEY --total $((20000 / div)) --consistency l"
)

RESULTS=$WORK/results.jsonl
RSS=$WORK/rss.jsonl
: >"$RESULTS"
: >"$RSS"
FAILED=0

# record_result SERVER LOAD RC STDOUT_FILE STDERR_FILE: validate the tool's
# output (exactly one JSON object) and append a row to results.jsonl.
record_result() {
  python3 - "$@" >>"$RESULTS" <<'PY'
import json, sys
server, load, rc, out_path, err_path = sys.argv[1:6]
row = {"server": server, "load": load, "ok": False, "error": None, "result": None}
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

# sample_rss SERVER PHASE: VmRSS/VmHWM of the server process, data dir size.
sample_rss() {
  local server=$1 phase=$2 pid rss hwm dd
  pid=${MEMBER_PID[$server]}
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
  dd=$(du -sk "${MEMBER_DIR[$server]}/data" 2>/dev/null | awk '{print $1}' || true)
  printf '{"server":"%s","phase":"%s","pid":%s,"VmRSS_kB":%s,"VmHWM_kB":%s,"data_dir_kB":%s}\n' \
    "$server" "$phase" "$pid" "${rss:-null}" "${hwm:-null}" "${dd:-null}" >>"$RSS"
  log "$server $phase: VmRSS ${rss:-?} kB, VmHWM ${hwm:-?} kB, data dir ${dd:-?} kB"
}

# bench_server KEY BINARY: full cycle for one server.
bench_server() {
  local key=$1 bin=$2 load rc out err
  start_member "$key" "$bin" "$WORK/$key" || die "$key did not start (log: ${MEMBER_LOG[$key]})"
  # The range loads read one existing key with a value like the put loads'.
  "$CTL_BIN" --endpoints="127.0.0.1:${MEMBER_CPORT[$key]}" put "$RANGE_KEY" \
    "$(head -c 256 /dev/zero | tr '\0' v)" >/dev/null || die "could not seed $RANGE_KEY on $key"
  sample_rss "$key" idle
  # Unrecorded warm-up (connection setup, first allocations, page cache), so
  # the first measured load is not penalised relative to the others.
  timeout "$LOAD_TIMEOUT" "$BENCH_BIN" --endpoints "127.0.0.1:${MEMBER_CPORT[$key]}" \
    --conns 1 --clients 1 put --total "$((1000 / div))" --key-size 8 --val-size 256 \
    --key-space-size 100000 </dev/null >/dev/null 2>"$WORK/$key.warmup.stderr" ||
    log "$key: warm-up failed (ignored): $(tail -n 1 "$WORK/$key.warmup.stderr")"
  for load in "${LOAD_NAMES[@]}"; do
    out=$WORK/$key.$load.json
    err=$WORK/$key.$load.stderr
    log "$key: $load"
    rc=0
    # LOAD_ARGS values are fixed strings defined above; word splitting intended.
    # shellcheck disable=SC2086
    timeout "$LOAD_TIMEOUT" "$BENCH_BIN" --endpoints "127.0.0.1:${MEMBER_CPORT[$key]}" \
      ${LOAD_ARGS[$load]} </dev/null >"$out" 2>"$err" || rc=$?
    record_result "$key" "$load" "$rc" "$out" "$err"
    if ((rc != 0)); then
      FAILED=1
      log "$key: $load failed with exit status $rc; stderr tail:"
      tail -n 5 "$err" >&2 || true
    fi
    if ! kill -0 "${MEMBER_PID[$key]}" 2>/dev/null; then
      log "$key died during $load; log tail:"
      tail -n 20 "${MEMBER_LOG[$key]}" >&2 || true
      FAILED=1
      return 0
    fi
  done
  sample_rss "$key" after
  stop_member "$key"
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
python3 - "$WORK/meta.json" "$WORK/loads.tsv" "$QUICK" "$REF_VERSION" "$CTL_VERSION" \
  "${SUT_VERSION:-unknown}" "${BENCH_VERSION:-unknown}" "$GIT_REV" "$SUT_BIN" "$BENCH_BIN" <<'PY'
import datetime, json, os, platform, sys
(meta_path, loads_path, quick, ref_version, ctl_version,
 sut_version, bench_version, git_rev, sut_bin, bench_bin) = sys.argv[1:11]

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
                      "command": "--endpoints 127.0.0.1:PORT " + args})
meta = {
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    "mode": "quick (totals / 10)" if quick == "1" else "full",
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
log "mode: $( ((QUICK)) && echo quick || echo full ); report: $OUT"
bench_server etcd "$REF_ETCD_BIN"
bench_server etcd-rs "$SUT_BIN"

python3 "$HERE/report.py" --meta "$WORK/meta.json" --results "$RESULTS" --rss "$RSS" --out "$OUT"
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
    print(f"{r['server']:8} {r['load']:9} throughput={res.get('throughput', 'n/a')} "
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
