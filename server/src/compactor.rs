//! Auto-compaction (`auto-compaction-mode` / `auto-compaction-retention`): which revision
//! the leader should compact to, and when. Plain logic over a clock and revisions; the
//! loop that proposes the compactions lives in `server`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// A retention policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoCompaction {
    /// Keep the history of the last period.
    Periodic(Duration),
    /// Keep the last N revisions.
    Revision(i64),
}

/// etcd's revision compactor looks every five minutes.
const REVISION_CHECK: Duration = Duration::from_secs(5 * 60);
/// etcd compacts at least hourly, however long the retention.
const MAX_COMPACT_INTERVAL: Duration = Duration::from_secs(3600);

/// Decides compactions from periodic observations of the store revision.
#[derive(Debug)]
pub struct Compactor {
    policy: AutoCompaction,
    /// Periodic mode: (when, revision) samples, oldest first.
    samples: VecDeque<(Instant, i64)>,
    last_compaction: Option<Instant>,
}

impl Compactor {
    /// A compactor for `policy`.
    pub fn new(policy: AutoCompaction) -> Self {
        Self { policy, samples: VecDeque::new(), last_compaction: None }
    }

    /// How often [`Compactor::observe`] should be called: a tenth of the compaction
    /// interval in periodic mode (etcd's retry interval), five minutes in revision mode.
    pub fn tick(&self) -> Duration {
        match self.policy {
            AutoCompaction::Periodic(p) => (p.min(MAX_COMPACT_INTERVAL) / 10).max(Duration::from_millis(100)),
            AutoCompaction::Revision(_) => REVISION_CHECK,
        }
    }

    /// Records the store's `current` revision at `now` and returns the revision to compact
    /// to, if one is due and above `compacted`.
    pub fn observe(&mut self, now: Instant, current: i64, compacted: i64) -> Option<i64> {
        let target = match self.policy {
            AutoCompaction::Revision(keep) => current - keep,
            AutoCompaction::Periodic(period) => {
                self.samples.push_back((now, current));
                let interval = period.min(MAX_COMPACT_INTERVAL);
                if self.last_compaction.is_some_and(|at| now.duration_since(at) < interval) {
                    return None;
                }
                // The newest sample at least `period` old: history after it is kept.
                let mut target = None;
                while let Some(&(at, rev)) = self.samples.front() {
                    if now.duration_since(at) < period {
                        break;
                    }
                    target = Some(rev);
                    self.samples.pop_front();
                }
                target?
            }
        };
        if target <= compacted {
            return None;
        }
        self.last_compaction = Some(now);
        Some(target)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_mode_keeps_the_last_n_revisions() {
        let mut c = Compactor::new(AutoCompaction::Revision(100));
        let t = Instant::now();
        assert_eq!(c.observe(t, 50, 0), None, "not enough history yet");
        assert_eq!(c.observe(t, 1000, 0), Some(900));
        assert_eq!(c.observe(t, 1000, 900), None, "already compacted there");
        assert_eq!(c.tick(), REVISION_CHECK);
    }

    #[test]
    fn periodic_mode_compacts_to_the_revision_seen_one_period_ago() {
        let period = Duration::from_secs(10);
        let mut c = Compactor::new(AutoCompaction::Periodic(period));
        assert_eq!(c.tick(), Duration::from_secs(1));
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        for s in 0..10 {
            assert_eq!(c.observe(at(s), 10 + s as i64, 0), None, "no sample is a period old at {s}s");
        }
        assert_eq!(c.observe(at(10), 20, 0), Some(10), "the revision seen at 0s");
        assert_eq!(c.observe(at(11), 21, 10), None, "next compaction one interval later");
        assert_eq!(c.observe(at(20), 30, 10), Some(20), "the revision seen at 10s");
    }

    #[test]
    fn long_periods_still_compact_hourly() {
        let c = Compactor::new(AutoCompaction::Periodic(Duration::from_secs(72 * 3600)));
        assert_eq!(c.tick(), Duration::from_secs(360));
    }
}
