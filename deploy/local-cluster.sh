#!/usr/bin/env bash
# Starts a three-member etcd-rs cluster on this machine's loopback, for trying it out:
#   member1 client 127.0.0.1:2379  peer 127.0.0.1:12380
#   member2 client 127.0.0.1:22379 peer 127.0.0.1:22380
#   member3 client 127.0.0.1:32379 peer 127.0.0.1:32380
# (the ports of etcd's own Procfile). Data goes to ./local-cluster (or $DATA_DIR); run it
# again with the same data to restart the same cluster. Ctrl-C stops all three.
#
#   deploy/local-cluster.sh
#   etcdctl --endpoints=127.0.0.1:2379,127.0.0.1:22379,127.0.0.1:32379 --write-out=table endpoint status
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=${ETCD_RS_BIN:-$root/target/release/etcd-rs}
if [[ ! -x $bin ]]; then
  (cd "$root" && cargo build --release --bin etcd-rs)
fi
data=${DATA_DIR:-$PWD/local-cluster}
mkdir -p "$data"
cluster="member1=http://127.0.0.1:12380,member2=http://127.0.0.1:22380,member3=http://127.0.0.1:32380"
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait' EXIT INT TERM
for i in 1 2 3; do
  client=$([[ $i == 1 ]] && echo 2379 || echo "${i}2379")
  peer="${i}2380"
  "$bin" --name "member$i" --data-dir "$data/member$i.etcd" \
    --listen-client-urls "http://127.0.0.1:$client" --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster-token local-cluster --initial-cluster "$cluster" \
    2> >(sed "s/^/member$i: /" >&2) &
  pids+=($!)
done
echo "three members running; logs below, Ctrl-C to stop" >&2
wait
