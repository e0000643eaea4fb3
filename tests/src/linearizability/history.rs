//! One recorded operation of a client history.

/// An operation as a client saw it. Times are on one clock (nanoseconds since the test
/// began, say); only their order matters.
#[derive(Clone, Debug)]
pub struct Operation<I, O> {
    /// Which logical client made it. A client has at most one operation in flight, and a
    /// client whose operation ended in doubt makes no more (it is retired, as Knossos
    /// treats a timed-out process as crashed).
    pub client: usize,
    /// When it was sent.
    pub call: u64,
    /// When its answer came back; `None` when its outcome is unknown (an error or a
    /// timeout after the request may have reached the server). Such an operation may take
    /// effect at any point after its call, or never, which is the same as taking effect
    /// after everything else.
    pub ret: Option<u64>,
    /// What it asked for.
    pub input: I,
    /// What it got; `None` exactly when `ret` is.
    pub output: Option<O>,
}
