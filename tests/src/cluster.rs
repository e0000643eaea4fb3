//! Several `etcd-rs` members forming one cluster on loopback.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::grpc;
use crate::{Host, Member, free_port};

/// A running cluster. Dropping it kills every member.
pub struct Cluster {
    /// The members, in start order.
    pub members: Vec<Member>,
    /// Where their data and logs live.
    pub dir: PathBuf,
}

impl Cluster {
    /// Starts `n` members (`m0`, `m1`, …) on loopback with `extra` flags and waits for a
    /// leader.
    pub fn start(dir: &Path, n: usize, extra: &[&str]) -> Cluster {
        Cluster::start_on(dir, vec![Host::loopback(); n], extra)
    }

    /// Starts a member on each of `hosts` (`m0` on the first, …) with `extra` flags and
    /// waits for a leader.
    pub fn start_on(dir: &Path, hosts: Vec<Host>, extra: &[&str]) -> Cluster {
        let ports: Vec<(u16, u16)> = hosts.iter().map(|_| (free_port(), free_port())).collect();
        let initial: Vec<String> =
            hosts.iter().zip(&ports).enumerate().map(|(i, (h, (_, p)))| format!("m{i}=http://{}:{p}", h.ip)).collect();
        let initial = initial.join(",");
        let mut members: Vec<Member> = hosts
            .into_iter()
            .zip(ports)
            .enumerate()
            .map(|(i, (h, ports))| Member::new_on(h, dir, &format!("m{i}"), ports, &initial, "new", extra))
            .collect();
        for m in &mut members {
            m.spawn();
        }
        for m in &members {
            m.wait_healthy();
        }
        Cluster { members, dir: dir.to_path_buf() }
    }

    /// Client endpoints of the running members.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().filter(|m| m.is_running()).map(Member::url).collect()
    }

    /// Index of the member that leads, as the members report it.
    pub async fn leader(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(20);
        // A member that is not running refuses the connection at once.
        let urls: Vec<String> = self.members.iter().map(Member::url).collect();
        loop {
            if let Some(i) = grpc::leader_among(&urls, Duration::from_secs(2)).await {
                return i;
            }
            assert!(Instant::now() < deadline, "no leader within 20 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
