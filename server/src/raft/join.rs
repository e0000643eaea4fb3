//! Joining an existing cluster (`initial-cluster-state: existing`): ask the members named
//! in `initial-cluster` who we are. The member must have been added with `member add`.

use std::time::{Duration, Instant};

use super::network::Peer;
use super::peer::ClusterInfo;
use super::types::PeerNode;
use crate::config::Config;
use crate::membership::Identity;

/// How long to keep asking before giving up.
const DISCOVERY_TIMEOUT: Duration = Duration::from_secs(30);

/// Finds this member's id and the cluster id from a running member.
pub async fn discover(config: &Config) -> Result<Identity, String> {
    let mut ours = config.initial_advertise_peer_urls.clone();
    ours.sort();
    let deadline = Instant::now() + DISCOVERY_TIMEOUT;
    let mut last_error = String::from("no other member listed in initial-cluster");
    while Instant::now() < deadline {
        for (name, urls) in &config.initial_cluster {
            let mut theirs = urls.clone();
            theirs.sort();
            if theirs == ours {
                continue;
            }
            let node = PeerNode { name: name.clone(), peer_urls: urls.clone() };
            let peer = Peer::new(0, 0, &node);
            match peer
                .call::<_, ClusterInfo, _, _>(
                    &(),
                    Duration::from_secs(2),
                    |mut c, r| async move { c.get_cluster(r).await },
                )
                .await
            {
                Ok(info) => {
                    let me = info.members.iter().find(|(_, n)| {
                        let mut u = n.peer_urls.clone();
                        u.sort();
                        u == ours
                    });
                    return match me {
                        Some((id, _)) => Ok(Identity { cluster_id: info.cluster_id, member_id: *id }),
                        None => Err(format!(
                            "cluster {:x} has no member with peer URLs {}; add it with `member add` first",
                            info.cluster_id,
                            ours.join(",")
                        )),
                    };
                }
                Err(e) => last_error = format!("{name}: {e}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!("could not reach any member of the existing cluster: {last_error}"))
}
