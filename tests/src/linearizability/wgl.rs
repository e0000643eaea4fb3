//! The WGL search: place the operations one at a time in an order that respects real
//! time, backtracking when an answer cannot be explained, and remembering every
//! (placed set, model state) pair already tried so no pair is searched twice.

use std::collections::{BTreeMap, HashSet};
use std::fmt::{self, Debug};
use std::hash::Hash;

use super::history::Operation;

/// A sequential specification: what one operation does to the state, given its answer.
pub trait Model {
    /// The state of one partition.
    type State: Clone + Eq + Hash;
    /// What an operation asks.
    type Input: Debug;
    /// What an operation answers.
    type Output: Debug;
    /// Which independent part of the state an operation touches (a key, say).
    type Partition: Ord + Debug;

    /// The state every partition starts in.
    fn init(&self) -> Self::State;

    /// The part of the state `input` touches.
    fn partition(&self, input: &Self::Input) -> Self::Partition;

    /// The state after `input` ran on `state` and answered `output` (`None`: the answer
    /// is unknown, so any answer goes), or `None` when that answer is impossible there.
    fn step(&self, state: &Self::State, input: &Self::Input, output: Option<&Self::Output>) -> Option<Self::State>;
}

/// Why a history is not linearizable (or could not be shown to be).
#[derive(Debug)]
pub struct Violation {
    /// The partition whose operations admit no order.
    pub partition: String,
    /// The most operations of the partition that some order could explain, in the order
    /// found, before it got stuck.
    pub explained: Vec<String>,
    /// The operation whose answer that order could not explain.
    pub stuck_at: String,
    /// How many operations the partition has.
    pub total: usize,
    /// Whether the search gave up on its step or memory budget instead of proving a
    /// violation.
    pub gave_up: bool,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.gave_up { "search gave up on" } else { "not linearizable:" };
        writeln!(f, "{what} partition {} ({} operations)", self.partition, self.total)?;
        writeln!(f, "longest explained order ({} operations), last ones:", self.explained.len())?;
        for op in self.explained.iter().rev().take(12).rev() {
            writeln!(f, "  {op}")?;
        }
        write!(f, "then no order explains: {}", self.stuck_at)
    }
}

/// An operation of a history checked under model `M`.
type Op<M> = Operation<<M as Model>::Input, <M as Model>::Output>;

/// Search steps allowed per partition before giving up: far more than a history of a few
/// thousand operations with a handful of clients needs, and a bound on a test's time.
const STEP_BUDGET: u64 = 50_000_000;

/// (placed set, state) pairs remembered per partition before giving up: a bound on the
/// memory the search takes, since each pair holds a copy of the placed set.
const MEMO_BUDGET: usize = 2_000_000;

/// Checks that `history` is linearizable under `model`, partition by partition.
pub fn check<M: Model>(model: &M, history: &[Op<M>]) -> Result<(), Violation> {
    let mut parts: BTreeMap<M::Partition, Vec<&Op<M>>> = BTreeMap::new();
    for op in history {
        parts.entry(model.partition(&op.input)).or_default().push(op);
    }
    for (partition, ops) in parts {
        check_partition(model, &ops).map_err(|mut v| {
            v.partition = format!("{partition:?}");
            v
        })?;
    }
    Ok(())
}

/// The history as a doubly linked list of call and return events in time order, from
/// which operations are lifted as they are placed and put back on backtracking. Node 0 is
/// the head, node `2n + 1` the tail; operation `i` has its call at `2i + 1` and its return
/// at `2i + 2`.
struct Events {
    next: Vec<usize>,
    prev: Vec<usize>,
}

const HEAD: usize = 0;

fn call_node(op: usize) -> usize {
    2 * op + 1
}

fn op_of(node: usize) -> usize {
    (node - 1) / 2
}

fn is_call(node: usize) -> bool {
    node % 2 == 1
}

impl Events {
    fn new<I, O>(ops: &[&Operation<I, O>]) -> Events {
        let n = ops.len();
        // A call sorts before a return at the same instant: the two then overlap, which
        // allows more orders, never fewer.
        let mut order: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
        for (i, op) in ops.iter().enumerate() {
            order.push((op.call, false, call_node(i)));
            order.push((op.ret.unwrap_or(u64::MAX), true, call_node(i) + 1));
        }
        order.sort_unstable();
        let tail = 2 * n + 1;
        let mut next = vec![tail; 2 * n + 2];
        let mut prev = vec![HEAD; 2 * n + 2];
        let mut last = HEAD;
        for (_, _, node) in order {
            next[last] = node;
            prev[node] = last;
            last = node;
        }
        next[last] = tail;
        prev[tail] = last;
        Events { next, prev }
    }

    fn is_empty(&self) -> bool {
        self.next[HEAD] == self.next.len() - 1
    }

    fn unlink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = n;
        self.prev[n] = p;
    }

    fn relink(&mut self, node: usize) {
        let (p, n) = (self.prev[node], self.next[node]);
        self.next[p] = node;
        self.prev[n] = node;
    }

    /// Removes operation `op`'s call and return.
    fn lift(&mut self, op: usize) {
        self.unlink(call_node(op));
        self.unlink(call_node(op) + 1);
    }

    /// Undoes [`Events::lift`] of `op`, which must be the last operation lifted.
    fn unlift(&mut self, op: usize) {
        self.relink(call_node(op) + 1);
        self.relink(call_node(op));
    }
}

fn check_partition<M: Model>(model: &M, ops: &[&Op<M>]) -> Result<(), Violation> {
    let mut events = Events::new(ops);
    let mut placed = vec![0u64; ops.len().div_ceil(64)];
    let mut seen: HashSet<(Vec<u64>, M::State)> = HashSet::new();
    let mut stack: Vec<(usize, M::State)> = Vec::new();
    let mut state = model.init();
    // The deepest point the search reached and the operation it could not explain there.
    let mut deepest: Option<(Vec<usize>, usize)> = None;
    let mut node = events.next[HEAD];
    let mut steps = 0u64;
    let describe = |order: &[usize], stuck: usize, gave_up| Violation {
        partition: String::new(),
        explained: order.iter().map(|&i| format!("{:?}", ops[i])).collect(),
        stuck_at: format!("{:?}", ops[stuck]),
        total: ops.len(),
        gave_up,
    };
    while !events.is_empty() {
        steps += 1;
        if steps > STEP_BUDGET || seen.len() > MEMO_BUDGET {
            let order: Vec<usize> = stack.iter().map(|(op, _)| *op).collect();
            return Err(describe(&order, op_of(node), true));
        }
        let op = op_of(node);
        if !is_call(node) {
            // The operation that returned here was never placed: the order so far is wrong.
            if deepest.as_ref().is_none_or(|(order, _)| stack.len() > order.len()) {
                deepest = Some((stack.iter().map(|(op, _)| *op).collect(), op));
            }
            let Some((undone, before)) = stack.pop() else {
                let (order, stuck) = deepest.unwrap_or_default();
                return Err(describe(&order, stuck, false));
            };
            state = before;
            placed[undone / 64] &= !(1 << (undone % 64));
            events.unlift(undone);
            node = events.next[call_node(undone)];
            continue;
        }
        if let Some(after) = model.step(&state, &ops[op].input, ops[op].output.as_ref()) {
            placed[op / 64] |= 1 << (op % 64);
            if seen.insert((placed.clone(), after.clone())) {
                stack.push((op, std::mem::replace(&mut state, after)));
                events.lift(op);
                node = events.next[HEAD];
                continue;
            }
            placed[op / 64] &= !(1 << (op % 64));
        }
        node = events.next[node];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::kv_model::{KeyInput, KeyModel, KeyOp, KeyOutput};
    use super::*;

    type KeyOperation = Operation<KeyInput, KeyOutput>;

    fn op(client: usize, call: u64, ret: u64, op: KeyOp, output: KeyOutput) -> KeyOperation {
        Operation { client, call, ret: Some(ret), input: KeyInput { key: 0, op }, output: Some(output) }
    }

    fn unknown(client: usize, call: u64, op: KeyOp) -> KeyOperation {
        Operation { client, call, ret: None, input: KeyInput { key: 0, op }, output: None }
    }

    #[test]
    fn sequential_history_is_linearizable() {
        let h = vec![
            op(0, 0, 1, KeyOp::Get, KeyOutput::Get(None)),
            op(0, 2, 3, KeyOp::Put(1), KeyOutput::Put),
            op(1, 4, 5, KeyOp::Get, KeyOutput::Get(Some(1))),
            op(1, 6, 7, KeyOp::Cas { expect: 1, new: 2 }, KeyOutput::Cas(true)),
            op(0, 8, 9, KeyOp::Delete, KeyOutput::Delete(true)),
            op(0, 10, 11, KeyOp::Delete, KeyOutput::Delete(false)),
        ];
        check(&KeyModel, &h).expect("linearizable");
    }

    #[test]
    fn overlapping_operations_may_take_effect_in_either_order() {
        // The read overlaps the put, so it may see the value before or after it.
        let h = vec![
            op(0, 0, 1, KeyOp::Put(1), KeyOutput::Put),
            op(0, 2, 10, KeyOp::Put(2), KeyOutput::Put),
            op(1, 3, 4, KeyOp::Get, KeyOutput::Get(Some(1))),
            op(2, 5, 6, KeyOp::Get, KeyOutput::Get(Some(2))),
            op(1, 11, 12, KeyOp::Get, KeyOutput::Get(Some(2))),
        ];
        check(&KeyModel, &h).expect("linearizable");
    }

    #[test]
    fn stale_read_is_caught() {
        // The put finished before the read began, yet the read saw the old value.
        let h = vec![
            op(0, 0, 1, KeyOp::Put(1), KeyOutput::Put),
            op(0, 2, 3, KeyOp::Put(2), KeyOutput::Put),
            op(1, 4, 5, KeyOp::Get, KeyOutput::Get(Some(1))),
        ];
        let v = check(&KeyModel, &h).expect_err("stale read");
        assert!(!v.gave_up);
        assert!(v.stuck_at.contains("Get"), "{v}");
    }

    #[test]
    fn reads_going_back_in_time_are_caught() {
        // Two overlapping puts may land in either order, but two reads after both must
        // not disagree about which came last.
        let h = vec![
            op(0, 0, 5, KeyOp::Put(1), KeyOutput::Put),
            op(1, 0, 5, KeyOp::Put(2), KeyOutput::Put),
            op(2, 6, 7, KeyOp::Get, KeyOutput::Get(Some(1))),
            op(2, 8, 9, KeyOp::Get, KeyOutput::Get(Some(2))),
        ];
        check(&KeyModel, &h).expect_err("a value came back");
    }

    #[test]
    fn two_winning_compare_and_swaps_from_one_value_are_caught() {
        let h = vec![
            op(0, 0, 1, KeyOp::Put(1), KeyOutput::Put),
            op(1, 2, 6, KeyOp::Cas { expect: 1, new: 2 }, KeyOutput::Cas(true)),
            op(2, 3, 7, KeyOp::Cas { expect: 1, new: 3 }, KeyOutput::Cas(true)),
        ];
        check(&KeyModel, &h).expect_err("both swaps won");
    }

    #[test]
    fn lost_acknowledged_write_is_caught() {
        let h = vec![op(0, 0, 1, KeyOp::Put(1), KeyOutput::Put), op(1, 2, 3, KeyOp::Get, KeyOutput::Get(None))];
        check(&KeyModel, &h).expect_err("write lost");
    }

    #[test]
    fn a_write_of_unknown_outcome_may_land_late_or_never() {
        // The put timed out: a later read may see it, and one after that may not see it
        // replaced, but a read that sees it and then an older value is wrong.
        let landed = vec![
            op(0, 0, 1, KeyOp::Put(1), KeyOutput::Put),
            unknown(1, 2, KeyOp::Put(2)),
            op(2, 10, 11, KeyOp::Get, KeyOutput::Get(Some(1))),
            op(2, 12, 13, KeyOp::Get, KeyOutput::Get(Some(2))),
        ];
        check(&KeyModel, &landed).expect("the put landed between the reads");
        let never = vec![op(0, 0, 1, KeyOp::Put(1), KeyOutput::Put), unknown(1, 2, KeyOp::Put(2))];
        check(&KeyModel, &never).expect("the put never landed");
        let back = vec![
            op(0, 0, 1, KeyOp::Put(1), KeyOutput::Put),
            unknown(1, 2, KeyOp::Put(2)),
            op(2, 10, 11, KeyOp::Get, KeyOutput::Get(Some(2))),
            op(2, 12, 13, KeyOp::Get, KeyOutput::Get(Some(1))),
        ];
        check(&KeyModel, &back).expect_err("the value went back");
    }

    #[test]
    fn partitions_are_checked_apart() {
        let mut h = vec![op(0, 0, 1, KeyOp::Put(1), KeyOutput::Put), op(0, 2, 3, KeyOp::Get, KeyOutput::Get(Some(1)))];
        // Key 1 never saw a put of 1; a read of it there is wrong even though key 0 holds 1.
        h.push(Operation {
            client: 1,
            call: 4,
            ret: Some(5),
            input: KeyInput { key: 1, op: KeyOp::Get },
            output: Some(KeyOutput::Get(Some(1))),
        });
        let v = check(&KeyModel, &h).expect_err("key 1 read a value nobody wrote there");
        assert_eq!(v.partition, "1");
    }

    #[test]
    fn a_long_history_with_many_clients_is_checked_quickly() {
        // 8 clients take turns in overlapping rounds: put a fresh value, then read it back
        // after every put of the round ended. 4,000 operations.
        let mut h = Vec::new();
        let mut value = 0;
        for round in 0..250u64 {
            let t = round * 100;
            for c in 0..8usize {
                value += 1;
                h.push(op(c, t + c as u64, t + 20 + c as u64, KeyOp::Put(value), KeyOutput::Put));
            }
            for c in 0..8usize {
                h.push(op(c, t + 50 + c as u64, t + 60 + c as u64, KeyOp::Get, KeyOutput::Get(Some(value))));
            }
        }
        // The last put of each round is the one every read saw: the order puts it last.
        check(&KeyModel, &h).expect("linearizable");
    }
}
