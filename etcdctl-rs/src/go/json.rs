//! Just enough of Go's `encoding/json` to print etcdctl's `-w json` output byte for byte:
//! fields in struct order, `omitempty`, plain decimal numbers, standard base64 for `[]byte`
//! and Go's HTML-safe string escaping.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// A JSON object written field by field, in the order the Go struct declares them.
#[derive(Default)]
pub struct Object {
    buf: String,
}

impl Object {
    /// An empty object.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(&mut self, name: &str) -> &mut String {
        if !self.buf.is_empty() {
            self.buf.push(',');
        }
        self.buf.push_str(&string(name.as_bytes()));
        self.buf.push(':');
        &mut self.buf
    }

    /// A field holding already-encoded JSON.
    pub fn raw(&mut self, name: &str, json: &str) -> &mut Self {
        self.key(name).push_str(json);
        self
    }

    /// An integer field, always present.
    pub fn num(&mut self, name: &str, v: impl Into<i128>) -> &mut Self {
        let v = v.into().to_string();
        self.raw(name, &v)
    }

    /// An integer field with `omitempty`: left out when zero.
    pub fn num_nz(&mut self, name: &str, v: impl Into<i128>) -> &mut Self {
        let v = v.into();
        if v != 0 {
            self.num(name, v);
        }
        self
    }

    /// A boolean field, always present.
    pub fn bool(&mut self, name: &str, v: bool) -> &mut Self {
        self.raw(name, if v { "true" } else { "false" })
    }

    /// A boolean field with `omitempty`: left out when false.
    pub fn bool_nz(&mut self, name: &str, v: bool) -> &mut Self {
        if v {
            self.bool(name, v);
        }
        self
    }

    /// A string field, always present.
    pub fn str(&mut self, name: &str, v: &str) -> &mut Self {
        let v = string(v.as_bytes());
        self.raw(name, &v)
    }

    /// A string field with `omitempty`: left out when empty.
    pub fn str_nz(&mut self, name: &str, v: &str) -> &mut Self {
        if !v.is_empty() {
            self.str(name, v);
        }
        self
    }

    /// A `[]byte` field with `omitempty`: base64, left out when empty.
    pub fn bytes_nz(&mut self, name: &str, v: &[u8]) -> &mut Self {
        if !v.is_empty() {
            self.raw(name, &base64(v));
        }
        self
    }

    /// A slice field with `omitempty`: left out when it has no elements.
    pub fn array_nz(&mut self, name: &str, items: &[String]) -> &mut Self {
        if !items.is_empty() {
            let v = array(items);
            self.raw(name, &v);
        }
        self
    }

    /// The encoded object.
    pub fn finish(&self) -> String {
        format!("{{{}}}", self.buf)
    }
}

/// A `[]byte` value: a base64 JSON string.
pub fn base64(v: &[u8]) -> String {
    format!("\"{}\"", STANDARD.encode(v))
}

/// A JSON array of already-encoded elements.
pub fn array(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

/// A JSON string as Go encodes it: `<`, `>`, `&`, U+2028 and U+2029 as `\u` escapes,
/// control characters other than `\n`, `\r`, `\t` as `\u00xx`, invalid UTF-8 as `\ufffd`.
pub fn string(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for chunk in s.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        // Go replaces each undecodable byte on its own.
        for _ in chunk.invalid() {
            out.push_str("\\ufffd");
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn omitempty_and_order() {
        let mut o = Object::new();
        o.num_nz("a", 0)
            .num_nz("b", 12035205147658230582u64)
            .bool_nz("c", false)
            .str_nz("d", "")
            .bytes_nz("e", b"foo")
            .num("f", -1)
            .bool("g", false)
            .str("h", "x");
        assert_eq!(o.finish(), r#"{"b":12035205147658230582,"e":"Zm9v","f":-1,"g":false,"h":"x"}"#);
        assert_eq!(Object::new().finish(), "{}");
    }

    #[test]
    fn strings_escape_like_go() {
        assert_eq!(string(b"a<b>&\"\\"), r#""a\u003cb\u003e\u0026\"\\""#);
        assert_eq!(string(b"\n\x01\x1f"), r#""\n\u0001\u001f""#);
        assert_eq!(string(b"\xffok"), r#""\ufffdok""#);
        assert_eq!(string(b"\xe6\x97"), r#""\ufffd\ufffd""#);
        assert_eq!(string("é".as_bytes()), "\"é\"");
    }
}
