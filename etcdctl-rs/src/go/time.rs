//! Wall-clock times broken down in UTC, for the log lines etcdctl's libraries write
//! (capnslog's `2006-01-02 15:04:05.000000`, zap's ISO 8601 and epoch-seconds stamps).

use std::time::{SystemTime, UNIX_EPOCH};

use etcd_rs_server::calendar::civil_from_days;

/// A point in time in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UtcTime {
    /// Calendar year.
    pub year: i64,
    /// Month, 1 to 12.
    pub month: u32,
    /// Day of the month, from 1.
    pub day: u32,
    /// Hour, 0 to 23.
    pub hour: u64,
    /// Minute, 0 to 59.
    pub minute: u64,
    /// Second, 0 to 59.
    pub second: u64,
    /// Microseconds into the second.
    pub micros: u32,
}

impl UtcTime {
    /// `t` in UTC (times before 1970 count as 1970-01-01).
    pub fn of(t: SystemTime) -> Self {
        let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
        let secs = since.as_secs();
        let (days, day_secs) = (secs / 86_400, secs % 86_400);
        let (year, month, day) = civil_from_days(days as i64);
        UtcTime {
            year,
            month,
            day,
            hour: day_secs / 3600,
            minute: day_secs / 60 % 60,
            second: day_secs % 60,
            micros: since.subsec_micros(),
        }
    }

    /// zap's ISO 8601 encoding in UTC: `2026-11-28T02:44:44.180Z`.
    pub fn iso8601_millis(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            self.year,
            self.month,
            self.day,
            self.hour,
            self.minute,
            self.second,
            self.micros / 1000
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn iso8601() {
        // 1795833884.180 s after the epoch, the `ts` of a line etcdctl 3.4.23 wrote.
        let t = UNIX_EPOCH + Duration::from_millis(1_795_833_884_180);
        assert_eq!(UtcTime::of(t).iso8601_millis(), "2026-11-28T02:44:44.180Z");
    }
}
