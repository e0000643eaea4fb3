//! Turning `put`/`get`/`del` arguments into requests, with etcdctl's validation and messages
//! (`getPutOp`, `getGetOp`, `getDelOp`); shared by the commands and by `txn` request lines.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use etcd_proto::etcdserverpb::range_request::{SortOrder, SortTarget};
use etcd_proto::etcdserverpb::{DeleteRangeRequest, PutRequest, RangeRequest};
use etcd_rs_server::mvcc::prefix_end;

use crate::cli::{DelArgs, GetArgs, PutArgs};
use crate::error::{CtlError, EXIT_BAD_FEATURE};
use crate::go::strconv::parse_int;

fn bytes(arg: &OsString) -> Vec<u8> {
    arg.as_bytes().to_vec()
}

/// Builds a PutRequest. `stdin` supplies the value when only the key is given; it returns
/// `None` when there is nothing to read.
pub fn put_request(args: &PutArgs, stdin: impl FnOnce() -> Option<Vec<u8>>) -> Result<PutRequest, CtlError> {
    let needs = "put command needs 1 argument and input from stdin or 2 arguments";
    let key = args.args.first().ok_or_else(|| CtlError::bad_args(needs))?;
    if args.ignore_value && args.args.len() > 1 {
        return Err(CtlError::bad_args("put command needs only 1 argument when 'ignore-value' is set"));
    }
    let value = if args.ignore_value {
        Vec::new()
    } else if let Some(value) = args.args.get(1) {
        bytes(value)
    } else {
        stdin().filter(|v| !v.is_empty()).ok_or_else(|| CtlError::bad_args(needs))?
    };
    let lease = parse_int(&args.lease, 16)
        .map_err(|e| CtlError::bad_args(format!("bad lease ID ({e}), expecting ID in Hex")))?;
    Ok(PutRequest {
        key: bytes(key),
        value,
        lease,
        prev_kv: args.prev_kv,
        ignore_value: args.ignore_value,
        ignore_lease: args.ignore_lease,
    })
}

const PREFIX_AND_FROM_KEY: &str = "`--prefix` and `--from-key` cannot be set at the same time, choose one";
const ONE_ARG_WITH_RANGE_FLAG: &str =
    "too many arguments, only accept one argument when `--prefix` or `--from-key` is set";

/// Applies `--prefix` / `--from-key` / an explicit range end to `key`, as clientv3's
/// `WithPrefix`, `WithFromKey` and `WithRange` do. An empty key with either flag means
/// "all keys" (`"\0"`..`"\0"`).
fn key_range(key: Vec<u8>, range_end: Option<Vec<u8>>, prefix: bool, from_key: bool) -> (Vec<u8>, Vec<u8>) {
    if (prefix || from_key) && key.is_empty() {
        return (vec![0], vec![0]);
    }
    if prefix {
        let end = prefix_end(&key);
        return (key, end);
    }
    if from_key {
        return (key, vec![0]);
    }
    (key, range_end.unwrap_or_default())
}

/// Builds a RangeRequest from `get` arguments.
pub fn range_request(args: &GetArgs) -> Result<RangeRequest, CtlError> {
    let key = args.args.first().ok_or_else(|| {
        CtlError::bad_args("get command needs one argument as key and an optional argument as range_end")
    })?;
    if args.prefix && args.from_key {
        return Err(CtlError::bad_args(PREFIX_AND_FROM_KEY));
    }
    // --count-only is etcdctl 3.5's; its checks are kept with it.
    if args.keys_only && args.count_only {
        return Err(CtlError::bad_args("`--keys-only` and `--count-only` cannot be set at the same time, choose one"));
    }
    let serializable = match args.consistency.as_str() {
        "s" => true,
        "l" => false,
        other => {
            return Err(CtlError::new(
                EXIT_BAD_FEATURE,
                format!("unknown consistency flag {}", crate::go::quote::quote(other.as_bytes())),
            ));
        }
    };
    let range_end = args.args.get(1).map(bytes);
    if range_end.is_some() && (args.prefix || args.from_key) {
        return Err(CtlError::bad_args(ONE_ARG_WITH_RANGE_FLAG));
    }
    let order = match args.order.to_uppercase().as_str() {
        "ASCEND" => SortOrder::Ascend,
        "DESCEND" => SortOrder::Descend,
        "" => SortOrder::None,
        _ => {
            return Err(CtlError::new(EXIT_BAD_FEATURE, format!("bad sort order {}", args.order)));
        }
    };
    let target = match args.sort_by.to_uppercase().as_str() {
        "CREATE" => SortTarget::Create,
        "KEY" | "" => SortTarget::Key,
        "MODIFY" => SortTarget::Mod,
        "VALUE" => SortTarget::Value,
        "VERSION" => SortTarget::Version,
        _ => {
            return Err(CtlError::new(EXIT_BAD_FEATURE, format!("bad sort target {}", args.sort_by)));
        }
    };
    // Keys come back in ascending key order anyway; clientv3 sends KEY+ASCEND as NONE so
    // the server need not fetch and sort the whole range before applying the limit.
    let order = if target == SortTarget::Key && order == SortOrder::Ascend { SortOrder::None } else { order };
    let (key, range_end) = key_range(bytes(key), range_end, args.prefix, args.from_key);
    Ok(RangeRequest {
        key,
        range_end,
        limit: args.limit,
        revision: args.rev.max(0),
        sort_order: order as i32,
        sort_target: target as i32,
        serializable,
        keys_only: args.keys_only,
        count_only: args.count_only,
        ..Default::default()
    })
}

/// Builds a DeleteRangeRequest from `del` arguments.
pub fn delete_request(args: &DelArgs) -> Result<DeleteRangeRequest, CtlError> {
    if args.args.is_empty() || args.args.len() > 2 {
        return Err(CtlError::bad_args("del command needs one argument as key and an optional argument as range_end"));
    }
    if args.prefix && args.from_key {
        return Err(CtlError::bad_args(PREFIX_AND_FROM_KEY));
    }
    let range_end = args.args.get(1).map(bytes);
    if range_end.is_some() && (args.prefix || args.from_key) {
        return Err(CtlError::bad_args(ONE_ARG_WITH_RANGE_FLAG));
    }
    let (key, range_end) = key_range(bytes(&args.args[0]), range_end, args.prefix, args.from_key);
    Ok(DeleteRangeRequest { key, range_end, prev_kv: args.prev_kv })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn get_prefix_and_from_key_ranges() {
        let mut args = GetArgs { consistency: "l".into(), prefix: true, args: os(&["foo"]), ..Default::default() };
        let r = range_request(&args).ok();
        assert_eq!(r.map(|r| (r.key, r.range_end)), Some((b"foo".to_vec(), b"fop".to_vec())));
        args.args = os(&[""]);
        let r = range_request(&args).ok();
        assert_eq!(r.map(|r| (r.key, r.range_end)), Some((vec![0], vec![0])));
        args.prefix = false;
        args.from_key = true;
        args.args = os(&["b"]);
        let r = range_request(&args).ok();
        assert_eq!(r.map(|r| (r.key, r.range_end)), Some((b"b".to_vec(), vec![0])));
    }

    #[test]
    fn get_sorting_follows_clientv3() {
        let mut args =
            GetArgs { consistency: "s".into(), order: "ascend".into(), args: os(&["k"]), ..Default::default() };
        let r = range_request(&args).ok();
        assert_eq!(r.as_ref().map(|r| r.sort_order), Some(SortOrder::None as i32));
        assert_eq!(r.map(|r| r.serializable), Some(true));
        args.order = "DESCEND".into();
        args.sort_by = "modify".into();
        let r = range_request(&args).ok();
        assert_eq!(r.map(|r| (r.sort_order, r.sort_target)), Some((SortOrder::Descend as i32, SortTarget::Mod as i32)));
    }

    #[test]
    fn get_errors_match_etcdctl() {
        let args = GetArgs { consistency: "x".into(), args: os(&["k"]), ..Default::default() };
        assert_eq!(range_request(&args).err(), Some(CtlError::new(EXIT_BAD_FEATURE, "unknown consistency flag \"x\"")));
        let args = GetArgs { consistency: "l".into(), prefix: true, args: os(&["a", "b"]), ..Default::default() };
        assert_eq!(range_request(&args).err(), Some(CtlError::bad_args(ONE_ARG_WITH_RANGE_FLAG)));
        let args = GetArgs::default();
        assert_eq!(range_request(&args).err().map(|e| e.code()), Some(128));
    }

    #[test]
    fn put_value_sources_and_lease() {
        let args = PutArgs { lease: "2040a21ea61af13c".into(), args: os(&["k"]), ..Default::default() };
        let r = put_request(&args, || Some(b"from stdin\n".to_vec())).ok();
        assert_eq!(r.map(|r| (r.value, r.lease)), Some((b"from stdin\n".to_vec(), 0x2040a21ea61af13c)));
        assert_eq!(
            put_request(&args, || Some(Vec::new())).err(),
            Some(CtlError::bad_args("put command needs 1 argument and input from stdin or 2 arguments"))
        );
        let args = PutArgs { lease: "zz".into(), args: os(&["k", "v"]), ..Default::default() };
        assert_eq!(
            put_request(&args, || None).err(),
            Some(CtlError::bad_args(
                "bad lease ID (strconv.ParseInt: parsing \"zz\": invalid syntax), expecting ID in Hex"
            ))
        );
    }

    #[test]
    fn del_argument_count() {
        let args = DelArgs { args: os(&["a", "b", "c"]), ..Default::default() };
        assert_eq!(delete_request(&args).err().map(|e| e.code()), Some(128));
        let args = DelArgs { prefix: true, prev_kv: true, args: os(&["foo"]), ..Default::default() };
        let r = delete_request(&args).ok();
        assert_eq!(r.map(|r| (r.key, r.range_end, r.prev_kv)), Some((b"foo".to_vec(), b"fop".to_vec(), true)));
    }
}
