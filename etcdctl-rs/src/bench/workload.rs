//! What each benchmark request is: etcd `benchmark`'s key layout for puts (a zigzag varint
//! of the key number at the start of a `key-size` buffer) and fixed ranges.

use etcd_proto::etcdserverpb::{PutRequest, RangeRequest};

use crate::cli::{LeaseCycleArgs, PutArgs, RangeArgs, V2GetArgs, V2SetArgs};
use crate::error::BenchError;
use crate::rng::Rng;

/// The request stream of one benchmark.
pub enum Workload {
    /// Puts of `value` under keys drawn from `key_space` numbers.
    Put {
        /// Bytes per key.
        key_size: usize,
        /// How many distinct keys.
        key_space: u64,
        /// Key number `i % key_space` for request `i` instead of a random one.
        sequential: bool,
        /// The value every put writes.
        value: Vec<u8>,
    },
    /// The same range request every time.
    Range(RangeRequest),
    /// v2 sets of `value` (form-encoded) under `/bench/<n>`.
    V2Set {
        /// How many distinct keys.
        key_space: u64,
        /// The form body every set sends.
        body: String,
    },
    /// The same v2 get every time.
    V2Get(String),
    /// Grant, put under `lease-cycle/<n>` with the lease, revoke.
    LeaseCycle {
        /// The value every put writes.
        value: Vec<u8>,
    },
    /// Keep-alives of each client's own lease.
    KeepAlive,
}

/// One request to send.
pub enum Request {
    /// A KV.Put.
    Put(PutRequest),
    /// A KV.Range.
    Range(RangeRequest),
    /// An HTTP request of the v2 API: method, path and query, form body.
    Http(&'static str, String, String),
    /// A lease cycle on this key with this value.
    LeaseCycle(Vec<u8>, Vec<u8>),
    /// One keep-alive.
    KeepAlive,
}

impl Workload {
    /// The put workload; fails when `key-size` cannot hold the largest key number.
    pub fn put(args: &PutArgs, rng: &mut Rng) -> Result<Self, BenchError> {
        let largest = varint(args.key_space_size - 1).len();
        if largest > args.key_size {
            return Err(BenchError::KeySize {
                key_size: args.key_size,
                needed: largest,
                key_space_size: args.key_space_size,
            });
        }
        Ok(Workload::Put {
            key_size: args.key_size,
            key_space: args.key_space_size,
            sequential: args.sequential_keys,
            value: rng.bytes(args.val_size),
        })
    }

    /// The range workload (`s` consistency means serializable reads).
    pub fn range(args: &RangeArgs) -> Self {
        Workload::Range(RangeRequest {
            key: args.key.clone().into_bytes(),
            range_end: args.end.clone().unwrap_or_default().into_bytes(),
            serializable: args.consistency == "s",
            ..Default::default()
        })
    }

    /// The v2 set workload: values of printable random bytes.
    pub fn v2_set(args: &V2SetArgs, rng: &mut Rng) -> Self {
        let value: String = rng.bytes(args.val_size).iter().map(|b| char::from(b'a' + b % 26)).collect();
        Workload::V2Set { key_space: args.key_space_size, body: format!("value={value}") }
    }

    /// The v2 get workload.
    pub fn v2_get(args: &V2GetArgs) -> Self {
        let key = args.key.trim_start_matches('/');
        Workload::V2Get(format!("/v2/keys/{key}?quorum={}", args.quorum))
    }

    /// The lease cycle workload.
    pub fn lease_cycle(args: &LeaseCycleArgs, rng: &mut Rng) -> Self {
        Workload::LeaseCycle { value: rng.bytes(args.val_size) }
    }

    /// Whether requests go over the v2 HTTP API rather than gRPC.
    pub fn is_http(&self) -> bool {
        matches!(self, Workload::V2Set { .. } | Workload::V2Get(_))
    }

    /// The `i`th request (`rng` picks random keys).
    pub fn request(&self, i: u64, rng: &mut Rng) -> Request {
        match self {
            Workload::Put { key_size, key_space, sequential, value } => {
                let n = if *sequential { i % key_space } else { rng.below(*key_space) };
                let mut key = vec![0u8; *key_size];
                let encoded = varint(n);
                key[..encoded.len()].copy_from_slice(&encoded);
                Request::Put(PutRequest { key, value: value.clone(), ..Default::default() })
            }
            Workload::Range(req) => Request::Range(req.clone()),
            Workload::V2Set { key_space, body } => {
                Request::Http("PUT", format!("/v2/keys/bench/{}", rng.below(*key_space)), body.clone())
            }
            Workload::V2Get(path) => Request::Http("GET", path.clone(), String::new()),
            Workload::LeaseCycle { value } => {
                Request::LeaseCycle(format!("lease-cycle/{i}").into_bytes(), value.clone())
            }
            Workload::KeepAlive => Request::KeepAlive,
        }
    }
}

/// Go's `binary.PutVarint` encoding: zigzag, then base-128 little-endian groups.
fn varint(n: u64) -> Vec<u8> {
    // Key numbers are below i64::MAX, so zigzag is just a doubling.
    let mut ux = n << 1;
    let mut out = Vec::with_capacity(10);
    while ux >= 0x80 {
        out.push(ux as u8 | 0x80);
        ux >>= 7;
    }
    out.push(ux as u8);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_matches_go() {
        assert_eq!(varint(0), [0]);
        assert_eq!(varint(1), [2]);
        assert_eq!(varint(63), [126]);
        assert_eq!(varint(64), [0x80, 0x01]);
    }

    #[test]
    fn sequential_put_keys() {
        let args =
            PutArgs { total: 4, key_size: 8, val_size: 3, key_space_size: 2, sequential_keys: true, idle_watchers: 0 };
        let mut rng = Rng::new(1);
        let Ok(w) = Workload::put(&args, &mut rng) else {
            panic!("valid workload");
        };
        let keys: Vec<Vec<u8>> = (0..3)
            .map(|i| match w.request(i, &mut rng) {
                Request::Put(p) => p.key,
                _ => Vec::new(),
            })
            .collect();
        assert_eq!(keys[0], [0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(keys[1], [2, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(keys[2], keys[0]);
    }

    #[test]
    fn key_size_must_fit_key_space() {
        let args = PutArgs {
            total: 1,
            key_size: 1,
            val_size: 1,
            key_space_size: 1000,
            sequential_keys: false,
            idle_watchers: 0,
        };
        assert!(Workload::put(&args, &mut Rng::new(1)).is_err());
    }
}
