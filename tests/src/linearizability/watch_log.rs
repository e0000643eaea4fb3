//! etcd's watch guarantees, checked on what watchers saw: every revision once, in order,
//! without gaps the server did not announce, the same on every member, and agreeing with
//! the answers writers got.

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

/// What one watcher saw.
#[derive(Clone, Debug, Default)]
pub struct WatchLog {
    /// A name for messages (the member it watched).
    pub name: String,
    /// The events, in the order they came.
    pub events: Vec<WatchEvent>,
    /// Revisions the server said it could no longer replay, as inclusive ranges (v2's
    /// error 401, "The event in requested index is outdated and cleared", which tells a
    /// client to read afresh). A gap announced so is allowed; a silent one is not.
    pub cleared: Vec<(i64, i64)>,
}

impl WatchLog {
    fn covers(&self, revision: i64) -> bool {
        !self.cleared.iter().any(|&(from, to)| (from..=to).contains(&revision))
    }
}

/// Which revisions the watchers must have seen.
#[derive(Clone, Copy, Debug)]
pub enum Span {
    /// Every revision `first..=last` changed a watched key (v3: each change makes one).
    Every {
        /// The first change's revision.
        first: i64,
        /// The last one's.
        last: i64,
    },
    /// Some indexes up to `last` did (v2: the index is the Raft index, which entries that
    /// change no key also take).
    Sparse {
        /// The last index to check.
        last: i64,
    },
}

/// Checks the logs of watchers that each followed the watched keys over `span`, resuming
/// after every break:
/// - each log goes up strictly (ordered, unique), and with [`Span::Every`] holds exactly
///   the span's revisions outside its announced gaps (reliable, also across resumptions);
/// - each write whose answer is known (`writes`: its revision → key and value) up to the
///   span's end is in every log that did not announce a gap there, as the event at its
///   revision;
/// - all logs agree wherever both cover a revision (every member tells one history).
pub fn check_watch_logs(
    logs: &[WatchLog],
    span: Span,
    writes: &HashMap<i64, (usize, Option<u64>)>,
) -> Result<(), String> {
    let last = match span {
        Span::Every { last, .. } | Span::Sparse { last } => last,
    };
    for log in logs {
        let name = &log.name;
        if let Some(w) = log.events.windows(2).find(|w| w[0].revision >= w[1].revision) {
            return Err(format!("{name}: {:?} came after {:?}", w[1], w[0]));
        }
        if let Some(e) = log.events.iter().find(|e| e.revision > last || !log.covers(e.revision)) {
            return Err(format!("{name}: {e:?} is past the span's end, {last}, or in a gap it announced"));
        }
        if let Span::Every { first, last } = span {
            let mut expected = (first..=last).filter(|r| log.covers(*r));
            if let Some((e, want)) = log.events.iter().zip(expected.by_ref()).find(|(e, want)| e.revision != *want) {
                return Err(format!("{name}: expected revision {want}, saw {e:?}"));
            }
            if let Some(want) = expected.next() {
                return Err(format!("{name}: events end before revision {want}, the store at {last}"));
            }
        }
        let by_revision: HashMap<i64, &WatchEvent> = log.events.iter().map(|e| (e.revision, e)).collect();
        for (&revision, &(key, value)) in writes.iter().filter(|(r, _)| **r <= last && log.covers(**r)) {
            match by_revision.get(&revision) {
                None => return Err(format!("{name}: no event for the write answered at {revision} ({key}={value:?})")),
                Some(e) if (e.key, e.value) != (key, value) => {
                    return Err(format!("{name}: {e:?}, but the write answered at that revision was {key}={value:?}"));
                }
                Some(_) => {}
            }
        }
    }
    // Pairwise, over the revisions both logs cover.
    for (i, a) in logs.iter().enumerate() {
        for b in &logs[i + 1..] {
            agree(a, b)?;
        }
    }
    Ok(())
}

/// Checks that two logs hold the same events wherever both cover a revision.
fn agree(a: &WatchLog, b: &WatchLog) -> Result<(), String> {
    let shared = |log: &WatchLog, other: &WatchLog| -> Vec<WatchEvent> {
        log.events.iter().filter(|e| other.covers(e.revision)).copied().collect()
    };
    let (la, lb) = (shared(a, b), shared(b, a));
    if la == lb {
        return Ok(());
    }
    Err(match la.iter().zip(&lb).find(|(x, y)| x != y) {
        Some((x, y)) => format!("{} saw {x:?} where {} saw {y:?}", a.name, b.name),
        None => format!("{} saw {} events, {} {}, where both watched", a.name, la.len(), b.name, lb.len()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(revision: i64, key: usize, value: Option<u64>) -> WatchEvent {
        WatchEvent { revision, key, value }
    }

    fn log(events: &[WatchEvent]) -> WatchLog {
        WatchLog { name: "m".to_string(), events: events.to_vec(), cleared: Vec::new() }
    }

    fn every(first: i64, last: i64) -> Span {
        Span::Every { first, last }
    }

    #[test]
    fn complete_agreeing_logs_pass() {
        let l = [ev(2, 0, Some(1)), ev(3, 1, Some(2)), ev(4, 0, None)];
        let writes = HashMap::from([(2, (0, Some(1))), (4, (0, None))]);
        check_watch_logs(&[log(&l), log(&l)], every(2, 4), &writes).expect("fine");
    }

    #[test]
    fn gaps_repeats_reorders_and_short_logs_are_caught() {
        let none = HashMap::new();
        let gap = [ev(2, 0, Some(1)), ev(4, 0, Some(3))];
        assert!(check_watch_logs(&[log(&gap)], every(2, 4), &none).is_err());
        let repeat = [ev(2, 0, Some(1)), ev(2, 0, Some(1)), ev(3, 0, Some(2))];
        assert!(check_watch_logs(&[log(&repeat)], every(2, 3), &none).is_err());
        let reorder = [ev(3, 0, Some(2)), ev(2, 0, Some(1))];
        assert!(check_watch_logs(&[log(&reorder)], every(2, 3), &none).is_err());
        let short = [ev(2, 0, Some(1))];
        assert!(check_watch_logs(&[log(&short)], every(2, 3), &none).is_err());
    }

    #[test]
    fn members_telling_different_histories_are_caught() {
        let a = [ev(2, 0, Some(1)), ev(3, 0, Some(2))];
        let b = [ev(2, 0, Some(1)), ev(3, 0, Some(5))];
        let e = check_watch_logs(&[log(&a), log(&b)], every(2, 3), &HashMap::new()).expect_err("disagree");
        assert!(e.contains("value: Some(5)"), "{e}");
    }

    #[test]
    fn sparse_logs_go_up_and_hold_every_answered_write() {
        let l = [ev(3, 0, Some(1)), ev(7, 1, Some(2)), ev(9, 0, None)];
        let writes = HashMap::from([(3, (0, Some(1))), (9, (0, None)), (12, (1, Some(4)))]);
        // The write at 12 is past the span's end: a write of unknown outcome may land late.
        check_watch_logs(&[log(&l), log(&l)], Span::Sparse { last: 10 }, &writes).expect("fine");
        let missing = [ev(3, 0, Some(1)), ev(7, 1, Some(2))];
        let e = check_watch_logs(&[log(&missing)], Span::Sparse { last: 10 }, &writes).expect_err("lost");
        assert!(e.contains("no event for the write answered at 9"), "{e}");
        let back = [ev(3, 0, Some(1)), ev(9, 0, None), ev(7, 1, Some(2))];
        assert!(check_watch_logs(&[log(&back)], Span::Sparse { last: 10 }, &HashMap::new()).is_err());
        let e = check_watch_logs(&[log(&l), log(&l[..2])], Span::Sparse { last: 10 }, &HashMap::new())
            .expect_err("one log is short");
        assert!(e.contains("3 events"), "{e}");
    }

    #[test]
    fn announced_gaps_excuse_what_they_cover_and_nothing_else() {
        let full = [ev(3, 0, Some(1)), ev(7, 1, Some(2)), ev(9, 0, None)];
        let writes = HashMap::from([(3, (0, Some(1))), (7, (1, Some(2))), (9, (0, None))]);
        let mut restarted = log(&[ev(9, 0, None)]);
        restarted.cleared = vec![(1, 8)];
        check_watch_logs(&[log(&full), restarted.clone()], Span::Sparse { last: 10 }, &writes).expect("announced");
        // A gap it did not announce is still a loss.
        restarted.cleared = vec![(1, 4)];
        assert!(check_watch_logs(&[log(&full), restarted.clone()], Span::Sparse { last: 10 }, &writes).is_err());
        // And an event inside its own announced gap is a contradiction.
        restarted.events = vec![ev(3, 0, Some(1)), ev(9, 0, None)];
        restarted.cleared = vec![(1, 8)];
        assert!(check_watch_logs(&[restarted.clone()], Span::Sparse { last: 10 }, &writes).is_err());
        // With every revision expected, the announced gap is skipped, the rest counted.
        let mut v3 = log(&[ev(2, 0, Some(1)), ev(5, 0, Some(2))]);
        v3.cleared = vec![(3, 4)];
        check_watch_logs(&[v3], every(2, 5), &HashMap::new()).expect("gap announced");
    }

    #[test]
    fn an_event_unlike_the_answered_write_is_caught() {
        let l = [ev(2, 0, Some(1))];
        assert!(check_watch_logs(&[log(&l)], every(2, 2), &HashMap::from([(2, (1, Some(1)))])).is_err());
        assert!(check_watch_logs(&[log(&l)], every(2, 2), &HashMap::from([(2, (0, None))])).is_err());
    }
}
