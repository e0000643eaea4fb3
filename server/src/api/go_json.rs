//! What Go's `encoding/json` encoder does beyond serde_json, for the JSON gateway's and
//! the v2 API's answers. One difference is left: Go writes a byte that is not part of
//! valid UTF-8 as the escape `\ufffd`, serde_json writes U+FFFD itself (JSON readers
//! take both alike).

/// Go's encoder escapes `<`, `>`, `&`, U+2028 and U+2029 (for embedding in HTML). In
/// JSON text those can only occur inside strings, so a plain replacement is exact.
pub fn escape_html(s: String) -> String {
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s;
    }
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn html_characters_are_escaped_as_go_does() {
        assert_eq!(escape_html(r#"{"v":"a<b>&c"}"#.into()), r#"{"v":"a\u003cb\u003e\u0026c"}"#);
        assert_eq!(escape_html("\"\u{2028}\u{2029}\"".into()), r#""\u2028\u2029""#);
        assert_eq!(escape_html("plain".into()), "plain");
    }
}
