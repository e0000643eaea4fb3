//! Store revisions: a main revision per change, a sub revision per write inside it.

/// A point in the store's history: `main` is the revision clients see, `sub` orders the
/// writes of one txn (etcd's `revision{main, sub}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Revision {
    /// The store revision of the change.
    pub main: i64,
    /// The index of the write within its change.
    pub sub: i64,
}

/// Length of an encoded [`Revision`].
pub const REVISION_BYTES: usize = 16;

impl Revision {
    /// A revision.
    pub fn new(main: i64, sub: i64) -> Self {
        Self { main, sub }
    }

    /// Big-endian bytes, so byte order in the backend is revision order.
    pub fn to_bytes(self) -> [u8; REVISION_BYTES] {
        let mut b = [0u8; REVISION_BYTES];
        b[..8].copy_from_slice(&self.main.to_be_bytes());
        b[8..].copy_from_slice(&self.sub.to_be_bytes());
        b
    }

    /// Decodes [`Revision::to_bytes`]; `None` if `b` is not 16 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let main = i64::from_be_bytes(b.get(..8)?.try_into().ok()?);
        let sub = i64::from_be_bytes(b.get(8..REVISION_BYTES)?.try_into().ok()?);
        (b.len() == REVISION_BYTES).then_some(Self { main, sub })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_and_sort_like_revisions() {
        let a = Revision::new(2, 5);
        let b = Revision::new(3, 0);
        assert_eq!(Revision::from_bytes(&a.to_bytes()), Some(a));
        assert!(a.to_bytes() < b.to_bytes());
        assert_eq!(Revision::from_bytes(&[0; 3]), None);
    }
}
