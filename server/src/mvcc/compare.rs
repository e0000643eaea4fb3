//! Evaluation of txn compares against a key's current state.

use std::cmp::Ordering;

use super::{Compare, CompareResult, CompareTarget, KeyValue};

/// Whether `kv` (None = the key does not exist) satisfies `cmp`.
///
/// As in etcd, a missing key has version, revisions and lease 0, and a VALUE compare on a
/// missing key is always false.
pub fn holds(cmp: &Compare, kv: Option<&KeyValue>) -> bool {
    let ord = match (&cmp.target, kv) {
        (CompareTarget::Value(_), None) => return false,
        (CompareTarget::Value(v), Some(kv)) => kv.value.as_slice().cmp(v.as_slice()),
        (CompareTarget::Version(n), kv) => kv.map_or(0, |kv| kv.version).cmp(n),
        (CompareTarget::Create(n), kv) => kv.map_or(0, |kv| kv.create_revision).cmp(n),
        (CompareTarget::Mod(n), kv) => kv.map_or(0, |kv| kv.mod_revision).cmp(n),
        (CompareTarget::Lease(n), kv) => kv.map_or(0, |kv| kv.lease).cmp(n),
    };
    match cmp.result {
        CompareResult::Equal => ord == Ordering::Equal,
        CompareResult::NotEqual => ord != Ordering::Equal,
        CompareResult::Greater => ord == Ordering::Greater,
        CompareResult::Less => ord == Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(result: CompareResult, target: CompareTarget) -> Compare {
        Compare { result, target, key: b"k".to_vec(), range_end: vec![] }
    }

    #[test]
    fn missing_key_compares_as_zero_except_value() {
        assert!(holds(&cmp(CompareResult::Equal, CompareTarget::Version(0)), None));
        assert!(holds(&cmp(CompareResult::Equal, CompareTarget::Create(0)), None));
        assert!(!holds(&cmp(CompareResult::NotEqual, CompareTarget::Value(b"x".to_vec())), None));
    }

    #[test]
    fn relations_read_key_minus_operand() {
        let kv = KeyValue { version: 3, value: b"b".to_vec(), ..Default::default() };
        assert!(holds(&cmp(CompareResult::Greater, CompareTarget::Version(2)), Some(&kv)));
        assert!(holds(&cmp(CompareResult::Less, CompareTarget::Value(b"c".to_vec())), Some(&kv)));
        assert!(holds(&cmp(CompareResult::NotEqual, CompareTarget::Value(b"a".to_vec())), Some(&kv)));
        assert!(!holds(&cmp(CompareResult::Equal, CompareTarget::Lease(1)), Some(&kv)));
    }
}
