#!/usr/bin/env bash
# Maintenance benchmark: etcd-rs vs. real etcd 3.4, same machine, same run.
#
# Usage: tests/bench/maintenance.sh [--etcd-rs PATH] [--bench PATH] [--out FILE]
#                                   [--keys N] [--store-mib N] [--keep]
#
# For each server (etcd first, then etcd-rs; one at a time, fresh single member,
# same flags, --quota-backend-bytes 8 GiB so neither trips its quota):
#   1. puts N (default 1,000,000) keys with 100-byte values, then reads them all
#      with Range and with RangeStream (etcd 3.7; etcd 3.4 answers Unimplemented)
#      while sampling the server's resident memory every 5 ms;
#   2. puts --store-mib (default 1024) MiB more as 64 KiB values (the small keys
#      stay), downloads a snapshot (Maintenance.Snapshot) and reports MB/s;
#   (before each measurement, the server is left to finish background work);
#   3. deletes half the values, compacts, and defragments while one client puts
#      small keys without pause: defragmentation time and the slowest put.
# The section is appended to FILE (default <repo>/BENCHMARKS.md).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../compat/lib/servers.sh
source "$HERE/../compat/lib/servers.sh"
ROOT=$(repo_root)
SUT_BIN=$ROOT/target/release/etcd-rs
BENCH_BIN=$ROOT/target/release/etcd-rs-bench
OUT=$ROOT/BENCHMARKS.md
KEYS=1000000
STORE_MIB=1024
while (($#)); do
  case $1 in
    --etcd-rs) SUT_BIN=$2; shift 2 ;;
    --bench) BENCH_BIN=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --keys) KEYS=$2; shift 2 ;;
    --store-mib) STORE_MIB=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ -x $SUT_BIN && -x $BENCH_BIN ]] || die "build first: cargo build --release"
sanitize_env
ensure_etcd_tools
init_workdir etcd-rs-maint-bench
SERVER_FLAGS=(--quota-backend-bytes=8589934592)
RESULTS=$WORK/results.jsonl
: >"$RESULTS"

# bench SERVER NAME ARGS...: one etcd-rs-bench run, its JSON tagged and kept.
bench() {
  local server=$1 name=$2 out
  shift 2
  log "$server: $name"
  if out=$("$BENCH_BIN" --endpoints "$EP" "$@" 2>"$WORK/$server.$name.stderr"); then
    python3 -c 'import json,sys; r=json.loads(sys.argv[3]); r.update(server=sys.argv[1], name=sys.argv[2]); print(json.dumps(r))' \
      "$server" "$name" "$out" >>"$RESULTS"
  else
    python3 -c 'import json,sys; print(json.dumps({"server":sys.argv[1],"name":sys.argv[2],"error":sys.argv[3]}))' \
      "$server" "$name" "$(tail -n 1 "$WORK/$server.$name.stderr")" >>"$RESULTS"
    log "$server: $name failed: $(tail -n 1 "$WORK/$server.$name.stderr")"
  fi
}

# settle PID: waits (up to 60 s) until the server has used under 5% of a CPU for a
# second, so that background work a load left behind (etcd's and our snapshots after
# many writes) is not measured as part of the next load.
settle() {
  local pid=$1 before after i
  for ((i = 0; i < 60; i++)); do
    before=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    sleep 1
    after=$(awk '{print $14 + $15}' "/proc/$pid/stat")
    (( (after - before) * 100 / $(getconf CLK_TCK) < 5 )) && return 0
  done
  log "server $pid still busy after 60 s"
}

# ctl ARGS...: a setup step; a failure is logged (the measurements after it will show it).
ctl() {
  "$CTL_BIN" --endpoints="$EP" --command-timeout=600s "$@" >/dev/null 2>"$WORK/ctl.stderr" ||
    log "$server: etcdctl $* failed: $(tail -n 1 "$WORK/ctl.stderr")"
}

for server in etcd etcd-rs; do
  bin=$SUT_BIN
  [[ $server == etcd ]] && bin=$REF_ETCD_BIN
  start_member "$server" "$bin" "$WORK/$server" || die "$server did not start"
  EP=127.0.0.1:${MEMBER_CPORT[$server]}
  pid=${MEMBER_PID[$server]}
  bench "$server" fill-keys --conns 8 --clients 64 put --total "$KEYS" --key-size 16 --val-size 100 \
    --key-space-size "$KEYS" --sequential-keys
  settle "$pid"
  bench "$server" range-rss range-rss "" --server-pid "$pid"
  settle "$pid"
  bench "$server" range-stream-rss range-rss "" --server-pid "$pid" --stream
  values=$((STORE_MIB * 16))
  bench "$server" fill-store --conns 8 --clients 32 put --total "$values" --key-size 16 --val-size 65536 \
    --key-space-size "$values" --sequential-keys
  bench "$server" snapshot snapshot
  # Half the values become history (overwritten by small ones), then compacted away.
  bench "$server" overwrite-half --conns 8 --clients 32 put --total "$((values / 2))" --key-size 16 \
    --val-size 8 --key-space-size "$((values / 2))" --sequential-keys
  rev=$("$CTL_BIN" --endpoints="$EP" -w json get x 2>/dev/null |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["header"]["revision"])' || echo 0)
  ctl compaction --physical "$rev"
  settle "$pid"
  bench "$server" defrag-pause defrag-pause
  for phase in done; do
    awk -v s="$server" -v p="$phase" '/^VmHWM:/ {printf "{\"server\":\"%s\",\"name\":\"vmhwm\",\"kib\":%s}\n", s, $2}' \
      "/proc/$pid/status" >>"$RESULTS"
  done
  stop_member "$server"
done

python3 - "$RESULTS" "$OUT" "$KEYS" "$STORE_MIB" <<'PY'
import json, sys, datetime, platform, os
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
out, keys, mib = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r = {(x["server"], x["name"]): x for x in rows}
def get(server, name, field):
    x = r.get((server, name), {})
    return x.get(field), x.get("error")
def cell(v, err, fmt):
    if err:
        return "n/a (no RangeStream in etcd 3.4)" if "not implemented" in err else "failed: " + err.replace("|", "/")[:80]
    return "—" if v is None else fmt(v)
def ratio(a, b, lower_better):
    if not a or not b:
        return "—"
    return "%.2f" % ((a / b) if lower_better else (b / a))
lines = []
w = lines.append
w(f"\n## Maintenance (single member, {datetime.date.today()})\n")
w(f"Machine: {os.cpu_count()} CPUs, {platform.machine()}. Both servers fresh, one at a time, "
  f"`--quota-backend-bytes 8 GiB`. Reproduce: `tests/bench/maintenance.sh` "
  f"({keys:,} keys for the range rows, a {mib} MiB store of 64 KiB values for the others).\n")
w("| measure | etcd 3.4 | etcd-rs | etcd-rs vs etcd (>1 = better) |")
w("|---|---|---|---|")
def row(label, name, field, fmt, lower_better):
    a, ea = get("etcd", name, field)
    b, eb = get("etcd-rs", name, field)
    w(f"| {label} | {cell(a, ea, fmt)} | {cell(b, eb, fmt)} | {ratio(a, b, lower_better) if not (ea or eb) else '—'} |")
mib_fmt = lambda k: "%.0f MiB" % (k / 1024)
row("fill: puts/s of 100-byte values (64 clients)", "fill-keys", "throughput", lambda v: "%.0f" % v, False)
row(f"server memory growth while one Range returns {keys:,} keys", "range-rss", "rss_growth_kib", mib_fmt, True)
row(f"server memory growth while RangeStream returns {keys:,} keys", "range-stream-rss", "rss_growth_kib", mib_fmt, True)
row("Range of every key: seconds", "range-rss", "seconds", lambda v: "%.2f s" % v, True)
row("RangeStream of every key: seconds", "range-stream-rss", "seconds", lambda v: "%.2f s" % v, True)
row(f"snapshot download of the {mib} MiB store: MB/s", "snapshot", "mb_per_s", lambda v: "%.0f MB/s" % v, False)
row("snapshot size", "snapshot", "bytes", lambda v: "%.0f MiB" % (v / 2**20), True)
row("defragmentation after compacting half: seconds", "defrag-pause", "defrag_seconds", lambda v: "%.2f s" % v, True)
row("longest put during defragmentation (the write pause)", "defrag-pause", "max_put_ms_during", lambda v: "%.0f ms" % v, True)
row("puts that failed (timed out) during it", "defrag-pause", "puts_failed", lambda v: "%d" % v, True)
row("longest put just before it (baseline)", "defrag-pause", "max_put_ms_before", lambda v: "%.1f ms" % v, True)
row("peak resident memory over the whole run (VmHWM)", "vmhwm", "kib", mib_fmt, True)
w("\nRaw results (one JSON object per measurement):\n")
w("```")
for x in rows:
    w(json.dumps(x))
w("```")
with open(out, "a") as f:
    f.write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
