//! Faults for the tests that check histories: a member killed and restarted, frozen and
//! thawed, or cut off from the others (all of them, one of them, or only what comes in)
//! and reconnected, one at a time, on a fixed-seed schedule that can be replayed.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::Member;
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

/// A fault, or its undoing, run on a blocking thread.
type Action = Box<dyn FnOnce() + Send>;

/// Faults, one member at a time so that a quorum stays: 0.5–1.5 s after the last one
/// ended, the leader (two times in three, when one answers) or a random member is killed,
/// frozen, cut off from the other members of `network`, made deaf to them (an isolation
/// that starts from one side) or cut from one of them alone (with three members, the
/// third then bridges the two), and brought back 0.3–2 s later; none starts in the last
/// 3 s before `until`. Returns what it did.
pub async fn strike(cluster: Arc<Mutex<Cluster>>, network: Arc<Network>, until: Instant, seed: u64) -> Vec<String> {
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
        // What to do to the victim and how to undo it.
        let on_member = |act: fn(&mut Member)| -> Action {
            let c = cluster.clone();
            Box::new(move || act(&mut c.lock().expect("cluster").members[victim]))
        };
        let on_network = |act: fn(&Network, usize)| -> Action {
            let n = network.clone();
            Box::new(move || act(&n, victim))
        };
        let (what, start, end): (String, Action, Action) = match rng.below(5) {
            0 => (format!("kill -9 m{victim}"), on_member(Member::kill9), on_member(Member::restart)),
            1 => (format!("freeze m{victim}"), on_member(|m| m.pause()), on_member(|m| m.resume())),
            2 => (format!("isolate m{victim}"), on_network(Network::isolate), on_network(Network::heal)),
            3 => (format!("deafen m{victim}"), on_network(Network::deafen), on_network(Network::heal)),
            _ => {
                let other = (victim + 1 + rng.below(urls.len() - 1)) % urls.len();
                let n = network.clone();
                (
                    format!("cut m{victim} from m{other}"),
                    Box::new(move || n.cut(victim, other)),
                    on_network(Network::heal),
                )
            }
        };
        done.push(format!("{what} for {down:?}"));
        // Signals and iptables run as processes: off the runtime's threads, which the
        // clients' requests need.
        tokio::task::spawn_blocking(start).await.expect(&what);
        tokio::time::sleep(down).await;
        tokio::task::spawn_blocking(end).await.expect(&what);
    }
    done
}
