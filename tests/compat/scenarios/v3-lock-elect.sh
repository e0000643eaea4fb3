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

section "lock: the second contender waits for the first"
contender lock1 10 lock mylock -- sh -c 'echo first holds; sleep 2; echo first done'
sleep 0.7
contender lock2 10 lock mylock -- echo second got it
sleep 0.7
check "while the first holds: $(ctl_quiet get --prefix mylock/ --keys-only | grep -c . || true) lock keys"
wait
check "first: $(tr '\n' '|' <"$SCRATCH/lock1")"
check "second: $(tr '\n' '|' <"$SCRATCH/lock2")"
ctl get --prefix mylock/ --keys-only

section "elect: a leader, a waiting candidate, an observer"
contender alice 3 elect myelection alice
sleep 0.7
contender bob 6 elect myelection bob
contender observer 5 elect -l myelection
sleep 0.7
ctl get --prefix myelection/ --print-value-only
wait
check "alice: $(tr '\n' '|' <"$SCRATCH/alice")"
check "bob: $(tr '\n' '|' <"$SCRATCH/bob")"
check "observer: $(tr '\n' '|' <"$SCRATCH/observer")"
