//! etcdctl's `txn` input: three blocks (compares, success requests, failure requests), each
//! ended by an empty line, parsed with etcdctl 3.4's rules and error messages.
//!
//! Compare lines are `<target>("<key>") <op> "<value>"`, scanned like Go's
//! `fmt.Sscanf(rest, "%q) %s %q", ...)`. Request lines are `put`/`get`/`del` commands, split
//! like etcdctl's `argify` (quirks included) and parsed with the commands' own flags.

use std::ffi::OsString;
use std::io::BufRead;
use std::os::unix::ffi::OsStringExt;

use clap::Parser;
use clap::error::ErrorKind;
use etcd_proto::etcdserverpb::compare::{CompareResult, CompareTarget, TargetUnion};
use etcd_proto::etcdserverpb::request_op::Request;
use etcd_proto::etcdserverpb::{Compare, RequestOp, TxnRequest};

use crate::cli::TxnOpLine;
use crate::error::{CtlError, EXIT_INVALID_INPUT};
use crate::go::quote::{quote, unquote};
use crate::go::strconv::parse_int;
use crate::ops;

/// Reads a whole transaction from `input`. `prompt` is called before each block (etcdctl
/// prints the prompts only with `--interactive`).
pub fn read_txn(input: &mut impl BufRead, prompt: &mut impl FnMut(&str)) -> Result<TxnRequest, CtlError> {
    prompt("compares:");
    let compare = read_block(input, parse_compare)?;
    prompt("success requests (get, put, del):");
    let success = read_block(input, parse_request)?;
    prompt("failure requests (get, put, del):");
    let failure = read_block(input, parse_request)?;
    Ok(TxnRequest { compare, success, failure })
}

fn invalid_input(message: impl std::fmt::Display) -> CtlError {
    CtlError::new(EXIT_INVALID_INPUT, message)
}

/// Reads lines until an empty one, parsing each. Like Go's `ReadString('\n')`, a last line
/// without its newline is an `EOF` error.
fn read_block<T>(input: &mut impl BufRead, parse: fn(&[u8]) -> Result<T, CtlError>) -> Result<Vec<T>, CtlError> {
    let mut items = Vec::new();
    loop {
        let mut line = Vec::new();
        input.read_until(b'\n', &mut line).map_err(invalid_input)?;
        if line.last() != Some(&b'\n') {
            return Err(invalid_input("EOF"));
        }
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(items);
        }
        items.push(parse(line)?);
    }
}

fn lossy(line: &[u8]) -> String {
    String::from_utf8_lossy(line).into_owned()
}

/// Parses one compare line.
pub fn parse_compare(line: &[u8]) -> Result<Compare, CtlError> {
    let text = lossy(line);
    let Some(paren) = line.iter().position(|&b| b == b'(') else {
        return Err(invalid_input(format!("malformed comparison: {text}")));
    };
    let target = &line[..paren];
    let scanned = scan_compare(&line[paren + 1..]);
    let (Some(key), Some(op), Some(value)) = (&scanned.key, &scanned.op, &scanned.value) else {
        let empty = Vec::new();
        return Err(invalid_input(format!(
            "malformed comparison: {text}; got {}({}) {} {}",
            lossy(target),
            quote(scanned.key.as_ref().unwrap_or(&empty)),
            lossy(scanned.op.as_ref().unwrap_or(&empty)),
            quote(scanned.value.as_ref().unwrap_or(&empty)),
        )));
    };
    let numeric = |t: CompareTarget, wrap: fn(i64) -> TargetUnion| {
        // A bad number is reported before a bad operator, as in etcdctl.
        let n =
            parse_int(&lossy(value), 10).map_err(|_| invalid_input(format!("invalid txn compare request: {text}")))?;
        compare(key, t, op, wrap(n))
    };
    match target {
        b"ver" | b"version" => numeric(CompareTarget::Version, TargetUnion::Version),
        b"c" | b"create" => numeric(CompareTarget::Create, TargetUnion::CreateRevision),
        b"m" | b"mod" => numeric(CompareTarget::Mod, TargetUnion::ModRevision),
        b"val" | b"value" => compare(key, CompareTarget::Value, op, TargetUnion::Value(value.clone())),
        // etcdctl 3.4.23 passes the value string where clientv3 wants a lease id and panics
        // (after checking the operator); reproduce the failure rather than guess intent.
        b"lease" => {
            compare_result(op)?;
            Err(CtlError::Panic("bad value".to_string()))
        }
        _ => Err(invalid_input(format!("malformed comparison: {text} (unknown target {})", lossy(target)))),
    }
}

fn compare_result(op: &[u8]) -> Result<CompareResult, CtlError> {
    match op {
        b"=" => Ok(CompareResult::Equal),
        b"!=" => Ok(CompareResult::NotEqual),
        b">" => Ok(CompareResult::Greater),
        b"<" => Ok(CompareResult::Less),
        // clientv3.Compare panics on anything else.
        _ => Err(CtlError::Panic("Unknown result op".to_string())),
    }
}

fn compare(key: &[u8], target: CompareTarget, op: &[u8], value: TargetUnion) -> Result<Compare, CtlError> {
    Ok(Compare {
        result: compare_result(op)? as i32,
        target: target as i32,
        key: key.to_vec(),
        range_end: Vec::new(),
        target_union: Some(value),
    })
}

/// What `Sscanf(rest, "%q) %s %q", &key, &op, &val)` assigned before it stopped.
#[derive(Debug, Default, PartialEq, Eq)]
struct ScannedCompare {
    key: Option<Vec<u8>>,
    op: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
}

fn scan_compare(input: &[u8]) -> ScannedCompare {
    let mut out = ScannedCompare::default();
    let mut s = Scanner { input, pos: 0 };
    let Some(key) = s.quoted() else { return out };
    out.key = Some(key);
    // The literal `)` must follow the key directly.
    if !s.literal(b')') || !s.format_space() {
        return out;
    }
    let Some(op) = s.word() else { return out };
    out.op = Some(op);
    if !s.format_space() {
        return out;
    }
    out.value = s.quoted();
    out
}

/// A cursor with the pieces of Go's `fmt` scanning that the compare format uses.
struct Scanner<'a> {
    input: &'a [u8],
    pos: usize,
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(is_space) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// A space in a Go scan format matches one or more spaces, or the end of input.
    fn format_space(&mut self) -> bool {
        match self.peek() {
            None => true,
            Some(b) if is_space(b) => {
                self.skip_spaces();
                true
            }
            Some(_) => false,
        }
    }

    /// `%s`: the next run of non-space bytes.
    fn word(&mut self) -> Option<Vec<u8>> {
        self.skip_spaces();
        let start = self.pos;
        while self.peek().is_some_and(|b| !is_space(b)) {
            self.pos += 1;
        }
        (self.pos > start).then(|| self.input[start..self.pos].to_vec())
    }

    /// `%q`: a back-quoted string, or a double-quoted one with Go escapes.
    fn quoted(&mut self) -> Option<Vec<u8>> {
        self.skip_spaces();
        let start = self.pos;
        let quote = self.peek().filter(|&b| b == b'"' || b == b'`')?;
        self.pos += 1;
        loop {
            let b = self.peek()?;
            self.pos += 1;
            if b == quote {
                break;
            }
            if b == b'\\' && quote == b'"' {
                // Only the byte right after a backslash can itself be a quote.
                self.peek()?;
                self.pos += 1;
            }
        }
        unquote(&self.input[start..self.pos]).ok()
    }
}

/// Parses one request line into a RequestOp.
pub fn parse_request(line: &[u8]) -> Result<RequestOp, CtlError> {
    let text = lossy(line);
    let args = argify(line)?;
    if args.len() < 2 {
        return Err(invalid_input(format!("invalid txn compare request: {text}")));
    }
    let invalid = || format!("invalid txn request: {text}");
    let os_args = args.iter().cloned().map(OsString::from_vec);
    let parsed = TxnOpLine::try_parse_from(os_args).map_err(|err| {
        match (err.kind(), usage_for(&args[0])) {
            // Choosing the command failed: cobra reports it without usage.
            (ErrorKind::InvalidSubcommand | ErrorKind::MissingSubcommand, _) | (_, None) => invalid_input(invalid()),
            // A flag or argument of put/get/del failed: cobra prints that command's usage.
            (_, Some(usage)) => CtlError::Usage { usage, code: EXIT_INVALID_INPUT, message: invalid() },
        }
    })?;
    let request = match parsed {
        TxnOpLine::Put(a) => Request::RequestPut(ops::put_request(&a, || None)?),
        TxnOpLine::Get(a) => Request::RequestRange(ops::range_request(&a)?),
        TxnOpLine::Del(a) => Request::RequestDeleteRange(ops::delete_request(&a)?),
    };
    Ok(RequestOp { request: Some(request) })
}

/// The usage block cobra prints for a request command (`name` may be a unique prefix).
fn usage_for(name: &[u8]) -> Option<&'static str> {
    let mut matches = [("put", PUT_USAGE), ("get", GET_USAGE), ("del", DEL_USAGE)]
        .into_iter()
        .filter(|(cmd, _)| !name.is_empty() && cmd.as_bytes().starts_with(name));
    match (matches.next(), matches.next()) {
        (Some((_, usage)), None) => Some(usage),
        _ => None,
    }
}

const PUT_USAGE: &str = "Usage:
   put [options] <key> <value> (<value> can also be given from stdin) [flags]

Flags:
  -h, --help           help for put
      --ignore-lease   updates the key using its current lease
      --ignore-value   updates the key using its current value
      --lease string   lease ID (in hexadecimal) to attach to the key (default \"0\")
      --prev-kv        return the previous key-value pair before modification

";

const GET_USAGE: &str = "Usage:
   get [options] <key> [range_end] [flags]

Flags:
      --consistency string   Linearizable(l) or Serializable(s) (default \"l\")
      --from-key             Get keys that are greater than or equal to the given key using byte compare
  -h, --help                 help for get
      --keys-only            Get only the keys
      --limit int            Maximum number of results
      --order string         Order of results; ASCEND or DESCEND (ASCEND by default)
      --prefix               Get keys with matching prefix
      --print-value-only     Only write values when using the \"simple\" output format
      --rev int              Specify the kv revision
      --sort-by string       Sort target; CREATE, KEY, MODIFY, VALUE, or VERSION

";

const DEL_USAGE: &str = "Usage:
   del [options] <key> [range_end] [flags]

Flags:
      --from-key   delete keys that are greater than or equal to the given key using byte compare
  -h, --help       help for del
      --prefix     delete keys with matching prefix
      --prev-kv    return deleted key-value pairs

";

/// Splits a request line into arguments like etcdctl's `argify`: the regexp
/// `"(?:[^"\\]|\\.)*"|'[^']*'|[^'"\s]\S*[^'"\s]?`, then unquoting.
///
/// etcdctl 3.4 strips single quotes with `arg[1 : len(args)-1]`, using the number of
/// arguments instead of the argument's length; that bug (and the panic it can cause) is
/// reproduced so lines mean the same to both tools.
pub fn argify(line: &[u8]) -> Result<Vec<Vec<u8>>, CtlError> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < line.len() {
        match token_end(line, i) {
            Some(end) => {
                tokens.push(line[i..end].to_vec());
                i = end;
            }
            None => i += 1,
        }
    }
    let count = tokens.len();
    tokens
        .into_iter()
        .map(|token| match token.first() {
            Some(b'\'') => {
                let high = count - 1;
                if high > token.len() {
                    Err(CtlError::Panic(format!(
                        "runtime error: slice bounds out of range [:{high}] with length {}",
                        token.len()
                    )))
                } else if high < 1 {
                    Err(CtlError::Panic(format!("runtime error: slice bounds out of range [1:{high}]")))
                } else {
                    Ok(token[1..high].to_vec())
                }
            }
            Some(b'"') => unquote(&token).map_err(invalid_input),
            _ => Ok(token),
        })
        .collect()
}

/// The end of the argify regexp's match starting at `i`, if one starts there.
fn token_end(line: &[u8], i: usize) -> Option<usize> {
    // RE2's \s: [\t\n\f\r ].
    let is_re_space = |b: u8| matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' ');
    match line[i] {
        b'"' => {
            let mut j = i + 1;
            while j < line.len() {
                match line[j] {
                    b'"' => return Some(j + 1),
                    b'\\' if line.get(j + 1).is_some_and(|&b| b != b'\n') => j += 2,
                    b'\\' => return None,
                    _ => j += 1,
                }
            }
            None
        }
        b'\'' => line[i + 1..].iter().position(|&b| b == b'\'').map(|p| i + 1 + p + 1),
        b if is_re_space(b) => None,
        _ => Some(line[i..].iter().position(|&b| is_re_space(b)).map_or(line.len(), |p| i + p)),
    }
}

#[cfg(test)]
mod tests;
