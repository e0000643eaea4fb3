//! Go's `strconv.Quote` (what `%q` prints) and `strconv.Unquote`, over raw bytes.
//!
//! Go strings are byte strings, so keys and values that are not UTF-8 must survive both
//! directions unchanged.

/// Quotes `s` as Go's `strconv.Quote` does: printable runes as-is, the usual backslash
/// escapes, `\xNN` for bytes that are not UTF-8, `\uNNNN`/`\UNNNNNNNN` for other runes.
pub fn quote(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            push_escaped(&mut out, c);
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out.push('"');
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '"' => out.push_str("\\\""),
        '\\' => out.push_str("\\\\"),
        c if is_print(c) => out.push(c),
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        c if (c as u32) < 0x20 || c == '\u{7f}' => out.push_str(&format!("\\x{:02x}", c as u32)),
        c if (c as u32) < 0x10000 => out.push_str(&format!("\\u{:04x}", c as u32)),
        c => out.push_str(&format!("\\U{:08x}", c as u32)),
    }
}

/// An approximation of Go's `unicode.IsPrint` without Unicode category tables: controls,
/// spaces other than U+0020, common format characters and private-use runes are not printable.
fn is_print(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(c as u32,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x180e | 0x200b..=0x200f | 0x202a..=0x202e
        | 0x2060..=0x206f | 0xd800..=0xf8ff | 0xfeff | 0xfff9..=0xfffb | 0xf0000..=0x10ffff)
}

/// Error from [`unquote`]: Go's `strconv.ErrSyntax`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError;

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("invalid syntax")
    }
}

/// Go's `strconv.Unquote` for a double-quoted (`"..."`) or back-quoted (`` `...` ``) literal.
pub fn unquote(lit: &[u8]) -> Result<Vec<u8>, SyntaxError> {
    let (&first, rest) = lit.split_first().ok_or(SyntaxError)?;
    let (&last, body) = rest.split_last().ok_or(SyntaxError)?;
    if first != last {
        return Err(SyntaxError);
    }
    match first {
        b'`' if !body.contains(&b'`') => Ok(body.iter().copied().filter(|&b| b != b'\r').collect()),
        b'"' => unescape(body),
        _ => Err(SyntaxError),
    }
}

fn unescape(mut s: &[u8]) -> Result<Vec<u8>, SyntaxError> {
    let mut out = Vec::with_capacity(s.len());
    while let Some((&b, rest)) = s.split_first() {
        match b {
            b'"' | b'\n' => return Err(SyntaxError),
            b'\\' => s = unescape_one(rest, &mut out)?,
            _ => {
                out.push(b);
                s = rest;
            }
        }
    }
    Ok(out)
}

/// Decodes the escape after a backslash, appending its bytes; returns the remaining input.
fn unescape_one<'a>(s: &'a [u8], out: &mut Vec<u8>) -> Result<&'a [u8], SyntaxError> {
    let (&c, rest) = s.split_first().ok_or(SyntaxError)?;
    let simple = match c {
        b'a' => Some(7),
        b'b' => Some(8),
        b'f' => Some(12),
        b'n' => Some(b'\n'),
        b'r' => Some(b'\r'),
        b't' => Some(b'\t'),
        b'v' => Some(11),
        b'\\' => Some(b'\\'),
        b'"' => Some(b'"'),
        _ => None,
    };
    if let Some(byte) = simple {
        out.push(byte);
        return Ok(rest);
    }
    let (digits, radix) = match c {
        b'x' => (2, 16),
        b'u' => (4, 16),
        b'U' => (8, 16),
        b'0'..=b'7' => (3, 8),
        _ => return Err(SyntaxError),
    };
    // Octal escapes include the digit just read.
    let (text, rest) = if radix == 8 {
        (s.get(..3).ok_or(SyntaxError)?, &s[3..])
    } else {
        (rest.get(..digits).ok_or(SyntaxError)?, &rest[digits..])
    };
    let text = std::str::from_utf8(text).map_err(|_| SyntaxError)?;
    let value = u32::from_str_radix(text, radix).map_err(|_| SyntaxError)?;
    match c {
        b'x' => out.push(value as u8),
        b'0'..=b'7' => out.push(u8::try_from(value).map_err(|_| SyntaxError)?),
        _ => {
            let ch = char::from_u32(value).ok_or(SyntaxError)?;
            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
        }
    }
    Ok(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quote_matches_go() {
        assert_eq!(quote(b"foo"), r#""foo""#);
        assert_eq!(quote(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(quote(b"\n\t\x00\x7f"), r#""\n\t\x00\x7f""#);
        assert_eq!(quote(b"\xff\xfe"), r#""\xff\xfe""#);
        assert_eq!(quote("é日本".as_bytes()), "\"é日本\"");
        assert_eq!(quote("\u{feff}\u{a0}".as_bytes()), r#""\ufeff\u00a0""#);
    }

    #[test]
    fn unquote_double_quoted() {
        assert_eq!(unquote(br#""foo""#), Ok(b"foo".to_vec()));
        assert_eq!(unquote(br#""a\"b""#), Ok(b"a\"b".to_vec()));
        assert_eq!(unquote(br#""\x41\101\u00e9""#), Ok("AAé".as_bytes().to_vec()));
        assert_eq!(unquote(br#""\xff""#), Ok(vec![0xff]));
        assert_eq!(unquote(br#""b\qr""#), Err(SyntaxError));
        assert_eq!(unquote(br#""a"b""#), Err(SyntaxError));
        assert_eq!(unquote(br#""\400""#), Err(SyntaxError));
        assert_eq!(unquote(b"\"abc"), Err(SyntaxError));
    }

    #[test]
    fn unquote_back_quoted() {
        assert_eq!(unquote(b"`a\\nb`"), Ok(b"a\\nb".to_vec()));
        assert_eq!(unquote(b"`a"), Err(SyntaxError));
    }
}
