//! Go's `strconv.ParseInt`, including its error text, which etcdctl prints verbatim
//! (`strconv.ParseInt: parsing "zz": invalid syntax`).

use std::fmt;

use super::quote::quote;

/// Why [`parse_int`] failed, worded like Go's `*strconv.NumError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumError {
    input: String,
    out_of_range: bool,
}

impl fmt::Display for NumError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = if self.out_of_range { "value out of range" } else { "invalid syntax" };
        write!(f, "strconv.ParseInt: parsing {}: {why}", quote(self.input.as_bytes()))
    }
}

/// Parses a signed 64-bit integer in `radix` (2..=36) like `strconv.ParseInt(s, radix, 64)`:
/// an optional sign, then digits only (no prefix, no underscores, no spaces).
pub fn parse_int(s: &str, radix: u32) -> Result<i64, NumError> {
    let (negative, digits) = split_sign(s);
    parse_digits(s, negative, digits, radix)
}

/// Parses an unsigned 64-bit hex number like `strconv.ParseUint(s, 16, 64)`, with Go's
/// error text.
pub fn parse_uint_hex(s: &str) -> Result<u64, String> {
    let why = if s.is_empty() || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        "invalid syntax"
    } else {
        match u64::from_str_radix(s, 16) {
            Ok(v) => return Ok(v),
            Err(_) => "value out of range",
        }
    };
    Err(format!("strconv.ParseUint: parsing {}: {why}", quote(s.as_bytes())))
}

/// Parses an integer flag value as pflag does (`strconv.ParseInt(s, 0, 64)`): the base
/// comes from a `0x`, `0o`, `0b` or `0` prefix, decimal otherwise. (Go also allows `_`
/// separators here; they are rejected.)
pub fn parse_int_flag(s: &str) -> Result<i64, NumError> {
    let (negative, body) = split_sign(s);
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if lower.starts_with("0x") {
        (16, &body[2..])
    } else if lower.starts_with("0o") {
        (8, &body[2..])
    } else if lower.starts_with("0b") {
        (2, &body[2..])
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    parse_digits(s, negative, digits, radix)
}

fn split_sign(s: &str) -> (bool, &str) {
    match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    }
}

/// Parses unsigned `digits`; errors name the whole original `input`, as Go's do.
fn parse_digits(input: &str, negative: bool, digits: &str, radix: u32) -> Result<i64, NumError> {
    let err = |out_of_range| NumError { input: input.to_string(), out_of_range };
    if digits.is_empty() {
        return Err(err(false));
    }
    let mut magnitude: u64 = 0;
    for c in digits.chars() {
        let d = c.to_digit(radix).ok_or_else(|| err(false))?;
        // Go stops at the first overflow, before looking at any later digit.
        magnitude = magnitude
            .checked_mul(u64::from(radix))
            .and_then(|m| m.checked_add(u64::from(d)))
            .ok_or_else(|| err(true))?;
    }
    let limit = if negative { i64::MIN.unsigned_abs() } else { i64::MAX as u64 };
    if magnitude > limit {
        return Err(err(true));
    }
    Ok(if negative { 0i64.wrapping_sub_unsigned(magnitude) } else { magnitude as i64 })
}

impl std::error::Error for NumError {}

/// Go's `strconv.ParseBool`, which pflag uses for `--flag=value` and `ETCDCTL_*` booleans.
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!("strconv.ParseBool: parsing {}: invalid syntax", super::quote::quote(s.as_bytes()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_and_decimal() {
        assert_eq!(parse_int("2040a21ea61af13c", 16), Ok(0x2040a21ea61af13c));
        assert_eq!(parse_int("-1", 16), Ok(-1));
        assert_eq!(parse_int("+42", 10), Ok(42));
        assert_eq!(parse_int("-8000000000000000", 16), Ok(i64::MIN));
    }

    #[test]
    fn bools_parse_like_go() {
        assert_eq!(parse_bool("T"), Ok(true));
        assert_eq!(parse_bool("0"), Ok(false));
        assert_eq!(parse_bool("yes"), Err(r#"strconv.ParseBool: parsing "yes": invalid syntax"#.to_string()));
    }

    #[test]
    fn flag_values_take_a_base_prefix() {
        assert_eq!(parse_int_flag("10"), Ok(10));
        assert_eq!(parse_int_flag("0x10"), Ok(16));
        assert_eq!(parse_int_flag("-010"), Ok(-8));
        assert_eq!(parse_int_flag("0"), Ok(0));
        assert_eq!(
            parse_int_flag("abc").err().map(|e| e.to_string()).as_deref(),
            Some(r#"strconv.ParseInt: parsing "abc": invalid syntax"#)
        );
    }

    #[test]
    fn errors_read_like_go() {
        let e = |s, r| parse_int(s, r).err().map(|e| e.to_string());
        assert_eq!(e("zz", 16).as_deref(), Some(r#"strconv.ParseInt: parsing "zz": invalid syntax"#));
        assert_eq!(e("0x1", 16).as_deref(), Some(r#"strconv.ParseInt: parsing "0x1": invalid syntax"#));
        assert_eq!(
            e("8000000000000000", 16).as_deref(),
            Some(r#"strconv.ParseInt: parsing "8000000000000000": value out of range"#)
        );
        assert_eq!(e("", 10).as_deref(), Some(r#"strconv.ParseInt: parsing "": invalid syntax"#));
    }
}
