//! One etcd key as a register of unique values: what a linearizable Range, Put, Txn
//! (compare the value, then put) and DeleteRange of a single key must answer.

use super::wgl::Model;

/// An operation on one key. Values are numbers, each written at most once in a history,
/// so that a read names the write it saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOp {
    /// A linearizable Range of the key.
    Get,
    /// A Put of the value.
    Put(u64),
    /// A Txn: if the value is `expect`, put `new`.
    Cas {
        /// The value compared with.
        expect: u64,
        /// The value put when the compare holds.
        new: u64,
    },
    /// A DeleteRange of the key.
    Delete,
}

/// An operation and the key (by number) it touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KeyInput {
    /// Which key.
    pub key: usize,
    /// What was done to it.
    pub op: KeyOp,
}

/// What an operation answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyOutput {
    /// The value read (`None`: no such key).
    Get(Option<u64>),
    /// The put succeeded.
    Put,
    /// Whether the txn's compare held (`succeeded`).
    Cas(bool),
    /// Whether anything was deleted (`deleted` > 0).
    Delete(bool),
}

/// The model: each key holds one value or none, and starts with none.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyModel;

impl Model for KeyModel {
    type State = Option<u64>;
    type Input = KeyInput;
    type Output = KeyOutput;
    type Partition = usize;

    fn init(&self) -> Option<u64> {
        None
    }

    fn partition(&self, input: &KeyInput) -> usize {
        input.key
    }

    fn step(&self, state: &Option<u64>, input: &KeyInput, output: Option<&KeyOutput>) -> Option<Option<u64>> {
        // An operation whose answer is unknown did what it does in this state, if it took
        // effect at all (not taking effect is the same as taking effect last).
        let holds = |expect: u64| *state == Some(expect);
        match (input.op, output) {
            (KeyOp::Get, None) => Some(*state),
            (KeyOp::Get, Some(KeyOutput::Get(read))) => (read == state).then_some(*state),
            (KeyOp::Put(v), None | Some(KeyOutput::Put)) => Some(Some(v)),
            (KeyOp::Cas { expect, new }, None) => Some(if holds(expect) { Some(new) } else { *state }),
            (KeyOp::Cas { expect, new }, Some(KeyOutput::Cas(true))) => holds(expect).then_some(Some(new)),
            (KeyOp::Cas { expect, .. }, Some(KeyOutput::Cas(false))) => (!holds(expect)).then_some(*state),
            (KeyOp::Delete, None) => Some(None),
            (KeyOp::Delete, Some(KeyOutput::Delete(deleted))) => (*deleted == state.is_some()).then_some(None),
            // An answer of the wrong kind explains nothing.
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(state: Option<u64>, op: KeyOp, output: Option<KeyOutput>) -> Option<Option<u64>> {
        KeyModel.step(&state, &KeyInput { key: 0, op }, output.as_ref())
    }

    #[test]
    fn each_answer_is_checked_against_the_state() {
        assert_eq!(step(Some(1), KeyOp::Get, Some(KeyOutput::Get(Some(1)))), Some(Some(1)));
        assert_eq!(step(Some(1), KeyOp::Get, Some(KeyOutput::Get(None))), None);
        assert_eq!(step(None, KeyOp::Put(3), Some(KeyOutput::Put)), Some(Some(3)));
        assert_eq!(step(Some(1), KeyOp::Cas { expect: 1, new: 2 }, Some(KeyOutput::Cas(true))), Some(Some(2)));
        assert_eq!(step(Some(1), KeyOp::Cas { expect: 1, new: 2 }, Some(KeyOutput::Cas(false))), None);
        assert_eq!(step(None, KeyOp::Cas { expect: 1, new: 2 }, Some(KeyOutput::Cas(false))), Some(None));
        assert_eq!(step(None, KeyOp::Cas { expect: 1, new: 2 }, Some(KeyOutput::Cas(true))), None);
        assert_eq!(step(Some(1), KeyOp::Delete, Some(KeyOutput::Delete(true))), Some(None));
        assert_eq!(step(None, KeyOp::Delete, Some(KeyOutput::Delete(true))), None);
        assert_eq!(step(None, KeyOp::Delete, Some(KeyOutput::Delete(false))), Some(None));
        assert_eq!(step(None, KeyOp::Put(3), Some(KeyOutput::Get(None))), None);
    }

    #[test]
    fn unknown_answers_do_what_the_state_implies() {
        assert_eq!(step(Some(1), KeyOp::Cas { expect: 1, new: 2 }, None), Some(Some(2)));
        assert_eq!(step(Some(5), KeyOp::Cas { expect: 1, new: 2 }, None), Some(Some(5)));
        assert_eq!(step(Some(5), KeyOp::Delete, None), Some(None));
        assert_eq!(step(Some(5), KeyOp::Put(6), None), Some(Some(6)));
    }
}
