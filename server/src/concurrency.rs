//! etcd's concurrency recipes, run on the server for the `v3lockpb.Lock` and
//! `v3electionpb.Election` services. They use etcd's key layout (`<name>/<lease id in
//! hex>`, ordered by create revision), so they interoperate with clients that run the same
//! recipes themselves (`etcdctl lock`, `etcdctl elect`, clientv3's `concurrency`).

use crate::command::{Command, CommandResponse};
use crate::error::{Error, Result};
use crate::mvcc::{
    Compare, CompareResult, CompareTarget, DeleteRangeRequest, KeyValue, PutRequest, RangeRequest, RequestOp,
    SortOrder, SortTarget, TxnRequest, prefix_end,
};
use crate::node::Node;

/// The TTL, in seconds, of the lease a Lock or Campaign without one gets: etcd's servers
/// open a client session for it (`concurrency.NewSession`, default TTL 60) and leave it
/// to expire, so the key goes 60 s after, unless unlocked or resigned earlier.
pub const SESSION_TTL: i64 = 60;

/// The key a lease holds under `prefix` (`prefix` ends with `/`).
pub fn key_for(prefix: &[u8], lease: i64) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(format!("{lease:x}").as_bytes());
    k
}

/// `name` + `/`, the prefix every contender's key is under.
pub fn prefix(name: &[u8]) -> Vec<u8> {
    let mut p = name.to_vec();
    p.push(b'/');
    p
}

async fn txn(node: &Node, txn: TxnRequest) -> Result<bool> {
    match node.propose(Command::Txn(txn)).await? {
        CommandResponse::Txn(r) => Ok(r.succeeded),
        other => Err(Error::Storage(format!("txn answered with {other:?}"))),
    }
}

fn get(node: &Node, key: &[u8]) -> Result<Option<KeyValue>> {
    let req = RangeRequest { key: key.to_vec(), ..Default::default() };
    Ok(node.read().mvcc().range(&req)?.kvs.into_iter().next())
}

/// A contender's key while it waits for its turn. Dropped before [`Contender::won`] (the
/// client went away, or the wait failed), it deletes the key if it is still the one it
/// created, as etcd's `Mutex.Lock` and `Election.Campaign` clean up after a cancelled
/// wait: otherwise the key would hold up everyone behind it until its lease ends.
pub struct Contender {
    node: Node,
    key: Vec<u8>,
    /// The key's create revision: its place in the queue.
    pub create_revision: i64,
    won: bool,
}

impl Contender {
    /// Keeps the key: its turn came.
    pub fn won(mut self) {
        self.won = true;
    }
}

impl Drop for Contender {
    fn drop(&mut self) {
        if self.won {
            return;
        }
        // Only inside the runtime; a runtime shutting down takes the member with it.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (node, key, revision) = (self.node.clone(), std::mem::take(&mut self.key), self.create_revision);
        runtime.spawn(async move {
            if let Err(e) = release(&node, &key, Some(revision)).await {
                tracing::warn!(error = %e, "removing the key of a cancelled lock or campaign");
            }
        });
    }
}

/// Creates `key` with `value` and `lease` unless it exists, and returns it as a
/// contender. With `overwrite`, an existing key gets `value` too (a campaign proclaims
/// its value).
pub async fn claim(node: &Node, key: &[u8], value: &[u8], lease: i64, overwrite: bool) -> Result<Contender> {
    let put = PutRequest { key: key.to_vec(), value: value.to_vec(), lease, ..Default::default() };
    let created = txn(
        node,
        TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal,
                target: CompareTarget::Create(0),
                key: key.to_vec(),
                range_end: Vec::new(),
            }],
            success: vec![RequestOp::Put(put.clone())],
            failure: vec![RequestOp::Range(RangeRequest { key: key.to_vec(), ..Default::default() })],
        },
    )
    .await?;
    if !created && overwrite && get(node, key)?.is_some_and(|kv| kv.value != value) {
        txn(node, TxnRequest { success: vec![RequestOp::Put(put)], ..Default::default() }).await?;
    }
    let kv = get(node, key)?.ok_or(Error::SessionExpired)?;
    Ok(Contender { node: node.clone(), key: key.to_vec(), create_revision: kv.create_revision, won: false })
}

/// The first contender under `prefix` (lowest create revision), read linearizably.
pub async fn owner(node: &Node, prefix: &[u8]) -> Result<Option<KeyValue>> {
    node.linearizable().await?;
    let req = RangeRequest {
        key: prefix.to_vec(),
        range_end: prefix_end(prefix),
        limit: 1,
        sort_order: SortOrder::Ascend,
        sort_target: SortTarget::Create,
        ..Default::default()
    };
    Ok(node.read().mvcc().range(&req)?.kvs.into_iter().next())
}

/// Waits until no key under `prefix` was created before `revision`: everyone ahead of a
/// contender has gone. Fails if the contender's own `key` disappears meanwhile (its lease
/// expired).
pub async fn wait_turn(node: &Node, prefix: &[u8], key: &[u8], revision: i64) -> Result<()> {
    let mut revisions = node.revisions();
    loop {
        // Not count_only: as in etcd, a count ignores the create-revision filter.
        let req = RangeRequest {
            key: prefix.to_vec(),
            range_end: prefix_end(prefix),
            max_create_revision: revision - 1,
            limit: 1,
            keys_only: true,
            ..Default::default()
        };
        if node.read().mvcc().range(&req)?.kvs.is_empty() {
            return if get(node, key)?.is_some() { Ok(()) } else { Err(Error::SessionExpired) };
        }
        revisions.changed().await.map_err(|_| Error::Stopped)?;
    }
}

/// Deletes `key`: if it was created at `created` (a leader resigning: etcd compares the
/// create revision, so a revision of 0 deletes nothing that exists), or unconditionally
/// with `None` (an unlock). Returns the store revision after.
pub async fn release(node: &Node, key: &[u8], created: Option<i64>) -> Result<i64> {
    if key.is_empty() {
        return Err(Error::KeyNotProvided);
    }
    let delete = RequestOp::DeleteRange(DeleteRangeRequest { key: key.to_vec(), ..Default::default() });
    let compare = created
        .map(|revision| Compare {
            result: CompareResult::Equal,
            target: CompareTarget::Create(revision),
            key: key.to_vec(),
            range_end: Vec::new(),
        })
        .into_iter()
        .collect();
    txn(node, TxnRequest { compare, success: vec![delete], failure: Vec::new() }).await?;
    Ok(node.read().mvcc().current_revision())
}

/// Replaces the leader's value, if `key` is still the leader key created at `revision`.
pub async fn proclaim(node: &Node, key: &[u8], revision: i64, lease: i64, value: &[u8]) -> Result<i64> {
    let put = PutRequest { key: key.to_vec(), value: value.to_vec(), lease, ..Default::default() };
    let done = txn(
        node,
        TxnRequest {
            compare: vec![Compare {
                result: CompareResult::Equal,
                target: CompareTarget::Create(revision),
                key: key.to_vec(),
                range_end: Vec::new(),
            }],
            success: vec![RequestOp::Put(put)],
            failure: Vec::new(),
        },
    )
    .await?;
    if !done {
        return Err(Error::ElectionNotLeader);
    }
    Ok(node.read().mvcc().current_revision())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_etcds_layout() {
        assert_eq!(key_for(&prefix(b"lock"), 0x694d_77aa_9e38_260f), b"lock/694d77aa9e38260f");
        assert_eq!(prefix_end(b"a/"), b"a0");
        assert_eq!(prefix_end(&[b'a', 0xff]), b"b");
        assert_eq!(prefix_end(&[0xff]), [0]);
    }
}
