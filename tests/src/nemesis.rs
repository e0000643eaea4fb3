//! Faults for the tests that check histories: a member killed and restarted, frozen and
//! thawed, or cut off from the others and reconnected, one at a time, on a fixed-seed
//! schedule that can be replayed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cluster::Cluster;
use crate::grpc;
use crate::netns::Network;

/// A fixed-seed generator (xorshift64*), so a failing schedule can be replayed by seed.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (0 counts as 1).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % n as u64).unwrap_or(0)
    }

    /// A duration of `from..to` milliseconds.
    pub fn millis(&mut self, from: u64, to: u64) -> Duration {
        Duration::from_millis(from + self.next_u64() % (to - from))
    }
}

/// Faults, one member at a time so that a quorum stays: every 0.5–1.5 s, kill or freeze
/// the leader (two times in three) or a random member, or with a `network` cut it off from
/// the other members, and bring it back 0.3–2 s later. Returns what it did.
pub async fn strike(
    cluster: Arc<Mutex<Cluster>>,
    network: Option<Arc<Network>>,
    until: Instant,
    seed: u64,
) -> Vec<String> {
    let urls: Vec<String> = cluster.lock().expect("cluster").members.iter().map(|m| m.url()).collect();
    let mut rng = Rng::new(seed);
    let mut done = Vec::new();
    while Instant::now() + Duration::from_secs(3) < until {
        tokio::time::sleep(rng.millis(500, 1500)).await;
        let victim = match (rng.below(3), grpc::leader_among(&urls, Duration::from_millis(300)).await) {
            (0..2, Some(l)) => l,
            _ => rng.below(urls.len()),
        };
        let down = rng.millis(300, 2000);
        let c = cluster.clone();
        let kinds = if network.is_some() { 3 } else { 2 };
        let kind = rng.below(kinds);
        // Signals and iptables run as processes: off the runtime's threads, which the
        // clients' requests need.
        if let (2, Some(network)) = (kind, &network) {
            done.push(format!("isolate m{victim} for {down:?}"));
            let n = network.clone();
            tokio::task::spawn_blocking(move || n.isolate(victim)).await.expect("isolate");
            tokio::time::sleep(down).await;
            let n = network.clone();
            tokio::task::spawn_blocking(move || n.heal(victim)).await.expect("heal");
        } else if kind == 0 {
            done.push(format!("kill -9 m{victim} for {down:?}"));
            tokio::task::spawn_blocking(move || c.lock().expect("cluster").members[victim].kill9())
                .await
                .expect("kill");
            tokio::time::sleep(down).await;
            let c = cluster.clone();
            tokio::task::spawn_blocking(move || c.lock().expect("cluster").members[victim].restart())
                .await
                .expect("restart");
        } else {
            done.push(format!("freeze m{victim} for {down:?}"));
            tokio::task::spawn_blocking(move || c.lock().expect("cluster").members[victim].pause())
                .await
                .expect("pause");
            tokio::time::sleep(down).await;
            let c = cluster.clone();
            tokio::task::spawn_blocking(move || c.lock().expect("cluster").members[victim].resume())
                .await
                .expect("resume");
        }
    }
    done
}
