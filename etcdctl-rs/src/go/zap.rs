//! The JSON lines of zap's production logger, which etcdctl's `snapshot save` writes to
//! stderr: `{"level":"info","ts":...,"msg":...,<fields>}`. The `caller` field (a Go source
//! position) is left out, and strings are escaped as `encoding/json` does (zap leaves `<`,
//! `>` and `&` as they are).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::json::Object;
use super::time::UtcTime;

/// How a line's `ts` is written: etcdctl's snapshot logger uses epoch seconds, clientv3's
/// logger ISO 8601.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stamp {
    /// `"ts":1795833884.1777177`
    EpochSeconds,
    /// `"ts":"2026-11-28T02:44:44.180Z"`
    Iso8601,
}

/// A field value.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    /// `zap.String`.
    Str(&'a str),
    /// `zap.Duration`, encoded as float seconds.
    Seconds(Duration),
}

/// An info-level line stamped `now`.
pub fn info(stamp: Stamp, now: SystemTime, msg: &str, fields: &[(&str, Value<'_>)]) -> String {
    let mut o = Object::new();
    o.str("level", "info");
    match stamp {
        Stamp::EpochSeconds => o.raw("ts", &seconds(now.duration_since(UNIX_EPOCH).unwrap_or_default())),
        Stamp::Iso8601 => o.str("ts", &UtcTime::of(now).iso8601_millis()),
    };
    o.str("msg", msg);
    for (name, value) in fields {
        match value {
            Value::Str(s) => o.str(name, s),
            Value::Seconds(d) => o.raw(name, &seconds(*d)),
        };
    }
    o.finish()
}

/// `float64(d) / float64(time.Second)` in Go's shortest formatting (Rust's `Display` for
/// f64 is the same for these magnitudes).
fn seconds(d: Duration) -> String {
    (d.as_nanos() as f64 / 1e9).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_as_etcdctl_writes_them() {
        let t = UNIX_EPOCH + Duration::from_nanos(1_795_833_884_184_677_400);
        assert_eq!(
            info(
                Stamp::EpochSeconds,
                t,
                "fetched snapshot",
                &[
                    ("endpoint", Value::Str("127.0.0.1:23791")),
                    ("size", Value::Str("20 kB")),
                    ("took", Value::Seconds(Duration::from_nanos(6_859_288))),
                ],
            ),
            r#"{"level":"info","ts":1795833884.1846774,"msg":"fetched snapshot","endpoint":"127.0.0.1:23791","size":"20 kB","took":0.006859288}"#
        );
        assert_eq!(
            info(Stamp::Iso8601, t, "opened snapshot stream; downloading", &[]),
            r#"{"level":"info","ts":"2026-11-28T02:44:44.184Z","msg":"opened snapshot stream; downloading"}"#
        );
    }
}
