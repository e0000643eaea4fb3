//! Counts, rates and round-trip times of AppendEntries, for `/v2/stats/self` (etcd's
//! `ServerStats`) and `/v2/stats/leader` (`LeaderStats`/`FollowerStats`).
//!
//! etcd counts its `MsgApp` messages there, not its heartbeats, which are messages of
//! their own. openraft's heartbeats are AppendEntries without entries, so only those
//! with entries are counted.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::rate_window::RateWindow;

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

/// The leader this member last heard from, or was, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaderSeen {
    /// Its member id.
    pub id: u64,
    /// When this member first heard from it (or began to lead), ms since the epoch.
    pub since_ms: u64,
}

/// Messages and bytes per second, while AppendEntries flow that way.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AppendRates {
    /// Received from the leader.
    pub received: Option<(f64, f64)>,
    /// Sent to followers.
    pub sent: Option<(f64, f64)>,
}

#[derive(Debug, Default)]
struct Flow {
    received: RateWindow,
    sent: RateWindow,
    leader: Option<LeaderSeen>,
}

impl Flow {
    fn saw_leader(&mut self, id: u64) {
        if self.leader.is_none_or(|l| l.id != id) {
            self.leader = Some(LeaderSeen { id, since_ms: crate::calendar::now_ms() });
        }
    }
}

/// This member's AppendEntries traffic.
#[derive(Debug, Default)]
pub struct PeerStats {
    recv_append: AtomicU64,
    send_append: AtomicU64,
    followers: Mutex<BTreeMap<u64, Accumulated>>,
    flow: Mutex<Flow>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PeerStats {
    /// An AppendEntries with entries, `size` bytes, arrived from `leader`.
    pub fn received_append(&self, leader: u64, size: usize) {
        self.recv_append.fetch_add(1, Ordering::Relaxed);
        let mut flow = lock(&self.flow);
        flow.received.record(Instant::now(), size);
        flow.saw_leader(leader);
    }

    /// An AppendEntries with entries, `size` bytes, went to a follower from this member,
    /// `leader`.
    pub fn sent_append(&self, leader: u64, size: usize) {
        self.send_append.fetch_add(1, Ordering::Relaxed);
        let mut flow = lock(&self.flow);
        flow.sent.record(Instant::now(), size);
        flow.saw_leader(leader);
    }

    /// The rates of the last AppendEntries each way, while they flow.
    pub fn rates(&self) -> AppendRates {
        let mut flow = lock(&self.flow);
        let now = Instant::now();
        AppendRates { received: flow.received.rate(now), sent: flow.sent.rate(now) }
    }

    /// The leader this member last heard from or was, if any.
    pub fn leader_seen(&self) -> Option<LeaderSeen> {
        lock(&self.flow).leader
    }

    /// An AppendEntries to `target` finished: `Some(rtt)` on success.
    pub fn answered_append(&self, target: u64, rtt: Option<Duration>) {
        let mut followers = lock(&self.followers);
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
        let followers = lock(&self.followers);
        followers.iter().map(|(id, f)| (*id, f.stats)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_accumulate() {
        let s = PeerStats::default();
        s.answered_append(7, Some(Duration::from_millis(2)));
        s.answered_append(7, Some(Duration::from_millis(4)));
        s.answered_append(7, None);
        let f = s.followers()[&7];
        assert_eq!((f.success, f.fail), (2, 1));
        assert!((f.average - 3.0).abs() < 1e-9 && (f.standard_deviation - 1.0).abs() < 1e-9);
        assert_eq!((f.minimum, f.maximum, f.current), (2.0, 4.0, 4.0));
    }

    #[test]
    fn the_leader_is_dated_from_its_first_append() {
        let s = PeerStats::default();
        assert_eq!((s.leader_seen(), s.rates()), (None, AppendRates::default()));
        s.received_append(5, 100);
        let first = s.leader_seen().expect("a leader");
        assert_eq!(first.id, 5);
        std::thread::sleep(Duration::from_millis(5));
        s.received_append(5, 300);
        assert_eq!(s.leader_seen(), Some(first), "the same leader keeps its date");
        let rates = s.rates();
        assert!(rates.received.is_some_and(|(m, b)| m > 0.0 && b > m) && rates.sent.is_none(), "{rates:?}");
        std::thread::sleep(Duration::from_millis(5));
        s.sent_append(9, 50);
        let led = s.leader_seen().expect("a leader");
        assert!(led.id == 9 && led.since_ms >= first.since_ms, "{led:?} after {first:?}");
        assert_eq!(s.append_counts(), (2, 1));
    }
}
