#!/usr/bin/env bash
# Independent clients from PyPI: runs tests/compat/python/*.py against real
# etcd 3.4 (which proves the script itself right) and then against etcd-rs,
# each on a fresh single member on free loopback ports.
#
#   v2_python_etcd.py   python-etcd 0.4.5 (v2 API; urllib3 < 2, as it needs)
#   v3_etcd3.py         etcd3 0.12.0 (v3 API: KV, txn, watch, leases, locks; it
#                       needs protobuf < 4 and tenacity < 7)
#   metrics_prometheus.py  /metrics parsed by prometheus_client 0.21.1: etcd's
#                       metric names, types and sane values after traffic
#
# Usage: tests/compat/python-clients.sh [--etcd-rs PATH] [--keep]
# Exit status: 0 pass, 1 etcd-rs failed a script, 2 harness error.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/lib/servers.sh
source "$HERE/lib/servers.sh"

ROOT=$(repo_root)
SUT_BIN=$ROOT/target/debug/etcd-rs
KEEP=0
while (($#)); do
  case $1 in
    --etcd-rs) SUT_BIN=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ -x $SUT_BIN ]] || die "etcd-rs binary not found: $SUT_BIN"

sanitize_env
ensure_etcd_tools
init_workdir etcd-rs-python
command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
python3 -m venv "$WORK/venv" || die "cannot create a Python virtual environment"
PY=$WORK/venv/bin/python
"$PY" -m pip install -q --disable-pip-version-check python-etcd==0.4.5 'urllib3<2' \
  etcd3==0.12.0 protobuf==3.20.3 grpcio==1.85.3 tenacity==6.3.1 six==1.17.0 \
  prometheus_client==0.21.1 >&2 ||
  die "pip install failed"

# Both servers get --enable-v2: etcd 3.4 needs it, etcd-rs accepts it.
SERVER_FLAGS=(--enable-v2)
failed=0
for script in "$HERE"/python/*.py; do
  name=$(basename "$script" .py)
  for side in ref sut; do
    bin=$SUT_BIN
    [[ $side == ref ]] && bin=$REF_ETCD_BIN
    start_member "$side" "$bin" "$WORK/$name-$side" || die "$side server did not start"
    log "=== $name against $side ($(basename "$bin"))"
    rc=0
    timeout 300 "$PY" "$script" "${MEMBER_CPORT[$side]}" >"$WORK/$name-$side.out" 2>&1 || rc=$?
    cat "$WORK/$name-$side.out"
    stop_member "$side"
    if ((rc != 0)); then
      [[ $side == ref ]] && die "$name fails against real etcd: the script is wrong"
      failed=1
      echo "FAIL $name"
    elif [[ $side == sut ]]; then
      echo "PASS $name"
    fi
  done
done
exit "$failed"
