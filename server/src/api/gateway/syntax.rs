//! Finds where one JSON value ends in a request body, with the syntax errors Go's
//! `encoding/json.Decoder` reports: etcd's gateway decodes with it, so its clients see
//! messages such as `invalid character 'b' looking for beginning of object key string`.
//!
//! A port of the states of Go's `encoding/json` scanner, only as far as telling where a
//! value ends or why it is malformed; the value itself is then parsed with serde.

/// What the start of a buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub enum Scan {
    /// One complete value ends at this offset (after leading whitespace and the value).
    Value(usize),
    /// Only whitespace up to the end of input: Go's `io.EOF`.
    Empty,
    /// The value is cut short by the end of input: Go's `io.ErrUnexpectedEOF`.
    Truncated,
    /// More bytes are needed to tell (the input has not ended yet).
    NeedMore,
    /// Malformed: Go's message.
    Error(String),
}

#[derive(Clone, Copy)]
enum Frame {
    ObjectKey,
    ObjectValue,
    Array,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    BeginValue,
    BeginValueOrEmpty,
    BeginStringOrEmpty,
    BeginString,
    EndValue,
    InString,
    InStringEsc,
    InStringEscU(u8),
    Neg,
    Zero,
    Digits,
    Dot,
    DotDigits,
    Exp,
    ExpSign,
    ExpDigits,
    /// Inside `true`, `false` or `null`: the rest still expected.
    Literal(&'static [u8], &'static str),
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// Go's `quoteChar`: the offending byte as the message shows it.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => r"'\''".to_string(),
        b'"' => "'\"'".to_string(),
        0x07 => r"'\a'".to_string(),
        0x08 => r"'\b'".to_string(),
        0x0c => r"'\f'".to_string(),
        b'\n' => r"'\n'".to_string(),
        b'\r' => r"'\r'".to_string(),
        b'\t' => r"'\t'".to_string(),
        0x0b => r"'\v'".to_string(),
        b'\\' => r"'\\'".to_string(),
        0x20..=0x7e => format!("'{}'", c as char),
        0x00..=0x1f | 0x7f => format!(r"'\x{c:02x}'"),
        // Go quotes the byte as the rune U+0080..U+00FF.
        0x80..=0xa0 | 0xad => format!(r"'\u{c:04x}'"),
        _ => format!("'{}'", char::from(c)),
    }
}

fn invalid(c: u8, context: &str) -> Scan {
    Scan::Error(format!("invalid character {} {context}", quote_char(c)))
}

/// Scans the first JSON value of `buf`; `eof` tells whether more input may follow.
pub fn scan(buf: &[u8], eof: bool) -> Scan {
    Scanner::default().scan(buf, eof)
}

/// A scan that resumes where it stopped: after [`Scan::NeedMore`], call [`Scanner::scan`]
/// again with the same bytes and more after them, and only the new bytes are read. So a
/// value arriving in many small pieces costs its length once, not once per piece. Any
/// other answer ends the scan; the next value needs a new scanner.
pub struct Scanner {
    stack: Vec<Frame>,
    state: State,
    started: bool,
    /// Bytes of the buffer already read.
    pos: usize,
}

impl Default for Scanner {
    fn default() -> Self {
        Self { stack: Vec::new(), state: State::BeginValue, started: false, pos: 0 }
    }
}

impl Scanner {
    /// Scans on from where the last call stopped; `eof` tells whether more input may
    /// follow `buf`.
    pub fn scan(&mut self, buf: &[u8], eof: bool) -> Scan {
        let mut stack = std::mem::take(&mut self.stack);
        let mut state = self.state;
        let mut started = self.started;
        for (i, &c) in buf.iter().enumerate().skip(self.pos) {
            // A byte may be looked at again by the state it leads to (numbers end on the
            // byte after them), hence the inner loop.
            let mut again = true;
            while again {
                again = false;
                match state {
                    State::BeginValue | State::BeginValueOrEmpty => {
                        if is_space(c) {
                            break;
                        }
                        if state == State::BeginValueOrEmpty && c == b']' {
                            stack.pop();
                            state = State::EndValue;
                            if stack.is_empty() {
                                return Scan::Value(i + 1);
                            }
                            break;
                        }
                        started = true;
                        state = match c {
                            b'{' => {
                                stack.push(Frame::ObjectKey);
                                State::BeginStringOrEmpty
                            }
                            b'[' => {
                                stack.push(Frame::Array);
                                State::BeginValueOrEmpty
                            }
                            b'"' => State::InString,
                            b'-' => State::Neg,
                            b'0' => State::Zero,
                            b'1'..=b'9' => State::Digits,
                            b't' => State::Literal(b"rue", "true"),
                            b'f' => State::Literal(b"alse", "false"),
                            b'n' => State::Literal(b"ull", "null"),
                            _ => return invalid(c, "looking for beginning of value"),
                        };
                    }
                    State::BeginStringOrEmpty | State::BeginString => {
                        if is_space(c) {
                            break;
                        }
                        if state == State::BeginStringOrEmpty && c == b'}' {
                            stack.pop();
                            state = State::EndValue;
                            if stack.is_empty() {
                                return Scan::Value(i + 1);
                            }
                            break;
                        }
                        if c != b'"' {
                            return invalid(c, "looking for beginning of object key string");
                        }
                        state = State::InString;
                    }
                    State::EndValue => {
                        let Some(top) = stack.last_mut() else {
                            // Only numbers get here at the top: they end on the next byte.
                            return Scan::Value(i);
                        };
                        if is_space(c) {
                            break;
                        }
                        match (*top, c) {
                            (Frame::ObjectKey, b':') => {
                                *top = Frame::ObjectValue;
                                state = State::BeginValue;
                            }
                            (Frame::ObjectKey, _) => return invalid(c, "after object key"),
                            (Frame::ObjectValue, b',') => {
                                *top = Frame::ObjectKey;
                                state = State::BeginString;
                            }
                            (Frame::ObjectValue, b'}') | (Frame::Array, b']') => {
                                stack.pop();
                                if stack.is_empty() {
                                    return Scan::Value(i + 1);
                                }
                            }
                            (Frame::ObjectValue, _) => return invalid(c, "after object key:value pair"),
                            (Frame::Array, b',') => state = State::BeginValue,
                            (Frame::Array, _) => return invalid(c, "after array element"),
                        }
                    }
                    State::InString => match c {
                        b'"' => {
                            state = State::EndValue;
                            if stack.is_empty() {
                                return Scan::Value(i + 1);
                            }
                        }
                        b'\\' => state = State::InStringEsc,
                        0x00..=0x1f => return invalid(c, "in string literal"),
                        _ => {}
                    },
                    State::InStringEsc => match c {
                        b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => state = State::InString,
                        b'u' => state = State::InStringEscU(4),
                        _ => return invalid(c, "in string escape code"),
                    },
                    State::InStringEscU(left) => {
                        if !c.is_ascii_hexdigit() {
                            return invalid(c, "in \\u hexadecimal character escape");
                        }
                        state = if left == 1 { State::InString } else { State::InStringEscU(left - 1) };
                    }
                    State::Neg => match c {
                        b'0' => state = State::Zero,
                        b'1'..=b'9' => state = State::Digits,
                        _ => return invalid(c, "in numeric literal"),
                    },
                    State::Digits if c.is_ascii_digit() => {}
                    State::Digits | State::Zero => match c {
                        b'.' => state = State::Dot,
                        b'e' | b'E' => state = State::Exp,
                        _ => {
                            state = State::EndValue;
                            again = true;
                        }
                    },
                    State::Dot => {
                        if !c.is_ascii_digit() {
                            return invalid(c, "after decimal point in numeric literal");
                        }
                        state = State::DotDigits;
                    }
                    State::DotDigits => match c {
                        b'0'..=b'9' => {}
                        b'e' | b'E' => state = State::Exp,
                        _ => {
                            state = State::EndValue;
                            again = true;
                        }
                    },
                    State::Exp | State::ExpSign => {
                        if state == State::Exp && (c == b'+' || c == b'-') {
                            state = State::ExpSign;
                        } else if c.is_ascii_digit() {
                            state = State::ExpDigits;
                        } else {
                            return invalid(c, "in exponent of numeric literal");
                        }
                    }
                    State::ExpDigits => {
                        if !c.is_ascii_digit() {
                            state = State::EndValue;
                            again = true;
                        }
                    }
                    State::Literal(rest, word) => {
                        if c != rest[0] {
                            let context = format!("in literal {word} (expecting {})", quote_char(rest[0]));
                            return invalid(c, &context);
                        }
                        state = if rest.len() == 1 { State::EndValue } else { State::Literal(&rest[1..], word) };
                        if rest.len() == 1 && stack.is_empty() {
                            return Scan::Value(i + 1);
                        }
                    }
                }
            }
        }
        if !eof {
            *self = Scanner { stack, state, started, pos: buf.len() };
            return Scan::NeedMore;
        }
        // A top-level number ends with the input; anything else open is cut short.
        let number_end = matches!(state, State::Zero | State::Digits | State::DotDigits | State::ExpDigits);
        if stack.is_empty() && number_end {
            Scan::Value(buf.len())
        } else if started {
            Scan::Truncated
        } else {
            Scan::Empty
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(s: &str) -> String {
        match scan(s.as_bytes(), true) {
            Scan::Error(m) => m,
            other => panic!("{s}: {other:?}"),
        }
    }

    #[test]
    fn values_end_where_go_ends_them() {
        assert_eq!(scan(br#"  {"a":[1,2.5e3,true,null,"x\u00e9"]} trailing"#, true), Scan::Value(37));
        assert_eq!(scan(b"{}{}", true), Scan::Value(2));
        assert_eq!(scan(b"12 ", true), Scan::Value(2));
        assert_eq!(scan(b"12", true), Scan::Value(2));
        assert_eq!(scan(b"12", false), Scan::NeedMore);
        assert_eq!(scan(b" \n", true), Scan::Empty);
        assert_eq!(scan(br#"{"a":"#, true), Scan::Truncated);
        assert_eq!(scan(br#"{"a":"#, false), Scan::NeedMore);
    }

    #[test]
    fn a_scan_resumes_where_it_stopped() {
        let text = br#" {"a":[1,"x\"y",true],"b":12} {"#;
        let whole = scan(text, false);
        assert_eq!(whole, Scan::Value(text.len() - 2));
        // Fed a byte at a time, each byte is read once, and the answer is the same.
        let mut s = Scanner::default();
        let mut answer = Scan::NeedMore;
        for n in 1..=text.len() {
            answer = s.scan(&text[..n], false);
            if answer != Scan::NeedMore {
                break;
            }
            assert_eq!(s.pos, n);
        }
        assert_eq!(answer, whole);
        // A number split by the end of input, then the end.
        let mut s = Scanner::default();
        assert_eq!(s.scan(b"12", false), Scan::NeedMore);
        assert_eq!(s.scan(b"12", true), Scan::Value(2));
    }

    #[test]
    fn errors_read_as_go_writes_them() {
        assert_eq!(err("{bad"), "invalid character 'b' looking for beginning of object key string");
        assert_eq!(err(r#"{"key":"YQ==",}"#), "invalid character '}' looking for beginning of object key string");
        assert_eq!(err(r#"{"key":"YQ==" "a"}"#), "invalid character '\"' after object key:value pair");
        assert_eq!(err("x"), "invalid character 'x' looking for beginning of value");
        assert_eq!(err(r#"{"a" 1}"#), "invalid character '1' after object key");
        assert_eq!(err("[1 2]"), "invalid character '2' after array element");
        assert_eq!(err("{\"a\":tru }"), "invalid character ' ' in literal true (expecting 'e')");
        assert_eq!(err("{\"a\":1.}"), "invalid character '}' after decimal point in numeric literal");
        assert_eq!(err("{\"a\n"), r"invalid character '\n' in string literal");
    }
}
