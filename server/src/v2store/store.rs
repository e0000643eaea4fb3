//! The v2 store: a tree of directories and files, changed only by applying log entries.
//!
//! Each change is recorded in the caller's [`WriteBatch`] in an order that makes any
//! prefix of it safe to apply again after a crash: parents before the node they hold when
//! creating, children before their parent when removing. The v2 index of a change is the
//! log index of its entry.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use super::error::{Code, V2Error};
use super::event::{Action, Event, NodeView};
use super::history::HistoryCopy;
use super::node::{Kind, Node, Record, components, join};
use super::request::{Method, V2Write};
use super::saved_history::SavedHistory;
use super::stats::{Counter, Stats};
use super::text::text;
use super::watch::{Watch, WatcherHub};
use crate::storage::{Backend, StorageError, Tree, WriteBatch};

/// The v2 key space of one member.
pub struct V2Store {
    root: Node,
    /// Nodes with a TTL, by expiry then path.
    ttls: BTreeSet<(u64, String)>,
    hub: Arc<Mutex<WatcherHub>>,
    saved: SavedHistory,
    stats: Arc<Stats>,
}

fn corrupt(e: std::io::Error) -> StorageError {
    StorageError::Corrupt { tree: Tree::V2.name(), reason: e.to_string() }
}

fn encode(r: &Record) -> Result<Vec<u8>, StorageError> {
    crate::raft::types::encode(r).map_err(corrupt)
}

fn decode(b: &[u8]) -> Result<Record, StorageError> {
    crate::raft::types::decode(b).map_err(corrupt)
}

/// Removed nodes, children first: the watchers of each are told of the removal.
type Removed = Vec<String>;

impl V2Store {
    /// Loads the store and its event history from `backend`; `index` is the applied
    /// index.
    pub fn open<B: Backend>(backend: &B, index: u64) -> Result<Self, StorageError> {
        let (saved, history) = SavedHistory::load(backend, index)?;
        let mut store = Self {
            root: Node::dir(0),
            ttls: BTreeSet::new(),
            hub: Arc::new(Mutex::new(WatcherHub::with_history(history))),
            saved,
            stats: Arc::default(),
        };
        let mut records = Vec::new();
        backend.scan(Tree::V2, .., &mut |k, v| {
            records.push((String::from_utf8_lossy(k).into_owned(), decode(v)?));
            Ok(true)
        })?;
        store.load(records);
        Ok(store)
    }

    /// Inserts records; parents sort before their children, and a parent missing after a
    /// crash is recreated by the child's insert.
    fn load(&mut self, records: Vec<(String, Record)>) {
        for (path, record) in records {
            let Some((parent, name)) = split(&path) else { continue };
            let mut scratch = WriteBatch::default();
            if let Ok(children) = ensure_dir(&mut self.root, parent, record.created, &mut scratch) {
                let node = children.entry(name.to_string()).or_insert_with(|| Node::dir(record.created));
                let loaded = Node::from_record(record);
                if let Some(t) = loaded.expire_at {
                    self.ttls.insert((t, path.clone()));
                }
                // A directory keeps the children already loaded under it.
                if let (Kind::Dir(_), Kind::Dir(_)) = (&node.kind, &loaded.kind) {
                    node.created = loaded.created;
                    node.modified = loaded.modified;
                    node.expire_at = loaded.expire_at;
                } else {
                    *node = loaded;
                }
            }
        }
    }

    /// Every record, for a snapshot.
    pub fn export(&self) -> Vec<(String, Record)> {
        fn collect(n: &Node, path: &str, out: &mut Vec<(String, Record)>) {
            if path != "/" {
                out.push((path.to_string(), n.record()));
            }
            if let Kind::Dir(children) = &n.kind {
                for (name, child) in children {
                    collect(child, &join(path, name), out);
                }
            }
        }
        let mut all = Vec::new();
        collect(&self.root, "/", &mut all);
        all
    }

    /// The event history, as a snapshot carries it.
    pub fn export_history(&self) -> HistoryCopy {
        lock(&self.hub).history().copy()
    }

    /// Replaces the contents with `records` and the history with `history` (a snapshot
    /// taken at `index`), queueing the writes. Watchers are ended: what they watched may
    /// have changed without events. A snapshot without a history (a snapshot file
    /// restored) restarts it at `index`.
    pub fn import<B: Backend>(
        &mut self,
        backend: &B,
        records: Vec<(String, Record)>,
        history: Option<&HistoryCopy>,
        index: u64,
        batch: &mut WriteBatch,
    ) -> Result<(), StorageError> {
        backend.scan(Tree::V2, .., &mut |k, _| {
            batch.delete(Tree::V2, k.to_vec());
            Ok(true)
        })?;
        for (path, record) in &records {
            batch.put(Tree::V2, path.as_bytes().to_vec(), encode(record)?);
        }
        let history = self.saved.replace(backend, history, index, batch)?;
        self.root = Node::dir(0);
        self.ttls.clear();
        self.load(records);
        let mut hub = lock(&self.hub);
        hub.close();
        *hub = WatcherHub::with_history(history);
        Ok(())
    }

    /// This member's operation counts.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Watchers waiting now.
    pub fn watcher_count(&self) -> usize {
        lock(&self.hub).count()
    }

    /// Paths of nodes whose TTL ran out at `now` (milliseconds since the epoch).
    pub fn expired(&self, now: u64) -> Vec<String> {
        self.ttls.iter().take_while(|(t, _)| *t <= now).map(|(_, p)| p.clone()).collect()
    }

    /// Reads `path` at store index `current`.
    pub fn get(&self, path: &str, recursive: bool, current: u64) -> Result<Event, V2Error> {
        let found = self.lookup(path, current);
        // The recursive count first: a scrape reads it after the gets.
        if recursive {
            self.stats.inc_recursive_get();
        }
        self.stats.inc(if found.is_ok() { Counter::GetSuccess } else { Counter::GetFail });
        let n = found?;
        let mut node = n.bare_view(path);
        // The top of a GET always lists a directory's children.
        node.nodes = n.children_view(path, recursive);
        Ok(Event { action: Action::Get, node, prev_node: None, index: current, refresh: false })
    }

    /// Starts a watch of `path` (see [`WatcherHub::watch`]).
    pub fn watch(&self, path: &str, recursive: bool, stream: bool, since: u64, current: u64) -> Result<Watch, V2Error> {
        self.stats.inc_watch_request();
        lock(&self.hub).watch(path, recursive, stream, since, current)
    }

    /// Applies a write at log index `index`, queueing its records in `batch`. Watchers
    /// hear of it when it succeeds. The outer `Err` is a storage failure, after which the
    /// member must stop.
    pub fn apply(
        &mut self,
        w: &V2Write,
        index: u64,
        batch: &mut WriteBatch,
    ) -> Result<Result<Event, V2Error>, StorageError> {
        let first = batch.len();
        let ((ok, fail), result) = self.dispatch(w, index, batch);
        match result {
            Ok((event, removed)) => {
                self.stats.inc(ok);
                self.publish(&event, &removed, first, batch)?;
                Ok(Ok(event))
            }
            Err(e) => {
                self.stats.inc(fail);
                Ok(Err(e))
            }
        }
    }

    /// Removes the node at `path` if its TTL ran out at `now`: the leader decides that a
    /// TTL ran out, every member applies the same removal.
    pub fn expire(
        &mut self,
        path: &str,
        now: u64,
        index: u64,
        batch: &mut WriteBatch,
    ) -> Result<Option<Event>, StorageError> {
        let Ok(n) = self.lookup(path, index) else { return Ok(None) };
        if n.expire_at.is_none_or(|t| t > now) {
            return Ok(None);
        }
        let first = batch.len();
        let (event, removed) = self.remove(path, Action::Expire, index, batch);
        self.stats.inc(Counter::Expire);
        self.publish(&event, &removed, first, batch)?;
        Ok(Some(event))
    }

    /// Records `event` in the history and tells its watchers. On disk it goes ahead of
    /// the change's other writes (those from `first` on in `batch`): a crash keeps a
    /// prefix of a batch, so any of the change that survives has its event beside it. An
    /// entry applied again after such a crash, on top of part of its change, may come out
    /// otherwise; the event saved the first time stands, and nothing is sent again.
    fn publish(
        &mut self,
        event: &Event,
        removed: &Removed,
        first: usize,
        batch: &mut WriteBatch,
    ) -> Result<(), StorageError> {
        let mut saved = WriteBatch::default();
        if !self.saved.record(event, &mut saved)? {
            return Ok(());
        }
        batch.insert_at(first, saved);
        let mut hub = lock(&self.hub);
        for p in removed {
            hub.notify_removed(event, p);
        }
        hub.notify(event);
        Ok(())
    }

    /// Picks the operation as etcd's `applierV2store` does.
    #[allow(clippy::type_complexity)]
    fn dispatch(
        &mut self,
        w: &V2Write,
        index: u64,
        batch: &mut WriteBatch,
    ) -> ((Counter, Counter), Result<(Event, Removed), V2Error>) {
        let compare = w.prev_index > 0 || !w.prev_value.is_empty();
        match (w.method, w.prev_exist) {
            (Method::Post, _) => ((Counter::CreateSuccess, Counter::CreateFail), self.create(w, true, index, batch)),
            (Method::Put, Some(false)) => {
                ((Counter::CreateSuccess, Counter::CreateFail), self.create(w, false, index, batch))
            }
            (Method::Put, Some(true)) if !compare => {
                ((Counter::UpdateSuccess, Counter::UpdateFail), self.update(w, index, batch))
            }
            (Method::Put, _) if compare => {
                ((Counter::CasSuccess, Counter::CasFail), self.compare_and_swap(w, index, batch))
            }
            (Method::Put, _) => ((Counter::SetSuccess, Counter::SetFail), self.set(w, index, batch)),
            (Method::Delete, _) if compare => {
                ((Counter::CadSuccess, Counter::CadFail), self.compare_and_delete(w, index, batch))
            }
            (Method::Delete, _) => ((Counter::DeleteSuccess, Counter::DeleteFail), self.delete(w, index, batch)),
        }
    }

    fn lookup(&self, path: &str, index: u64) -> Result<&Node, V2Error> {
        let mut cur = &self.root;
        let mut cur_path = String::from("/");
        for c in components(path) {
            let Kind::Dir(children) = &cur.kind else {
                return Err(V2Error::new(Code::NotDir, cur_path, index));
            };
            cur_path = join(&cur_path, c);
            cur = children.get(c).ok_or_else(|| V2Error::new(Code::KeyNotFound, cur_path.clone(), index))?;
        }
        Ok(cur)
    }

    /// The node at `path`, which the caller has already found with [`Self::lookup`] (whose
    /// errors carry etcd's causes): one walk, no second check.
    fn lookup_mut(&mut self, path: &str, index: u64) -> Result<&mut Node, V2Error> {
        let mut cur = &mut self.root;
        for c in components(path) {
            let Kind::Dir(children) = &mut cur.kind else { return Err(V2Error::new(Code::NotDir, path, index)) };
            cur = children.get_mut(c).ok_or_else(|| V2Error::new(Code::KeyNotFound, path, index))?;
        }
        Ok(cur)
    }

    fn set(&mut self, w: &V2Write, index: u64, batch: &mut WriteBatch) -> Result<(Event, Removed), V2Error> {
        let value = if w.refresh {
            // A refresh keeps the value; the key must exist.
            self.lookup(&w.path, index)?.value().to_vec()
        } else {
            w.value.clone()
        };
        self.create_at(&w.path, w.dir, value, true, w.expire_at, Action::Set, index, batch).map(|mut e| {
            e.refresh = w.refresh;
            (e, Vec::new())
        })
    }

    fn create(
        &mut self,
        w: &V2Write,
        unique: bool,
        index: u64,
        batch: &mut WriteBatch,
    ) -> Result<(Event, Removed), V2Error> {
        let path = if unique { join(&w.path, &format!("{index:020}")) } else { w.path.clone() };
        self.create_at(&path, w.dir, w.value.clone(), false, w.expire_at, Action::Create, index, batch)
            .map(|e| (e, Vec::new()))
    }

    /// etcd's `internalCreate`: makes missing parents, then the node, replacing a file
    /// only if `replace`.
    #[allow(clippy::too_many_arguments)]
    fn create_at(
        &mut self,
        path: &str,
        dir: bool,
        value: Vec<u8>,
        replace: bool,
        expire_at: Option<u64>,
        action: Action,
        index: u64,
        batch: &mut WriteBatch,
    ) -> Result<Event, V2Error> {
        let Some((parent, name)) = split(path) else {
            return Err(V2Error::new(Code::RootReadOnly, "/", index));
        };
        let children = ensure_dir(&mut self.root, parent, index, batch)?;
        let mut prev_node = None;
        if let Some(existing) = children.get(name) {
            if !replace {
                return Err(V2Error::new(Code::NodeExist, path, index));
            }
            if existing.is_dir() {
                return Err(V2Error::new(Code::NotFile, path, index));
            }
            prev_node = Some(existing.bare_view(path));
            if let Some(t) = existing.expire_at {
                self.ttls.remove(&(t, path.to_string()));
            }
        }
        let kind = if dir { Kind::Dir(Default::default()) } else { Kind::File(value) };
        let node = Node::new(kind, index, expire_at);
        batch.put(Tree::V2, path.as_bytes().to_vec(), encode(&node.record()).map_err(internal)?);
        let view = node.bare_view(path);
        children.insert(name.to_string(), node);
        if let Some(t) = expire_at {
            self.ttls.insert((t, path.to_string()));
        }
        Ok(Event { action, node: view, prev_node, index, refresh: false })
    }

    fn update(&mut self, w: &V2Write, index: u64, batch: &mut WriteBatch) -> Result<(Event, Removed), V2Error> {
        if split(&w.path).is_none() {
            return Err(V2Error::new(Code::RootReadOnly, "/", index));
        }
        let n = self.lookup(&w.path, index)?;
        if n.is_dir() && !w.value.is_empty() {
            return Err(V2Error::new(Code::NotFile, w.path.clone(), index));
        }
        self.rewrite(w, Action::Update, index, batch)
    }

    fn compare_and_swap(
        &mut self,
        w: &V2Write,
        index: u64,
        batch: &mut WriteBatch,
    ) -> Result<(Event, Removed), V2Error> {
        if split(&w.path).is_none() {
            return Err(V2Error::new(Code::RootReadOnly, "/", index));
        }
        let n = self.lookup(&w.path, index)?;
        if n.is_dir() {
            return Err(V2Error::new(Code::NotFile, w.path.clone(), index));
        }
        compare(n, w, index)?;
        self.rewrite(w, Action::CompareAndSwap, index, batch)
    }

    /// Writes a new value (or keeps it, on refresh) and TTL into an existing node.
    fn rewrite(
        &mut self,
        w: &V2Write,
        action: Action,
        index: u64,
        batch: &mut WriteBatch,
    ) -> Result<(Event, Removed), V2Error> {
        let n = self.lookup_mut(&w.path, index)?;
        let prev_node = n.bare_view(&w.path);
        let old_expiry = n.expire_at;
        if let (Kind::File(v), false) = (&mut n.kind, w.refresh) {
            v.clone_from(&w.value);
        }
        n.modified = index;
        n.expire_at = w.expire_at;
        let record = encode(&n.record()).map_err(internal)?;
        let node = n.bare_view(&w.path);
        batch.put(Tree::V2, w.path.as_bytes().to_vec(), record);
        if let Some(t) = old_expiry {
            self.ttls.remove(&(t, w.path.clone()));
        }
        if let Some(t) = w.expire_at {
            self.ttls.insert((t, w.path.clone()));
        }
        Ok((Event { action, node, prev_node: Some(prev_node), index, refresh: w.refresh }, Vec::new()))
    }

    fn delete(&mut self, w: &V2Write, index: u64, batch: &mut WriteBatch) -> Result<(Event, Removed), V2Error> {
        if split(&w.path).is_none() {
            return Err(V2Error::new(Code::RootReadOnly, "/", index));
        }
        let dir = w.dir || w.recursive;
        let n = self.lookup(&w.path, index)?;
        if let Kind::Dir(children) = &n.kind {
            if !dir {
                return Err(V2Error::new(Code::NotFile, w.path.clone(), index));
            }
            if !children.is_empty() && !w.recursive {
                return Err(V2Error::new(Code::DirNotEmpty, w.path.clone(), index));
            }
        }
        Ok(self.remove(&w.path, Action::Delete, index, batch))
    }

    fn compare_and_delete(
        &mut self,
        w: &V2Write,
        index: u64,
        batch: &mut WriteBatch,
    ) -> Result<(Event, Removed), V2Error> {
        let n = self.lookup(&w.path, index)?;
        if n.is_dir() {
            return Err(V2Error::new(Code::NotFile, w.path.clone(), index));
        }
        compare(n, w, index)?;
        Ok(self.remove(&w.path, Action::CompareAndDelete, index, batch))
    }

    /// Removes the node at `path` (which exists) with its subtree.
    fn remove(&mut self, path: &str, action: Action, index: u64, batch: &mut WriteBatch) -> (Event, Removed) {
        let mut removed = Vec::new();
        let Some((parent, name)) = split(path) else { return (self.noop_event(path, action, index), removed) };
        let node = match self.lookup_mut(parent, index) {
            Ok(Node { kind: Kind::Dir(children), .. }) => children.remove(name),
            _ => None,
        };
        let Some(node) = node else { return (self.noop_event(path, action, index), removed) };
        let mut subtree = Vec::new();
        node.subtree(path, &mut subtree);
        for (p, expiry) in subtree {
            batch.delete(Tree::V2, p.as_bytes().to_vec());
            if let Some(t) = expiry {
                self.ttls.remove(&(t, p.clone()));
            }
            removed.push(p);
        }
        let prev_node = node.bare_view(path);
        let view = NodeView {
            key: path.to_string(),
            dir: node.is_dir(),
            modified_index: index,
            created_index: node.created,
            ..NodeView::default()
        };
        (Event { action, node: view, prev_node: Some(prev_node), index, refresh: false }, removed)
    }

    fn noop_event(&self, path: &str, action: Action, index: u64) -> Event {
        let node = NodeView { key: path.to_string(), modified_index: index, ..NodeView::default() };
        Event { action, node, prev_node: None, index, refresh: false }
    }
}

fn lock(hub: &Mutex<WatcherHub>) -> MutexGuard<'_, WatcherHub> {
    hub.lock().unwrap_or_else(|p| p.into_inner())
}

fn internal(e: StorageError) -> V2Error {
    V2Error::request(Code::RaftInternal, e.to_string())
}

/// `(parent, name)` of a non-root path.
fn split(path: &str) -> Option<(&str, &str)> {
    let trimmed = path.trim_end_matches('/');
    let (parent, name) = trimmed.rsplit_once('/')?;
    if name.is_empty() {
        return None;
    }
    Some((if parent.is_empty() { "/" } else { parent }, name))
}

/// The children of the directory at `path`, creating missing directories (records queued
/// parents first). A file on the way is error 104.
fn ensure_dir<'a>(
    root: &'a mut Node,
    path: &str,
    index: u64,
    batch: &mut WriteBatch,
) -> Result<&'a mut std::collections::BTreeMap<String, Node>, V2Error> {
    let mut cur = root;
    let mut cur_path = String::from("/");
    for c in components(path) {
        let Kind::Dir(children) = &mut cur.kind else {
            return Err(V2Error::new(Code::NotDir, cur_path, index));
        };
        let child_path = join(&cur_path, c);
        if !children.contains_key(c) {
            let dir = Node::dir(index);
            batch.put(Tree::V2, child_path.as_bytes().to_vec(), encode(&dir.record()).map_err(internal)?);
            children.insert(c.to_string(), dir);
        }
        cur = children.get_mut(c).ok_or_else(|| V2Error::new(Code::KeyNotFound, child_path.clone(), index))?;
        cur_path = child_path;
    }
    match &mut cur.kind {
        Kind::Dir(children) => Ok(children),
        Kind::File(_) => Err(V2Error::new(Code::NotDir, cur_path, index)),
    }
}

/// etcd's compare for CAS/CAD, with its cause text.
fn compare(n: &Node, w: &V2Write, index: u64) -> Result<(), V2Error> {
    let index_ok = w.prev_index == 0 || n.modified == w.prev_index;
    let value_ok = w.prev_value.is_empty() || n.value() == w.prev_value;
    let cause = match (value_ok, index_ok) {
        (true, true) => return Ok(()),
        (true, false) => format!("[{} != {}]", w.prev_index, n.modified),
        (false, true) => format!("[{} != {}]", text(&w.prev_value), text(n.value())),
        (false, false) => {
            format!("[{} != {}] [{} != {}]", text(&w.prev_value), text(n.value()), w.prev_index, n.modified)
        }
    };
    Err(V2Error::new(Code::TestFailed, cause, index))
}
