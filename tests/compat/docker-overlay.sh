#!/usr/bin/env bash
# Docker end to end: Docker 20.10's classic overlay networking keeps its state
# in a v2 cluster store. Starts a 3-member etcd-rs cluster and an isolated
# dockerd (own data root, exec root, socket and key file; no iptables, no
# bridge, vfs storage) with cluster-store pointed at it, then:
#   1. `docker network create -d overlay demo` succeeds and is listed;
#   2. `ETCDCTL_API=2 etcdctl ls --recursive /docker` shows /docker/nodes/...
#      and /docker/network/v1.0/...;
#   3. the leader is killed (SIGKILL); once the others elect a new one,
#      `docker network create -d overlay demo2` succeeds and the node's
#      registration keeps being re-set (its TTL never runs out).
#
# Usage: tests/compat/docker-overlay.sh [--etcd-rs PATH] [--keep]
# Installs docker.io (Debian's 20.10), etcd-client and curl if missing.
# Exit status: 0 pass, 1 fail, 2 harness error.
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
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then apt_install "${missing[@]}"; fi
# Debian's 20.10 client, not whatever else is first in PATH.
DOCKER_CLI=/usr/bin/docker
[[ -x $DOCKER_CLI ]] || DOCKER_CLI=$(command -v docker)
dockerd --version | grep -q ' 20\.10\.' || die "need dockerd 20.10 (cluster-store was removed in 23.0): $(dockerd --version)"

ADVERTISE=127.0.0.1:2376
DOCKERD_PID=

# stop_dockerd: the EXIT hook. dockerd bind-mounts its data root onto itself
# and creates /run/docker; undo what it leaves behind.
stop_dockerd() {
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    term_then_kill "$DOCKERD_PID" dockerd
    # dockerd takes a few seconds to stop its containerd.
    for _ in $(seq 1 40); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.25; done
    if [[ -f $WORK/dockerd.log ]] && ((KEEP)); then log "dockerd log: $WORK/dockerd.log"; fi
  fi
  if mountpoint -q "$WORK/docker-data" 2>/dev/null; then umount "$WORK/docker-data" || true; fi
  if ip link show docker_gwbridge >/dev/null 2>&1; then ip link del docker_gwbridge || true; fi
  rmdir /run/docker/plugins /run/docker 2>/dev/null || true
}
init_workdir etcd-rs-docker stop_dockerd

fail() {
  log "FAIL: $*"
  log "dockerd log tail:"
  tail -n 30 "$WORK/dockerd.log" >&2 || true
  exit 1
}

v2ctl() { ETCDCTL_API=2 "$CTL_BIN" --endpoints "$ENDPOINTS" "$@"; }

start_cluster etcdrs "$SUT_BIN" "$WORK/cluster" 3 docker-overlay m ||
  die "the etcd-rs cluster did not start"
ENDPOINTS=
STORE=
for m in ${CLUSTER_MEMBERS[etcdrs]}; do
  ENDPOINTS+="${ENDPOINTS:+,}http://127.0.0.1:${MEMBER_CPORT[$m]}"
  STORE+="${STORE:+,}127.0.0.1:${MEMBER_CPORT[$m]}"
done

# A short heartbeat and TTL so that re-registration is observable quickly.
cat >"$WORK/daemon.json" <<JSON
{
  "cluster-store": "etcd://$STORE",
  "cluster-advertise": "$ADVERTISE",
  "cluster-store-opts": {"discovery.heartbeat": "2", "discovery.ttl": "6"},
  "storage-driver": "vfs",
  "iptables": false, "ip6tables": false, "ip-forward": false, "ip-masq": false,
  "bridge": "none",
  "deprecated-key-path": "$WORK/key.json"
}
JSON
dockerd --config-file "$WORK/daemon.json" --data-root "$WORK/docker-data" --exec-root "$WORK/docker-exec" \
  --pidfile "$WORK/docker.pid" -H "unix://$WORK/docker.sock" >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
D=("$DOCKER_CLI" -H "unix://$WORK/docker.sock")
for _ in $(seq 1 120); do "${D[@]}" version >/dev/null 2>&1 && break; sleep 0.25; done
"${D[@]}" version >/dev/null 2>&1 || fail "dockerd did not start"
log "dockerd $(dockerd --version) up, cluster store $STORE"

node_index() {
  curl -sf "http://127.0.0.1:${MEMBER_CPORT[$1]}/v2/keys/docker/nodes/$ADVERTISE" |
    sed -nE 's/.*"modifiedIndex":([0-9]+).*/\1/p'
}
first=${CLUSTER_MEMBERS[etcdrs]%% *}
for _ in $(seq 1 80); do [[ -n $(node_index "$first") ]] && break; sleep 0.25; done
[[ -n $(node_index "$first") ]] || fail "dockerd never registered /docker/nodes/$ADVERTISE"

"${D[@]}" network create -d overlay demo >/dev/null || fail "network create demo"
"${D[@]}" network ls --filter driver=overlay --format '{{.Name}} {{.Driver}} {{.Scope}}' | tee "$WORK/nets"
grep -qx 'demo overlay global' "$WORK/nets" || fail "demo is not listed"
v2ctl ls --recursive /docker | tee "$WORK/keys"
grep -qx "/docker/nodes/$ADVERTISE" "$WORK/keys" || fail "no node registration key"
grep -Eq '^/docker/network/v1\.0/network/[0-9a-f]{64}$' "$WORK/keys" || fail "no network key"
log "PASS overlay network demo created, keys under /docker"

# Kill the leader outright.
leader=
for m in ${CLUSTER_MEMBERS[etcdrs]}; do
  if curl -sf "http://127.0.0.1:${MEMBER_CPORT[$m]}/v2/stats/self" | grep -q '"state":"StateLeader"'; then leader=$m; fi
done
[[ -n $leader ]] || fail "no leader found"
kill -KILL "${MEMBER_PID[$leader]}"
wait "${MEMBER_PID[$leader]}" 2>/dev/null || true
unset "MEMBER_PID[$leader]"
survivor=
for m in ${CLUSTER_MEMBERS[etcdrs]}; do [[ $m != "$leader" ]] && survivor=$m; done
killed_at=$SECONDS
for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:${MEMBER_CPORT[$survivor]}/health" >/dev/null && break
  sleep 0.25
done
log "killed leader $leader; new leader after $((SECONDS - killed_at)) s"

# Docker's etcd client sends writes to one pinned member and fails over only on its
# retryable requests: a create (prevExist=false) aimed at the dead member fails once.
# Its next heartbeat (a plain set) moves it to a live member; wait for that refresh,
# which is also the proof that registrations go on.
before=$(node_index "$survivor")
for _ in $(seq 1 40); do
  [[ $(node_index "$survivor") -gt $before ]] && break
  sleep 0.25
done
((${before:-0} < $(node_index "$survivor"))) || fail "no node registration refresh within 10 s of the leader's death"
before=$(node_index "$survivor")
# The network store has its own client, which may still be pinned to the dead member:
# then the create's conditional write fails once with "connection refused" to exactly
# that member, and Docker's client fails over on its next request. Only that failure is
# retried, once.
if ! out=$("${D[@]}" network create -d overlay demo2 2>&1 >/dev/null); then
  [[ $out == *"127.0.0.1:${MEMBER_CPORT[$leader]}"*"connection refused"* ]] ||
    fail "network create demo2 after the leader died: $out"
  log "the first create went to the dead member (Docker's client was pinned to it); once more"
  "${D[@]}" network create -d overlay demo2 >/dev/null || fail "network create demo2 failed twice after the leader died"
fi
"${D[@]}" network ls --filter driver=overlay --format '{{.Name}}' | sort | tee "$WORK/nets"
[[ $(tr '\n' ' ' <"$WORK/nets") == "demo demo2 " ]] || fail "demo2 is not listed"
# Past the 6 s TTL: the registration must still be there, re-set meanwhile.
sleep 8
after=$(node_index "$survivor")
[[ -n $after ]] || fail "the node registration expired after the leader died"
((after > before)) || fail "the node registration was not refreshed ($before -> $after)"
v2ctl ls --recursive /docker/network/v1.0/network | tee "$WORK/keys"
[[ $(grep -c . "$WORK/keys") -ge 2 ]] || fail "expected two overlay networks under /docker/network/v1.0/network"
log "PASS after the leader died: demo2 created, node registration refreshed ($before -> $after)"
"${D[@]}" network rm demo demo2 >/dev/null || fail "network rm"
echo "docker overlay: PASS"
