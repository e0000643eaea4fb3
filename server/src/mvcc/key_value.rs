//! The value of one key at one revision, and how it is stored.

use serde::{Deserialize, Serialize};

/// A key's state after a write (etcd's `mvccpb.KeyValue`), or its deletion.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyValue {
    /// The key.
    pub key: Vec<u8>,
    /// Revision of the put that created this incarnation of the key.
    pub create_revision: i64,
    /// Revision of the last write to the key.
    pub mod_revision: i64,
    /// Puts since creation: 1 on creation.
    pub version: i64,
    /// The value.
    pub value: Vec<u8>,
    /// Attached lease id, or 0.
    pub lease: i64,
}

/// What the backend holds for one revision: a put or a tombstone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// The key's state; for a tombstone only `key` and `mod_revision` are set.
    pub kv: KeyValue,
    /// True when this revision deleted the key.
    pub tombstone: bool,
}

const HEADER: usize = 1 + 8 * 4 + 4;

impl Record {
    /// Encodes for the backend: a fixed header, then key and value bytes.
    pub fn encode(&self) -> Vec<u8> {
        let kv = &self.kv;
        let mut b = Vec::with_capacity(HEADER + kv.key.len() + kv.value.len());
        b.push(u8::from(self.tombstone));
        for n in [kv.create_revision, kv.mod_revision, kv.version, kv.lease] {
            b.extend_from_slice(&n.to_be_bytes());
        }
        // Keys are bounded by the request size limit, far below 4 GiB.
        b.extend_from_slice(&(kv.key.len() as u32).to_be_bytes());
        b.extend_from_slice(&kv.key);
        b.extend_from_slice(&kv.value);
        b
    }

    /// Decodes [`Record::encode`].
    pub fn decode(b: &[u8]) -> Result<Self, String> {
        if b.len() < HEADER {
            return Err(format!("record of {} bytes is shorter than its header", b.len()));
        }
        let int = |at: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[at..at + 8]);
            i64::from_be_bytes(w)
        };
        let mut len = [0u8; 4];
        len.copy_from_slice(&b[33..HEADER]);
        let key_end = HEADER + u32::from_be_bytes(len) as usize;
        if key_end > b.len() {
            return Err("record key runs past its end".into());
        }
        Ok(Record {
            tombstone: b[0] != 0,
            kv: KeyValue {
                key: b[HEADER..key_end].to_vec(),
                create_revision: int(1),
                mod_revision: int(9),
                version: int(17),
                lease: int(25),
                value: b[key_end..].to_vec(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let r = Record {
            tombstone: false,
            kv: KeyValue {
                key: b"foo".to_vec(),
                create_revision: 2,
                mod_revision: 5,
                version: 3,
                value: b"bar".to_vec(),
                lease: -1,
            },
        };
        assert_eq!(Record::decode(&r.encode()), Ok(r));
        assert!(Record::decode(&[1, 2, 3]).is_err());
    }
}
