//! etcd's key-range convention, shared by Range, DeleteRange, Compare and Watch.

use std::ops::Bound;

/// Map bounds over keys.
pub type KeyBounds = (Bound<Vec<u8>>, Bound<Vec<u8>>);

/// The keys a `(key, range_end)` pair names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    /// Exactly one key (`range_end` empty).
    Single(Vec<u8>),
    /// `[start, end)`; `end = None` means unbounded (`range_end == "\0"`).
    Span(Vec<u8>, Option<Vec<u8>>),
}

/// The end of the range of keys starting with `prefix` (clientv3's `GetPrefixRangeEnd`):
/// the prefix with its last byte below 0xff incremented, or `"\0"` (every key from the
/// prefix on) when there is none.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

impl KeyRange {
    /// Interprets a request's key and range end.
    pub fn new(key: &[u8], range_end: &[u8]) -> Self {
        match range_end {
            [] => KeyRange::Single(key.to_vec()),
            [0] => KeyRange::Span(key.to_vec(), None),
            end => KeyRange::Span(key.to_vec(), Some(end.to_vec())),
        }
    }

    /// Whether `k` falls in the range.
    pub fn contains(&self, k: &[u8]) -> bool {
        match self {
            KeyRange::Single(key) => key.as_slice() == k,
            KeyRange::Span(start, end) => k >= start.as_slice() && end.as_ref().is_none_or(|e| k < e.as_slice()),
        }
    }

    /// The range as map bounds; `None` when it is empty (`range_end <= key`).
    pub fn bounds(&self) -> Option<KeyBounds> {
        match self {
            KeyRange::Single(k) => Some((Bound::Included(k.clone()), Bound::Included(k.clone()))),
            KeyRange::Span(start, None) => Some((Bound::Included(start.clone()), Bound::Unbounded)),
            KeyRange::Span(start, Some(end)) if end > start => {
                Some((Bound::Included(start.clone()), Bound::Excluded(end.clone())))
            }
            KeyRange::Span(..) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conventions() {
        assert!(KeyRange::new(b"a", b"").contains(b"a"));
        assert!(!KeyRange::new(b"a", b"").contains(b"ab"));
        let from = KeyRange::new(b"b", b"\0");
        assert!(from.contains(b"zzz") && !from.contains(b"a"));
        let span = KeyRange::new(b"a", b"c");
        assert!(span.contains(b"b") && !span.contains(b"c"));
        assert_eq!(KeyRange::new(b"c", b"a").bounds(), None);
        assert_eq!(KeyRange::new(b"c", b"c").bounds(), None);
    }

    #[test]
    fn prefix_end_increments_the_last_byte_below_0xff() {
        assert_eq!(prefix_end(b"aa"), b"ab");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff\xff"), b"\0");
    }
}
