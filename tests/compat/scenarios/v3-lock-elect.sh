# shellcheck shell=bash
# Scenario v3-lock-elect: `etcdctl lock` and `etcdctl elect` with two
# contenders each (clientv3's concurrency recipes over KV, Lease and Watch).
# Contenders run in the background; their output is collected into files and
# recorded with `check` once they finished. Keys carry random lease ids
# (masked by lib/mask.sh).

# contender FILE SECONDS ARGS...: run `etcdctl ARGS` in the background for at
# most SECONDS, output (stdout and stderr) into FILE.
contender() {
  local file=$1 secs=$2
  shift 2
  (timeout "$secs" "$CTL_BIN" --endpoints="$ENDPOINT" "$@" >"$SCRATCH/$file" 2>&1; echo "[exit $?]" >>"$SCRATCH/$file") &
}

# keys_at_least PREFIX N: waits (unrecorded, up to 10 s) until N keys exist
# under PREFIX, so that contenders queue in the order the scenario starts them
# however long each etcdctl takes to start.
keys_at_least() {
  local i
  for ((i = 0; i < 100; i++)); do
    (($(ctl_quiet get --prefix "$1" --keys-only | grep -c . || true) >= $2)) && return 0
    sleep 0.1
  done
}

section "lock: the second contender waits for the first"
contender lock1 10 lock mylock -- sh -c 'echo first holds; sleep 2; echo first done'
keys_at_least mylock/ 1
contender lock2 10 lock mylock -- echo second got it
keys_at_least mylock/ 2
check "while the first holds: $(ctl_quiet get --prefix mylock/ --keys-only | grep -c . || true) lock keys"
wait
check "first: $(tr '\n' '|' <"$SCRATCH/lock1")"
check "second: $(tr '\n' '|' <"$SCRATCH/lock2")"
ctl get --prefix mylock/ --keys-only

section "elect: a leader, a waiting candidate, an observer"
contender alice 3 elect myelection alice
keys_at_least myelection/ 1
contender bob 6 elect myelection bob
contender observer 5 elect -l myelection
keys_at_least myelection/ 2
ctl get --prefix myelection/ --print-value-only
wait
check "alice: $(tr '\n' '|' <"$SCRATCH/alice")"
check "bob: $(tr '\n' '|' <"$SCRATCH/bob")"
check "observer: $(tr '\n' '|' <"$SCRATCH/observer")"
