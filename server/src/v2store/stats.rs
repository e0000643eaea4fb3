//! Operation counters for `/v2/stats/store`.

use std::sync::atomic::{AtomicU64, Ordering};

/// A counted outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counter {
    /// `getsSuccess`.
    GetSuccess,
    /// `getsFail`.
    GetFail,
    /// `setsSuccess`.
    SetSuccess,
    /// `setsFail`.
    SetFail,
    /// `deleteSuccess`.
    DeleteSuccess,
    /// `deleteFail`.
    DeleteFail,
    /// `updateSuccess`.
    UpdateSuccess,
    /// `updateFail`.
    UpdateFail,
    /// `createSuccess`.
    CreateSuccess,
    /// `createFail`.
    CreateFail,
    /// `compareAndSwapSuccess`.
    CasSuccess,
    /// `compareAndSwapFail`.
    CasFail,
    /// `compareAndDeleteSuccess`.
    CadSuccess,
    /// `compareAndDeleteFail`.
    CadFail,
    /// `expireCount`.
    Expire,
}

impl Counter {
    /// Every counter with its JSON name, in etcd's order.
    pub const ALL: [(Counter, &'static str); 15] = [
        (Counter::GetSuccess, "getsSuccess"),
        (Counter::GetFail, "getsFail"),
        (Counter::SetSuccess, "setsSuccess"),
        (Counter::SetFail, "setsFail"),
        (Counter::DeleteSuccess, "deleteSuccess"),
        (Counter::DeleteFail, "deleteFail"),
        (Counter::UpdateSuccess, "updateSuccess"),
        (Counter::UpdateFail, "updateFail"),
        (Counter::CreateSuccess, "createSuccess"),
        (Counter::CreateFail, "createFail"),
        (Counter::CasSuccess, "compareAndSwapSuccess"),
        (Counter::CasFail, "compareAndSwapFail"),
        (Counter::CadSuccess, "compareAndDeleteSuccess"),
        (Counter::CadFail, "compareAndDeleteFail"),
        (Counter::Expire, "expireCount"),
    ];
}

/// This member's counts (like etcd's, they are not replicated).
#[derive(Debug, Default)]
pub struct Stats {
    counts: [AtomicU64; 15],
    /// Gets with `recursive=true` (etcd's `getRecursive` reads), among the gets.
    recursive_gets: AtomicU64,
    /// Watches asked for, whether they started or not.
    watch_requests: AtomicU64,
}

impl Stats {
    /// Counts one outcome.
    pub fn inc(&self, c: Counter) {
        self.counts[c as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a get that was recursive, besides its [`Counter::GetSuccess`] or
    /// [`Counter::GetFail`].
    pub fn inc_recursive_get(&self) {
        self.recursive_gets.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a watch asked for.
    pub fn inc_watch_request(&self) {
        self.watch_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Recursive gets so far.
    pub fn recursive_gets(&self) -> u64 {
        self.recursive_gets.load(Ordering::Relaxed)
    }

    /// Watches asked for so far.
    pub fn watch_requests(&self) -> u64 {
        self.watch_requests.load(Ordering::Relaxed)
    }

    /// The current count of `c`.
    pub fn get(&self, c: Counter) -> u64 {
        self.counts[c as usize].load(Ordering::Relaxed)
    }
}
