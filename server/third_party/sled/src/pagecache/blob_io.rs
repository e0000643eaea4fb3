use crate::pagecache::*;
use crate::*;

pub(crate) fn read_blob(
    blob_ptr: Lsn,
    config: &Config,
) -> Result<(MessageKind, Vec<u8>)> {
    let path = config.blob_path(blob_ptr);
    let f_res = std::fs::OpenOptions::new().read(true).open(&path);

    if let Err(e) = &f_res {
        debug!("failed to open file for blob read at {}: {:?}", blob_ptr, e);
    }

    let mut f = f_res?;

    let mut crc_expected_bytes = [0_u8; std::mem::size_of::<u32>()];

    if let Err(e) = f.read_exact(&mut crc_expected_bytes) {
        debug!(
            "failed to read the initial CRC bytes in the blob at {}: {:?}",
            blob_ptr, e,
        );
        return Err(e.into());
    }

    let crc_expected = arr_to_u32(&crc_expected_bytes);

    let mut kind_byte = [0_u8];

    if let Err(e) = f.read_exact(&mut kind_byte) {
        debug!(
            "failed to read the initial CRC bytes in the blob at {}: {:?}",
            blob_ptr, e,
        );
        return Err(e.into());
    }

    let mut buf = vec![];

    if let Err(e) = f.read_to_end(&mut buf) {
        debug!(
            "failed to read data after the CRC bytes in blob at {}: {:?}",
            blob_ptr, e,
        );
        return Err(e.into());
    }

    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&kind_byte);
    hasher.update(&buf);
    let crc_actual = hasher.finalize();

    if crc_expected == crc_actual {
        let buf =
            if config.use_compression { maybe_decompress(buf)? } else { buf };
        Ok((MessageKind::from(kind_byte[0]), buf))
    } else {
        warn!("blob {} failed crc check!", blob_ptr);

        Err(Error::corruption(Some(DiskPtr::Blob(0, blob_ptr))))
    }
}

pub(crate) fn write_blob<T: Serialize>(
    config: &RunningConfig,
    kind: MessageKind,
    id: Lsn,
    item: &T,
) -> Result<()> {
    let path = config.blob_path(id);
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).open(&path)?;

    let kind_buf = &[kind.into()];

    let mut hasher = crc32fast::Hasher::new();
    hasher.update(kind_buf);

    let data = {
        let _ = Measure::new(&M.serialize);
        item.serialize()
    };

    hasher.update(&data);
    let crc = u32_to_arr(hasher.finalize());

    io_fail!(config, "write_blob write crc");
    f.write_all(&crc)?;
    io_fail!(config, "write_blob write kind_byte");
    f.write_all(kind_buf)?;
    io_fail!(config, "write_blob write buf");
    f.write_all(&data)
        .map(|r| {
            trace!("successfully wrote blob at {:?}", path);
            // etcd-rs: counted for size_on_disk (PATCHED.md, item 6). A
            // write that fails part way leaves a file uncounted until the
            // next start; the failed write is an error anyway.
            let len = crc.len() + kind_buf.len() + data.len();
            config.blob_bytes.fetch_add(len as u64, SeqCst);
            r
        })
        .map_err(|e| e.into())
}

pub(crate) fn remove_blob(id: Lsn, config: &RunningConfig) -> Result<()> {
    let path = config.blob_path(id);
    // etcd-rs: the length is read before the unlink, and taken off the count
    // only if this unlink removed the file (PATCHED.md, item 6).
    let len = std::fs::metadata(&path).map(|m| m.len());
    if let Err(e) = std::fs::remove_file(&path) {
        debug!("removing blob at {:?} failed: {}", path, e);
    } else {
        trace!("successfully removed blob at {:?}", path);
        if let Ok(len) = len {
            // Saturating: a count gone wrong must not wrap into a size that
            // trips the space quota.
            let _ = config.blob_bytes.fetch_update(SeqCst, SeqCst, |bytes| {
                Some(bytes.saturating_sub(len))
            });
        }
    }

    // TODO return a future
    Ok(())
}

/// etcd-rs: removes every blob that no page of the recovered `snapshot` uses
/// (PATCHED.md, item 8) and counts the bytes of the rest into
/// `RunningConfig::blob_bytes` (item 6), in one walk of the directory. Runs
/// once at start, before anything writes or removes a blob. Besides the
/// blobs of torn writes past the recovered log (all that sled's `gc_blobs`
/// removed, which this replaces), a crash leaves behind the blobs queued for
/// removal (item 7), and a reservation dropped unfinished leaves its blob.
pub(crate) fn sweep_blobs(
    config: &RunningConfig,
    snapshot: &Snapshot,
) -> Result<()> {
    // Every blob a page still uses is named by a pointer in the recovered page
    // table, which covers the log up to its stable tail. A page rewritten when
    // its segment was cleaned points to its old blob, so liveness comes from
    // the pointers, never from the lsns of the entries.
    let mut live = std::collections::HashSet::new();
    let mut note = |ptr: &DiskPtr| {
        if let DiskPtr::Blob(_, id) = ptr {
            live.insert(*id);
        }
    };
    for page in &snapshot.pt {
        match page {
            PageState::Present { base, frags } => {
                note(&base.1);
                frags.iter().for_each(|f| note(&f.1));
            }
            PageState::Free(_, ptr) => note(ptr),
            PageState::Uninitialized => {}
        }
    }
    let mut size = 0;
    let mut removed = 0_usize;
    for blob_file in std::fs::read_dir(config.get_path().join("blobs"))? {
        let Ok(blob_file) = blob_file else { continue };
        let name = blob_file.file_name();
        let id = name.to_str().and_then(|n| n.parse::<Lsn>().ok());
        if let Some(id) = id.filter(|id| !live.contains(id)) {
            // Not fatal: a blob left here is only space, swept next time.
            match std::fs::remove_file(blob_file.path()) {
                Ok(()) => {
                    removed += 1;
                    continue;
                }
                Err(e) => warn!("removing unused blob {}: {}", id, e),
            }
        }
        size += blob_file.metadata().map(|m| m.len()).unwrap_or(0);
    }
    if removed > 0 {
        warn!("removed {} blobs that no page uses", removed);
    }
    config.blob_bytes.store(size, SeqCst);
    Ok(())
}

/// etcd-rs: removes replaced blobs on a thread of its own (PATCHED.md, item
/// 7). The segment accountant removed them itself, holding its mutex, often
/// while a flush waited: when a segment became inactive, every blob its
/// writes replaced (hundreds after many large pages were rewritten, each
/// unlink 0.3-1.5 ms) was unlinked on the spot.
#[derive(Debug)]
pub(crate) struct BlobRemover {
    config: RunningConfig,
    queue: Option<std::sync::mpsc::Sender<Lsn>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl BlobRemover {
    /// Starts the thread; without one, blobs are removed by the caller, as
    /// before.
    pub(crate) fn start(config: RunningConfig) -> Self {
        let (queue, removals) = std::sync::mpsc::channel::<Lsn>();
        let remover_config = config.clone();
        let thread = std::thread::Builder::new()
            .name("sled-blob-rm".into())
            .spawn(move || {
                for blob_ptr in removals {
                    // Never fails: a failed unlink is logged and skipped.
                    let _ = remove_blob(blob_ptr, &remover_config);
                }
            });
        match thread {
            Ok(thread) => Self {
                config,
                queue: Some(queue),
                thread: Some(thread),
            },
            Err(e) => {
                warn!("could not start the blob removal thread: {:?}", e);
                Self { config, queue: None, thread: None }
            }
        }
    }

    /// Queues the removal of a blob nothing refers to any more.
    pub(crate) fn remove(&self, blob_ptr: Lsn) -> Result<()> {
        match &self.queue {
            Some(queue) if queue.send(blob_ptr).is_ok() => Ok(()),
            _ => remove_blob(blob_ptr, &self.config),
        }
    }

    /// Removes what is queued and stops the thread; blobs queued later are
    /// removed by the caller. `Log::drop` calls it, so that a database that
    /// closes has removed its replaced blobs (only the next start would),
    /// even when a pool thread still holds the accountant after the database
    /// is dropped.
    pub(crate) fn close(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                warn!("the blob removal thread panicked");
            }
        }
    }
}

impl Drop for BlobRemover {
    fn drop(&mut self) {
        self.close();
    }
}
