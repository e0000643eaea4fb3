//! Bytes shown as text the way Go's `encoding/json` shows a string holding them: each
//! byte that is not part of valid UTF-8 becomes U+FFFD. The v2 store keeps values as
//! bytes (Go's strings are bytes), and only what is written out is text.

use std::borrow::Cow;

/// `bytes` as text, one U+FFFD for every byte of an invalid sequence (Rust's lossy
/// decoding would put one for a whole truncated sequence, Go one per byte).
pub fn text(bytes: &[u8]) -> Cow<'_, str> {
    let first = match std::str::from_utf8(bytes) {
        Ok(s) => return Cow::Borrowed(s),
        Err(e) => e,
    };
    let mut out = String::with_capacity(bytes.len() + 2);
    let mut rest = bytes;
    let mut error = Some(first);
    while let Some(e) = error {
        let (valid, after) = rest.split_at(e.valid_up_to());
        // `valid` is valid UTF-8 by the error's account.
        out.push_str(std::str::from_utf8(valid).unwrap_or_default());
        let bad = e.error_len().unwrap_or(after.len());
        out.extend(std::iter::repeat_n('\u{FFFD}', bad));
        rest = &after[bad..];
        error = std::str::from_utf8(rest).err();
    }
    out.push_str(std::str::from_utf8(rest).unwrap_or_default());
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::text;

    #[test]
    fn invalid_bytes_become_one_replacement_each() {
        assert_eq!(text(b"plain"), "plain");
        assert_eq!(text(b"a\xffb"), "a\u{FFFD}b");
        assert_eq!(text(b"\xe2\x82A"), "\u{FFFD}\u{FFFD}A");
        assert_eq!(text(b"x\xe2\x82"), "x\u{FFFD}\u{FFFD}");
        assert_eq!(text("€".as_bytes()), "€");
    }
}
