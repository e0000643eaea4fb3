//! Go's `time.ParseDuration` (for `--dial-timeout 2s`) and `time.Duration.String`
//! (etcdctl prints health-check times as `1.474095ms`).

use std::time::Duration;

/// Parses a Go duration string such as `5s`, `1m30s`, `1.5h` or `300ms`.
///
/// Negative durations are rejected: every duration flag here is a timeout.
pub fn parse(s: &str) -> Result<Duration, String> {
    let invalid = || format!("time: invalid duration {}", super::quote::quote(s.as_bytes()));
    let rest = s.strip_prefix('+').unwrap_or(s);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() || rest.starts_with('-') {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    let mut rest = rest.as_bytes();
    while !rest.is_empty() {
        let int_len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let (int_part, after) = rest.split_at(int_len);
        let (frac_part, after) = match after.split_first() {
            Some((b'.', tail)) => {
                let n = tail.iter().take_while(|b| b.is_ascii_digit()).count();
                tail.split_at(n)
            }
            _ => (&after[..0], after),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid());
        }
        let unit_len = after.iter().take_while(|&&b| b != b'.' && !b.is_ascii_digit()).count();
        let (unit, after) = after.split_at(unit_len);
        let nanos_per_unit: u128 = match unit {
            b"ns" => 1,
            // µ (U+00B5) and μ (U+03BC), as UTF-8.
            b"us" | b"\xc2\xb5s" | b"\xce\xbcs" => 1_000,
            b"ms" => 1_000_000,
            b"s" => 1_000_000_000,
            b"m" => 60_000_000_000,
            b"h" => 3_600_000_000_000,
            b"" => {
                return Err(format!("time: missing unit in duration {}", super::quote::quote(s.as_bytes())));
            }
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    super::quote::quote(other),
                    super::quote::quote(s.as_bytes())
                ));
            }
        };
        let int_value = digits_value(int_part).ok_or_else(invalid)?;
        let mut value = int_value.checked_mul(nanos_per_unit).ok_or_else(invalid)?;
        // Fractions are truncated to whole nanoseconds, as in Go.
        let mut scale: u128 = 1;
        let mut frac: u128 = 0;
        for &d in frac_part.iter().take(30) {
            frac = frac * 10 + u128::from(d - b'0');
            scale *= 10;
        }
        value += frac * nanos_per_unit / scale;
        total = total.checked_add(value).ok_or_else(invalid)?;
        rest = after;
    }
    if total > i64::MAX as u128 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total as u64))
}

fn digits_value(digits: &[u8]) -> Option<u128> {
    digits.iter().try_fold(0u128, |acc, &d| acc.checked_mul(10)?.checked_add(u128::from(d - b'0')))
}

/// Formats `d` as Go's `time.Duration.String` does: `0s`, `750ns`, `1.5µs`, `2.294077ms`,
/// `5.002558742s`, `1m30s`, `2h0m0s`.
pub fn format(d: Duration) -> String {
    let nanos = d.as_nanos();
    if nanos == 0 {
        return "0s".to_string();
    }
    if nanos < 1_000_000_000 {
        let (prec, unit) = match nanos {
            n if n < 1_000 => (0, "ns"),
            n if n < 1_000_000 => (3, "µs"),
            _ => (6, "ms"),
        };
        let (whole, frac) = split_fraction(nanos, prec);
        return format!("{whole}{frac}{unit}");
    }
    let (secs, frac) = split_fraction(nanos, 9);
    let (mins, secs) = (secs / 60, secs % 60);
    let (hours, mins) = (mins / 60, mins % 60);
    match (hours, mins) {
        (0, 0) => format!("{secs}{frac}s"),
        (0, _) => format!("{mins}m{secs}{frac}s"),
        _ => format!("{hours}h{mins}m{secs}{frac}s"),
    }
}

/// Splits `v` into `v / 10^prec` and the fraction as `.ddd` without trailing zeros
/// (empty when the fraction is zero), like Go's `fmtFrac`.
fn split_fraction(v: u128, prec: u32) -> (u128, String) {
    let scale = 10u128.pow(prec);
    let frac = v % scale;
    if frac == 0 {
        return (v / scale, String::new());
    }
    let digits = format!("{frac:0width$}", width = prec as usize);
    (v / scale, format!(".{}", digits.trim_end_matches('0')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(format(Duration::from_nanos(750)), "750ns");
        assert_eq!(format(Duration::from_nanos(1_500)), "1.5µs");
        assert_eq!(format(Duration::from_nanos(2_294_077)), "2.294077ms");
        assert_eq!(format(Duration::from_nanos(1_000_000)), "1ms");
        assert_eq!(format(Duration::from_nanos(5_002_558_742)), "5.002558742s");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_secs(7200)), "2h0m0s");
    }

    #[test]
    fn parses_like_go() {
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(parse(".5h"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse("x"), Err(r#"time: invalid duration "x""#.to_string()));
        assert_eq!(parse("5"), Err(r#"time: missing unit in duration "5""#.to_string()));
        assert_eq!(parse("5y"), Err(r#"time: unknown unit "y" in duration "5y""#.to_string()));
    }
}
