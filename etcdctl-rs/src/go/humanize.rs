//! go-humanize's `Bytes` (SI units), which etcdctl uses for DB sizes (`20 kB`, `24 MB`).

/// Formats a byte count like `humanize.Bytes`: `9 B`, `20 kB`, `1.5 MB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if n < 10 {
        return format!("{n} B");
    }
    let nf = n as f64;
    let exp = (nf.ln() / 1000f64.ln()).floor();
    let unit = UNITS[(exp as usize).min(UNITS.len() - 1)];
    let val = (nf / 1000f64.powf(exp) * 10.0 + 0.5).floor() / 10.0;
    // Rust's `{:.0}` rounds half to even, as Go's `%.0f` does.
    if val < 10.0 { format!("{val:.1} {unit}") } else { format!("{val:.0} {unit}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go_humanize() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(9), "9 B");
        assert_eq!(bytes(10), "10 B");
        assert_eq!(bytes(20480), "20 kB");
        assert_eq!(bytes(29000), "29 kB");
        assert_eq!(bytes(1500), "1.5 kB");
        // v = 23.5 and 24.5: both round half to even.
        assert_eq!(bytes(23474176), "24 MB");
        assert_eq!(bytes(24_500_000), "24 MB");
        assert_eq!(bytes(25_500_000), "26 MB");
        assert_eq!(bytes(1_000_000), "1.0 MB");
    }
}
