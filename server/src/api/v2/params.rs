//! `/v2/keys` request parameters, read as etcd's `parseKeyRequest` reads them: from the
//! query or a form body (the body first), first value of each name, Go's booleans, and
//! the same checks in the same order.

use crate::v2store::{Code, Method, V2Error, V2Write, clean_path, text};

/// The query and form parameters of one request, body pairs first. Values stay bytes, as
/// Go's do: a value that is not UTF-8 is stored as sent.
pub struct Form {
    pairs: Vec<(String, Vec<u8>)>,
}

/// What a `/v2/keys` request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRequest {
    /// A read.
    Get {
        /// The clean path.
        path: String,
        /// Whole subtree.
        recursive: bool,
        /// Through the log's read index.
        quorum: bool,
    },
    /// A long-poll watch.
    Watch {
        /// The clean path.
        path: String,
        /// Events below the path too.
        recursive: bool,
        /// Keep the response open for more events.
        stream: bool,
        /// First index of interest (0 = the next change).
        wait_index: u64,
    },
    /// A write, with a TTL in seconds still to be turned into an expiry time.
    Write {
        /// The write.
        write: V2Write,
        /// `ttl`, if given.
        ttl: Option<u64>,
        /// Leave the nodes out of the response.
        no_value_on_success: bool,
    },
}

/// The HTTP method of a `/v2/keys` request, as far as its parameters care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `GET`: a read or a watch.
    Get,
    /// `HEAD`: a read whose body is left out; no watch.
    Head,
    /// `PUT`, `POST` or `DELETE`.
    Write(Method),
}

/// Go's `strconv.ParseBool`.
fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `url.ParseQuery`: `&`-separated pairs, `+` a space, `%XX` a byte. It refuses a
/// bad escape (the first one found is reported) and, since Go 1.17, a `;` in a pair
/// (reported over any bad escape).
fn parse_pairs(raw: &[u8], pairs: &mut Vec<(String, Vec<u8>)>) -> Result<(), V2Error> {
    let mut first_bad_escape = None;
    for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        if pair.contains(&b';') {
            return Err(V2Error::request(Code::InvalidForm, "invalid semicolon separator in query"));
        }
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        match unescape(name).and_then(|n| Ok((n, unescape(value)?))) {
            Ok((name, value)) => pairs.push((text(&name).into_owned(), value)),
            Err(bad) => {
                let message = format!("invalid URL escape \"{}\"", text(bad));
                first_bad_escape.get_or_insert(V2Error::request(Code::InvalidForm, message));
            }
        }
    }
    first_bad_escape.map_or(Ok(()), Err)
}

/// `+` as a space, `%XX` as its byte, in one pass; a bad escape is returned as Go quotes
/// it (the `%` and at most two bytes after it).
fn unescape(s: &[u8]) -> Result<Vec<u8>, &[u8]> {
    let hex = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'+' => out.push(b' '),
            b'%' => match (s.get(i + 1).copied().and_then(hex), s.get(i + 2).copied().and_then(hex)) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => return Err(&s[i..(i + 3).min(s.len())]),
            },
            b => out.push(b),
        }
        i += 1;
    }
    Ok(out)
}

impl Form {
    /// Parses the query and a form body (which Go reads only for PUT and POST with a form
    /// content type: the caller decides).
    pub fn parse(query: Option<&str>, body: Option<&[u8]>) -> Result<Self, V2Error> {
        let mut pairs = Vec::new();
        if let Some(body) = body {
            parse_pairs(body, &mut pairs)?;
        }
        if let Some(q) = query {
            parse_pairs(q.as_bytes(), &mut pairs)?;
        }
        Ok(Self { pairs })
    }

    fn value(&self, name: &str) -> Option<&[u8]> {
        self.pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_slice())
    }

    /// A value read as text, for flags and numbers: one that is not UTF-8 reads as
    /// U+FFFD, which no flag or number parser takes, as Go's take no such bytes.
    fn text_value(&self, name: &str) -> Option<&str> {
        self.value(name).map(|v| std::str::from_utf8(v).unwrap_or("\u{FFFD}"))
    }

    /// `message` is built only for a bad value: formatting it for every flag of every
    /// request showed in profiles.
    fn boolean(&self, name: &str, message: impl FnOnce() -> String) -> Result<Option<bool>, V2Error> {
        self.text_value(name)
            .map(|v| parse_bool(v).ok_or_else(|| V2Error::request(Code::InvalidField, message())))
            .transpose()
    }

    fn flag(&self, name: &str) -> Result<bool, V2Error> {
        Ok(self.boolean(name, || format!("invalid value for \"{name}\""))?.unwrap_or(false))
    }

    fn number(&self, name: &str, code: Code) -> Result<u64, V2Error> {
        match self.text_value(name) {
            None => Ok(0),
            Some(v) => parse_uint(v, 10).ok_or_else(|| V2Error::request(code, format!("invalid value for \"{name}\""))),
        }
    }

    /// The request, checked in etcd's order.
    pub fn key_request(&self, key: &str, verb: Verb) -> Result<KeyRequest, V2Error> {
        let path = clean_path(key);
        let prev_index = self.number("prevIndex", Code::IndexNaN)?;
        let wait_index = self.number("waitIndex", Code::IndexNaN)?;
        let recursive = self.flag("recursive")?;
        self.flag("sorted")?;
        let wait = self.flag("wait")?;
        let dir = self.flag("dir")?;
        let quorum = self.flag("quorum")?;
        let stream = self.flag("stream")?;
        if wait && verb != Verb::Get {
            return Err(V2Error::request(Code::InvalidField, "\"wait\" can only be used with GET requests"));
        }
        let prev_value = self.value("prevValue");
        if prev_value == Some(b"") {
            return Err(V2Error::request(Code::PrevValueRequired, "\"prevValue\" cannot be empty"));
        }
        let no_value_on_success = self.flag("noValueOnSuccess")?;
        let ttl = match self.text_value("ttl") {
            Some(v) if !v.is_empty() => {
                Some(parse_uint(v, 10).ok_or_else(|| V2Error::request(Code::TtlNaN, "invalid value for \"ttl\""))?)
            }
            _ => None,
        };
        let prev_exist = self.boolean("prevExist", || "invalid value for prevExist".into())?;
        let refresh = self.boolean("refresh", || "invalid value for refresh".into())?.unwrap_or(false);
        if refresh {
            if self.value("value").is_some_and(|v| !v.is_empty()) {
                return Err(V2Error::request(Code::RefreshValue, "A value was provided on a refresh"));
            }
            if ttl.is_none() {
                return Err(V2Error::request(Code::RefreshTtlRequired, "No TTL value set"));
            }
        }
        let Verb::Write(method) = verb else {
            return Ok(if wait {
                KeyRequest::Watch { path, recursive, stream, wait_index }
            } else {
                KeyRequest::Get { path, recursive, quorum }
            });
        };
        let write = V2Write {
            method,
            path,
            value: self.value("value").unwrap_or_default().to_vec(),
            dir,
            prev_exist,
            prev_index,
            prev_value: prev_value.unwrap_or_default().to_vec(),
            recursive,
            expire_at: None,
            refresh,
        };
        Ok(KeyRequest::Write { write, ttl, no_value_on_success })
    }
}

/// A number as Go's `strconv.ParseUint(v, radix, 64)` reads it: Rust's parser also takes
/// a leading `+`, which etcd refuses.
pub(super) fn parse_uint(v: &str, radix: u32) -> Option<u64> {
    if v.starts_with('+') { None } else { u64::from_str_radix(v, radix).ok() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(method: Option<Method>, query: &str, body: &str) -> Result<KeyRequest, V2Error> {
        let form = Form::parse(Some(query), method.map(|_| body.as_bytes()))?;
        form.key_request("/a//b/", method.map_or(Verb::Get, Verb::Write))
    }

    fn err(r: Result<KeyRequest, V2Error>) -> (u16, String) {
        let e = r.expect_err("error");
        (e.code.number(), e.cause)
    }

    #[test]
    fn body_wins_over_query_and_paths_are_clean() {
        let Ok(KeyRequest::Write { write, ttl, .. }) = req(Some(Method::Put), "value=q&ttl=5", "value=b") else {
            panic!("a write")
        };
        assert_eq!((write.path.as_str(), write.value.as_slice(), ttl), ("/a/b", &b"b"[..], Some(5)));
    }

    #[test]
    fn errors_as_etcd_reports_them() {
        assert_eq!(err(req(None, "prevIndex=x", "")), (203, "invalid value for \"prevIndex\"".into()));
        assert_eq!(err(req(None, "waitIndex=-1", "")), (203, "invalid value for \"waitIndex\"".into()));
        assert_eq!(err(req(None, "recursive=yes", "")), (209, "invalid value for \"recursive\"".into()));
        assert_eq!(err(req(Some(Method::Put), "wait=true", "")).0, 209);
        assert_eq!(err(req(Some(Method::Put), "prevValue=", "")), (201, "\"prevValue\" cannot be empty".into()));
        assert_eq!(err(req(Some(Method::Put), "ttl=abc", "")), (202, "invalid value for \"ttl\"".into()));
        // Go's ParseUint takes no sign; etcd 3.4 answers both 202 and 203 so.
        assert_eq!(err(req(Some(Method::Put), "ttl=%2B5", "")).0, 202);
        assert_eq!(err(req(None, "wait=true&waitIndex=%2B1", "")).0, 203);
        assert_eq!(err(req(Some(Method::Put), "prevExist=maybe", "")), (209, "invalid value for prevExist".into()));
        assert_eq!(err(req(Some(Method::Put), "refresh=true", "ttl=5&value=x")).0, 211);
        assert_eq!(err(req(Some(Method::Put), "refresh=true", "value=")), (212, "No TTL value set".into()));
        assert_eq!(err(req(Some(Method::Put), "a=%zz", "")), (210, "invalid URL escape \"%zz\"".into()));
        // Go 1.17's semicolon rule outranks a bad escape, in the body as in the query.
        let semicolon = (210, "invalid semicolon separator in query".to_string());
        assert_eq!(err(req(Some(Method::Put), "a=%zz&recursive=true;sorted=true", "")), semicolon);
        assert_eq!(err(req(Some(Method::Put), "", "value=a;b")), semicolon);
        // Go quotes the bad escape within the name or the value it is in.
        assert_eq!(err(req(Some(Method::Put), "a%=b", "")), (210, "invalid URL escape \"%\"".into()));
        let Ok(KeyRequest::Write { write, .. }) = req(Some(Method::Put), "", "value=%FF+%2B%20x") else {
            panic!("a write")
        };
        assert_eq!(write.value, b"\xff + x");
        // A HEAD cannot wait.
        let head = Form::parse(Some("wait=true"), None).and_then(|f| f.key_request("/a", Verb::Head));
        assert_eq!(err(head).0, 209);
    }

    #[test]
    fn gets_and_watches() {
        assert_eq!(
            req(None, "wait=true&waitIndex=7&recursive=1", "").expect("watch"),
            KeyRequest::Watch { path: "/a/b".into(), recursive: true, stream: false, wait_index: 7 }
        );
        assert_eq!(
            req(None, "quorum=True", "").expect("get"),
            KeyRequest::Get { path: "/a/b".into(), recursive: false, quorum: true }
        );
    }
}
