//! Messages and bytes per second over the last few messages, as etcd's `statsQueue`
//! measures AppendEntries for `/v2/stats/self`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How many messages the rate is taken over (etcd's `queueCapacity`).
const SAMPLES: usize = 200;

/// A rate is reported only while the newest message is at most this old.
const FRESH: Duration = Duration::from_secs(1);

/// The times and sizes of the last [`SAMPLES`] messages.
#[derive(Debug, Default)]
pub struct RateWindow {
    samples: VecDeque<(Instant, usize)>,
    bytes: usize,
}

impl RateWindow {
    /// Records a message of `size` bytes sent or received at `at`.
    pub fn record(&mut self, at: Instant, size: usize) {
        if self.samples.len() == SAMPLES
            && let Some((_, old)) = self.samples.pop_front()
        {
            self.bytes -= old;
        }
        self.samples.push_back((at, size));
        self.bytes += size;
    }

    /// Messages and bytes per second between the oldest and the newest message kept; none
    /// once the newest is more than a second old (the window is emptied then, as etcd's
    /// is) or while they are one instant (etcd divides by zero there).
    pub fn rate(&mut self, now: Instant) -> Option<(f64, f64)> {
        let (first, last) = (self.samples.front()?.0, self.samples.back()?.0);
        if now.saturating_duration_since(last) > FRESH {
            *self = Self::default();
            return None;
        }
        let secs = last.saturating_duration_since(first).as_secs_f64();
        (secs > 0.0).then(|| (self.samples.len() as f64 / secs, self.bytes as f64 / secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_cover_the_last_200_messages_while_fresh() {
        let start = Instant::now();
        let mut w = RateWindow::default();
        assert_eq!(w.rate(start), None, "nothing yet");
        w.record(start, 100);
        assert_eq!(w.rate(start), None, "one instant");
        // 300 messages 10 ms apart, of 100 then 50 bytes: the last 200 are 1.99 s apart.
        for i in 1..300u32 {
            w.record(start + Duration::from_millis(10) * i, if i < 100 { 100 } else { 50 });
        }
        let last = start + Duration::from_millis(2990);
        let (msgs, bytes) = w.rate(last).expect("a rate");
        assert!((msgs - 200.0 / 1.99).abs() < 1e-6, "{msgs}");
        assert!((bytes - 200.0 * 50.0 / 1.99).abs() < 1e-6, "{bytes}");
        assert!(w.rate(last + Duration::from_millis(1001)).is_none(), "stale");
        assert!(w.rate(last).is_none(), "emptied when found stale");
    }
}
