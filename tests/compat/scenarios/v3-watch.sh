# shellcheck shell=bash
# Scenario v3-watch: etcdctl watch against the Watch service. A watch never
# ends by itself, so every watch runs under CTL_TIMEOUT=2 and records exit
# 124; what it printed before is compared. Live events are written by a
# background writer (unrecorded) while the watch runs.

# when_watched ARGS...: run `etcdctl ARGS` quietly in the background as soon
# as the recorded watch that follows is registered with the server, to produce
# an event while it runs (a fixed delay could fire before it on a loaded
# machine, and the watch would miss the event). Earlier watches must be gone
# first, so that the one counted is the new one.
when_watched() {
  metric_reaches etcd_debugging_mvcc_watcher_total 0
  (metric_reaches etcd_debugging_mvcc_watcher_total 1; ctl_quiet "$@" >/dev/null) &
}

section "history: key, prefix, range, --prev-kv, json"
ctl put foo 1                                   # rev 2
ctl put foo 2                                   # rev 3
ctl put fob 3                                   # rev 4
ctl del foo                                     # rev 5
ctl put zoo z                                   # rev 6
CTL_TIMEOUT=2 ctl watch foo --rev=1
CTL_TIMEOUT=2 ctl watch foo --rev=1 --prev-kv
CTL_TIMEOUT=2 ctl watch fo --prefix --rev=2
CTL_TIMEOUT=2 ctl watch foo fop --rev=3
CTL_TIMEOUT=2 ctl -w json watch fo --prefix --rev=2
CTL_TIMEOUT=2 ctl -w json watch foo --rev=4 --prev-kv
CTL_TIMEOUT=2 ctl watch '' --prefix --rev=5

section "live events"
when_watched put foo live
CTL_TIMEOUT=3 ctl watch foo
when_watched put foo again
CTL_TIMEOUT=3 ctl watch foo --prev-kv
when_watched del fob
CTL_TIMEOUT=3 ctl -w json watch fob
wait

section "interactive"
ctl_in_held 2 $'watch foo --rev=2\n' watch -i
ctl_in_held 2 $'watch zoo --rev=6\nbogus\n' watch -i

section "compacted history"
ctl compaction 5
CTL_TIMEOUT=2 ctl watch foo --rev=2
CTL_TIMEOUT=2 ctl watch foo --rev=5
