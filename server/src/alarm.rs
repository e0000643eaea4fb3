//! Alarms: cluster-wide conditions that members raise and clear through the log (etcd's
//! alarm store). While one is active the state machine refuses the changes it forbids,
//! on every member alike, because the refusal happens where entries are applied.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::command::Command;
use crate::error::Error;
use crate::mvcc::RequestOp;

/// What an alarm is about (etcd's `AlarmType`, without `NONE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AlarmKind {
    /// The database passed `quota-backend-bytes`: writes that add data are refused.
    NoSpace,
    /// Members disagree about the data: every change is refused.
    Corrupt,
}

impl AlarmKind {
    /// etcd's name for it, as `/health?exclude=` and etcdctl show it.
    pub fn name(self) -> &'static str {
        match self {
            AlarmKind::NoSpace => "NOSPACE",
            AlarmKind::Corrupt => "CORRUPT",
        }
    }
}

/// An alarm raised by (or on behalf of) one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Alarm {
    /// The member it concerns.
    pub member: u64,
    /// What it is about.
    pub kind: AlarmKind,
}

impl std::fmt::Display for Alarm {
    /// As etcd's `AlarmMember.String()`, which Status reports among its errors.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "memberID:{} alarm:{} ", self.member, self.kind.name())
    }
}

/// The active alarms of a cluster.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alarms {
    active: BTreeSet<Alarm>,
}

impl Alarms {
    /// Raises `alarm` (again, harmlessly, if it is already active).
    pub fn activate(&mut self, alarm: Alarm) {
        self.active.insert(alarm);
    }

    /// Clears `alarm`; whether it was active.
    pub fn deactivate(&mut self, alarm: Alarm) -> bool {
        self.active.remove(&alarm)
    }

    /// Every active alarm, ordered by member, then kind.
    pub fn list(&self) -> impl Iterator<Item = &Alarm> {
        self.active.iter()
    }

    /// Whether an alarm of `kind` is active for any member.
    pub fn has(&self, kind: AlarmKind) -> bool {
        self.active.iter().any(|a| a.kind == kind)
    }

    /// The error with which the active alarms refuse `cmd`, as etcd's capped (NOSPACE)
    /// and corrupt appliers do: NOSPACE refuses what adds data (puts, txns with puts,
    /// lease grants), CORRUPT every change of the key space.
    pub fn refusal(&self, cmd: &Command) -> Option<Error> {
        if self.has(AlarmKind::Corrupt)
            && matches!(
                cmd,
                Command::Put(_)
                    | Command::DeleteRange(_)
                    | Command::Txn(_)
                    | Command::Compact(_)
                    | Command::LeaseGrant { .. }
                    | Command::LeaseRevoke { .. }
            )
        {
            return Some(Error::Corrupt);
        }
        let adds_data = match cmd {
            Command::Put(_) | Command::LeaseGrant { .. } => true,
            Command::Txn(t) => t.success.iter().chain(&t.failure).any(puts),
            _ => false,
        };
        (adds_data && self.has(AlarmKind::NoSpace)).then_some(Error::NoSpace)
    }
}

/// Whether `op` writes a key, directly or in a nested txn.
fn puts(op: &RequestOp) -> bool {
    match op {
        RequestOp::Put(_) => true,
        RequestOp::Txn(t) => t.success.iter().chain(&t.failure).any(puts),
        RequestOp::Range(_) | RequestOp::DeleteRange(_) | RequestOp::Empty => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mvcc::{DeleteRangeRequest, PutRequest, TxnRequest};

    fn put() -> PutRequest {
        PutRequest { key: b"k".to_vec(), value: b"v".to_vec(), ..Default::default() }
    }

    #[test]
    fn nospace_refuses_only_what_adds_data() {
        let mut alarms = Alarms::default();
        let nested = Command::Txn(TxnRequest {
            failure: vec![RequestOp::Txn(TxnRequest { success: vec![RequestOp::Put(put())], ..Default::default() })],
            ..Default::default()
        });
        assert_eq!(alarms.refusal(&Command::Put(put())), None, "no alarm, no refusal");
        alarms.activate(Alarm { member: 7, kind: AlarmKind::NoSpace });
        assert_eq!(alarms.refusal(&Command::Put(put())), Some(Error::NoSpace));
        assert_eq!(alarms.refusal(&nested), Some(Error::NoSpace), "a put inside a nested txn adds data");
        assert_eq!(alarms.refusal(&Command::LeaseGrant { id: 1, ttl: 5 }), Some(Error::NoSpace));
        assert_eq!(alarms.refusal(&Command::DeleteRange(DeleteRangeRequest::default())), None);
        assert_eq!(alarms.refusal(&Command::LeaseRevoke { id: 1 }), None);
        assert!(alarms.deactivate(Alarm { member: 7, kind: AlarmKind::NoSpace }));
        assert!(!alarms.deactivate(Alarm { member: 7, kind: AlarmKind::NoSpace }), "already cleared");
        assert_eq!(alarms.refusal(&Command::Put(put())), None);
    }

    #[test]
    fn corrupt_refuses_every_change() {
        let mut alarms = Alarms::default();
        alarms.activate(Alarm { member: 1, kind: AlarmKind::Corrupt });
        assert_eq!(alarms.refusal(&Command::DeleteRange(DeleteRangeRequest::default())), Some(Error::Corrupt));
        assert_eq!(alarms.refusal(&Command::LeaseRevoke { id: 1 }), Some(Error::Corrupt));
        assert_eq!(Alarm { member: 1, kind: AlarmKind::Corrupt }.to_string(), "memberID:1 alarm:CORRUPT ");
    }
}
