//! etcd's watch guarantees, checked on what watchers saw: every revision once, in order,
//! without gaps, the same on every member, and agreeing with the answers writers got.

use std::collections::HashMap;

/// A change as a watcher saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// The revision of the change.
    pub revision: i64,
    /// Which key (by number) changed.
    pub key: usize,
    /// The value put, or `None` for a delete.
    pub value: Option<u64>,
}

/// Checks the logs of watchers that each followed revisions `first..=last` of a store in
/// which every one of those revisions changed one watched key, resuming after every break:
/// - each log holds exactly one event per revision, in order (ordered, unique, and
///   reliable: no gaps, also across resumptions);
/// - all logs are the same (every member tells one history);
/// - each write whose answer is known (`writes`: its revision → key and value) is the
///   event at that revision.
///
/// `logs` pairs each log with a name for messages (the member it came from).
pub fn check_watch_logs(
    logs: &[(String, Vec<WatchEvent>)],
    first: i64,
    last: i64,
    writes: &HashMap<i64, (usize, Option<u64>)>,
) -> Result<(), String> {
    for (name, log) in logs {
        let mut expected = first;
        for e in log {
            if e.revision != expected {
                return Err(format!("{name}: expected revision {expected}, saw {e:?}"));
            }
            if let Some(&(key, value)) = writes.get(&e.revision)
                && (key, value) != (e.key, e.value)
            {
                return Err(format!("{name}: {e:?}, but the write answered at that revision was {key}={value:?}"));
            }
            expected += 1;
        }
        if expected != last + 1 {
            return Err(format!("{name}: events end at revision {}, the store at {last}", expected - 1));
        }
    }
    // Equal revisions throughout (checked above), so logs that differ differ in some
    // event's key or value.
    if let Some(((a, la), (b, lb))) = logs.first().zip(logs.iter().find(|(_, l)| *l != logs[0].1))
        && let Some((x, y)) = la.iter().zip(lb).find(|(x, y)| x != y)
    {
        return Err(format!("{a} saw {x:?} where {b} saw {y:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(revision: i64, key: usize, value: Option<u64>) -> WatchEvent {
        WatchEvent { revision, key, value }
    }

    fn log(events: &[WatchEvent]) -> (String, Vec<WatchEvent>) {
        ("m".to_string(), events.to_vec())
    }

    #[test]
    fn complete_agreeing_logs_pass() {
        let l = [ev(2, 0, Some(1)), ev(3, 1, Some(2)), ev(4, 0, None)];
        let writes = HashMap::from([(2, (0, Some(1))), (4, (0, None))]);
        check_watch_logs(&[log(&l), log(&l)], 2, 4, &writes).expect("fine");
    }

    #[test]
    fn gaps_repeats_reorders_and_short_logs_are_caught() {
        let none = HashMap::new();
        let gap = [ev(2, 0, Some(1)), ev(4, 0, Some(3))];
        assert!(check_watch_logs(&[log(&gap)], 2, 4, &none).is_err());
        let repeat = [ev(2, 0, Some(1)), ev(2, 0, Some(1)), ev(3, 0, Some(2))];
        assert!(check_watch_logs(&[log(&repeat)], 2, 3, &none).is_err());
        let reorder = [ev(3, 0, Some(2)), ev(2, 0, Some(1))];
        assert!(check_watch_logs(&[log(&reorder)], 2, 3, &none).is_err());
        let short = [ev(2, 0, Some(1))];
        assert!(check_watch_logs(&[log(&short)], 2, 3, &none).is_err());
    }

    #[test]
    fn members_telling_different_histories_are_caught() {
        let a = [ev(2, 0, Some(1)), ev(3, 0, Some(2))];
        let b = [ev(2, 0, Some(1)), ev(3, 0, Some(5))];
        let e = check_watch_logs(&[log(&a), log(&b)], 2, 3, &HashMap::new()).expect_err("disagree");
        assert!(e.contains("value: Some(5)"), "{e}");
    }

    #[test]
    fn an_event_unlike_the_answered_write_is_caught() {
        let l = [ev(2, 0, Some(1))];
        assert!(check_watch_logs(&[log(&l)], 2, 2, &HashMap::from([(2, (1, Some(1)))])).is_err());
        assert!(check_watch_logs(&[log(&l)], 2, 2, &HashMap::from([(2, (0, None))])).is_err());
    }
}
