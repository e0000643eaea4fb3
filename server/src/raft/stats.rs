//! Counts and round-trip times of AppendEntries, for `/v2/stats/self` and
//! `/v2/stats/leader` (etcd's `LeaderStats`/`FollowerStats`).

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// One follower as the leader sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FollowerStats {
    /// Last round trip, ms.
    pub current: f64,
    /// Mean round trip, ms.
    pub average: f64,
    /// Standard deviation of the round trips, ms.
    pub standard_deviation: f64,
    /// Fastest round trip, ms.
    pub minimum: f64,
    /// Slowest round trip, ms.
    pub maximum: f64,
    /// Requests that failed.
    pub fail: u64,
    /// Requests that succeeded.
    pub success: u64,
}

#[derive(Debug)]
struct Accumulated {
    stats: FollowerStats,
    sum: f64,
    sum_sq: f64,
    /// This follower's `etcd_network_peer_round_trip_time_seconds` series, looked up once
    /// (every AppendEntries reports here).
    rtt: prometheus::Histogram,
}

impl Accumulated {
    fn new(target: u64) -> Self {
        let rtt = crate::metrics::metrics().peer_rtt.with_label_values(&[&format!("{target:x}")]);
        Self { stats: FollowerStats::default(), sum: 0.0, sum_sq: 0.0, rtt }
    }
}

/// This member's AppendEntries traffic.
#[derive(Debug, Default)]
pub struct PeerStats {
    recv_append: AtomicU64,
    send_append: AtomicU64,
    followers: Mutex<BTreeMap<u64, Accumulated>>,
}

impl PeerStats {
    /// An AppendEntries arrived from the leader.
    pub fn received_append(&self) {
        self.recv_append.fetch_add(1, Ordering::Relaxed);
    }

    /// An AppendEntries to `target` finished: `Some(rtt)` on success.
    pub fn sent_append(&self, target: u64, rtt: Option<Duration>) {
        self.send_append.fetch_add(1, Ordering::Relaxed);
        let mut followers = self.followers.lock().unwrap_or_else(|p| p.into_inner());
        let f = followers.entry(target).or_insert_with(|| Accumulated::new(target));
        let Some(rtt) = rtt else {
            f.stats.fail += 1;
            return;
        };
        f.rtt.observe(rtt.as_secs_f64());
        let ms = rtt.as_secs_f64() * 1000.0;
        let s = &mut f.stats;
        s.success += 1;
        s.current = ms;
        s.minimum = if s.success == 1 { ms } else { s.minimum.min(ms) };
        s.maximum = s.maximum.max(ms);
        f.sum += ms;
        f.sum_sq += ms * ms;
        let n = s.success as f64;
        s.average = f.sum / n;
        s.standard_deviation = (f.sum_sq / n - s.average * s.average).max(0.0).sqrt();
    }

    /// AppendEntries received and sent so far.
    pub fn append_counts(&self) -> (u64, u64) {
        (self.recv_append.load(Ordering::Relaxed), self.send_append.load(Ordering::Relaxed))
    }

    /// Each follower this member has sent AppendEntries to.
    pub fn followers(&self) -> BTreeMap<u64, FollowerStats> {
        let followers = self.followers.lock().unwrap_or_else(|p| p.into_inner());
        followers.iter().map(|(id, f)| (*id, f.stats)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_accumulate() {
        let s = PeerStats::default();
        s.sent_append(7, Some(Duration::from_millis(2)));
        s.sent_append(7, Some(Duration::from_millis(4)));
        s.sent_append(7, None);
        s.received_append();
        let f = s.followers()[&7];
        assert_eq!((f.success, f.fail), (2, 1));
        assert!((f.average - 3.0).abs() < 1e-9 && (f.standard_deviation - 1.0).abs() < 1e-9);
        assert_eq!((f.minimum, f.maximum, f.current), (2.0, 4.0, 4.0));
        assert_eq!(s.append_counts(), (1, 3));
    }
}
