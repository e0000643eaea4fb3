//! Reads every bucket of a bbolt database file, checking it as bbolt's `tx.Check()` does
//! (which `etcdctl snapshot status` runs): pages in bounds and of the right type, each
//! referenced once, and every page below the high-water mark reachable or free.

use std::collections::HashSet;

use super::bolt::{
    BRANCH_PAGE, BUCKET_HEADER, BUCKET_LEAF, ELEMENT, FREELIST_PAGE, LEAF_PAGE, MAGIC, META_SUMMED, NO_FREELIST,
    PAGE_HEADER, PAGE_SIZE, VERSION, fnv64a,
};
use super::bolt_write::Entries;

/// Why a file is not a readable bbolt database.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(super) enum BoltError {
    /// Neither meta page has bbolt's magic number.
    #[error("not a bbolt database")]
    NotBolt,
    /// A bbolt database that fails its checks.
    #[error("{0}")]
    Corrupt(String),
}

/// A database's content.
#[derive(Debug)]
pub(super) struct Database {
    /// The root's buckets in bbolt (byte) order, each with its entries in order; the
    /// entry of a nested bucket has an empty value, as bbolt's `ForEach` shows it.
    pub(super) buckets: Vec<(Vec<u8>, Entries)>,
    /// bbolt's `tx.Size()`: the high-water mark in bytes.
    pub(super) size: u64,
}

/// The fields of a meta page that reading needs.
#[derive(Debug, Clone, Copy)]
struct Meta {
    page_size: usize,
    root: u64,
    freelist: u64,
    high_water: u64,
    txid: u64,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

fn corrupt(reason: impl Into<String>) -> BoltError {
    BoltError::Corrupt(reason.into())
}

/// The meta page at `offset`: `NotBolt` without the magic, `Corrupt` when it fails
/// bbolt's `validate` (version, checksum).
fn meta(file: &[u8], offset: usize) -> Result<Meta, BoltError> {
    let m = file.get(offset + PAGE_HEADER..).ok_or(BoltError::NotBolt)?;
    if u32_at(m, 0) != Some(MAGIC) {
        return Err(BoltError::NotBolt);
    }
    let field = |at| u64_at(m, at).ok_or_else(|| corrupt("meta page is truncated"));
    if u32_at(m, 4) != Some(VERSION) {
        return Err(corrupt("version mismatch"));
    }
    let sum = field(META_SUMMED)?;
    if sum != 0 && m.get(..META_SUMMED).map(fnv64a) != Some(sum) {
        return Err(corrupt("checksum error"));
    }
    let page_size = u32_at(m, 8).map_or(0, |s| s as usize);
    if page_size < 1024 || !page_size.is_power_of_two() {
        return Err(corrupt(format!("invalid page size {page_size}")));
    }
    Ok(Meta { page_size, root: field(16)?, freelist: field(32)?, high_water: field(40)?, txid: field(48)? })
}

/// Whether either meta page of `file` carries bbolt's magic number.
pub(super) fn is_bolt(file: &[u8]) -> bool {
    [0, PAGE_SIZE].iter().any(|&at| u32_at(file, at + PAGE_HEADER) == Some(MAGIC))
}

/// Reads and checks the database in `file` (without any trailer).
pub(super) fn read(file: &[u8]) -> Result<Database, BoltError> {
    let first = meta(file, 0);
    // As bbolt: the page size comes from the first meta when it is valid.
    let page_size = first.as_ref().map_or(PAGE_SIZE, |m| m.page_size);
    let meta = match (first, meta(file, page_size)) {
        (Ok(a), Ok(b)) => {
            if b.txid > a.txid {
                b
            } else {
                a
            }
        }
        (Ok(m), Err(_)) | (Err(_), Ok(m)) => m,
        (Err(a), Err(b)) => return Err(if a == BoltError::NotBolt { b } else { a }),
    };
    let mut r = Reader { file, page_size: meta.page_size, high_water: meta.high_water, reachable: HashSet::new() };
    r.reachable.extend([0, 1]);
    let freed = match meta.freelist {
        NO_FREELIST => None,
        id => Some(r.freelist(id)?),
    };
    let mut buckets = Vec::new();
    for (flags, name, value) in r.tree(meta.root)? {
        if flags & u64::from(BUCKET_LEAF) == 0 {
            return Err(corrupt(format!("cannot get hash of bucket {}", String::from_utf8_lossy(&name))));
        }
        buckets.push((name, r.bucket(&value)?));
    }
    if let Some(freed) = freed
        && let Some(id) = (0..meta.high_water).find(|id| !r.reachable.contains(id) && !freed.contains(id))
    {
        return Err(corrupt(format!("page {id}: unreachable unfreed")));
    }
    Ok(Database { buckets, size: meta.high_water.saturating_mul(meta.page_size as u64) })
}

/// A leaf or branch element: flags (leaf) or child page (branch), key, value (leaf).
type Element = (u64, Vec<u8>, Vec<u8>);

struct Reader<'a> {
    file: &'a [u8],
    page_size: usize,
    high_water: u64,
    reachable: HashSet<u64>,
}

impl<'a> Reader<'a> {
    /// Page `id` with its overflow pages, marked reachable.
    fn page(&mut self, id: u64) -> Result<&'a [u8], BoltError> {
        if id >= self.high_water {
            return Err(corrupt(format!("page {id}: out of bounds: {}", self.high_water)));
        }
        let start = usize::try_from(id).ok().and_then(|i| i.checked_mul(self.page_size));
        let header = start.and_then(|s| self.file.get(s..s + PAGE_HEADER));
        let (Some(start), Some(header)) = (start, header) else {
            return Err(corrupt(format!("page {id}: beyond the end of the file")));
        };
        if u64_at(header, 0) != Some(id) {
            return Err(corrupt(format!("page {id}: identifies as another page")));
        }
        let overflow = u32_at(header, 12).map_or(0, u64::from);
        let span = (overflow as usize + 1).saturating_mul(self.page_size);
        let page = self
            .file
            .get(start..start.saturating_add(span))
            .ok_or_else(|| corrupt(format!("page {id}: overflow runs past the end of the file")))?;
        for i in id..=id + overflow {
            if !self.reachable.insert(i) {
                return Err(corrupt(format!("page {i}: multiple references")));
            }
        }
        Ok(page)
    }

    /// The free page ids the freelist page lists.
    fn freelist(&mut self, id: u64) -> Result<HashSet<u64>, BoltError> {
        let page = self.page(id)?;
        if u16_at(page, 8) != Some(FREELIST_PAGE) {
            return Err(corrupt(format!("page {id}: invalid type: not a freelist")));
        }
        let (count, at) = match u16_at(page, 10) {
            Some(0xFFFF) => (u64_at(page, PAGE_HEADER).unwrap_or(0) as usize, PAGE_HEADER + 8),
            n => (usize::from(n.unwrap_or(0)), PAGE_HEADER),
        };
        let ids = page.get(at..at + count.saturating_mul(8)).ok_or_else(|| corrupt("freelist runs past its page"))?;
        let mut freed = HashSet::new();
        for free in ids.chunks_exact(8).filter_map(|c| u64_at(c, 0)) {
            if !freed.insert(free) {
                return Err(corrupt(format!("page {free}: already freed")));
            }
        }
        Ok(freed)
    }

    /// Every leaf element of the tree rooted at page `id`, in order.
    fn tree(&mut self, id: u64) -> Result<Vec<Element>, BoltError> {
        let page = self.page(id)?;
        match u16_at(page, 8) {
            Some(LEAF_PAGE) => elements(page, false),
            Some(BRANCH_PAGE) => {
                let mut out = Vec::new();
                for (child, _, _) in elements(page, true)? {
                    out.extend(self.tree(child)?);
                }
                Ok(out)
            }
            _ => Err(corrupt(format!("page {id}: invalid type"))),
        }
    }

    /// The entries of the bucket whose header (and inline page) is `value`.
    fn bucket(&mut self, value: &[u8]) -> Result<Entries, BoltError> {
        let root = u64_at(value, 0).ok_or_else(|| corrupt("bucket header is truncated"))?;
        let found = if root == 0 {
            let inline = &value[BUCKET_HEADER.min(value.len())..];
            if u16_at(inline, 8) != Some(LEAF_PAGE) {
                return Err(corrupt("inline bucket is not a leaf"));
            }
            elements(inline, false)?
        } else {
            self.tree(root)?
        };
        let mut entries = Vec::with_capacity(found.len());
        for (flags, key, value) in found {
            if flags & u64::from(BUCKET_LEAF) != 0 {
                // Walked for the page checks; shown as a key without a value.
                self.bucket(&value)?;
                entries.push((key, Vec::new()));
            } else {
                entries.push((key, value));
            }
        }
        Ok(entries)
    }
}

/// The elements of a leaf (flags, key, value) or branch (child, key) page.
fn elements(page: &[u8], branch: bool) -> Result<Vec<Element>, BoltError> {
    let count = usize::from(u16_at(page, 10).unwrap_or(0));
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let at = PAGE_HEADER + ELEMENT * i;
        let e = page.get(at..at + ELEMENT).ok_or_else(|| corrupt("page elements run past the page"))?;
        let word = |n: usize| u32_at(e, 4 * n).map_or(0, |w| w as usize);
        let (first, pos, ksize, vsize) = if branch {
            (u64_at(e, 8).unwrap_or(0), word(0), word(1), 0)
        } else {
            (word(0) as u64, word(1), word(2), word(3))
        };
        let start = at + pos;
        let key = page.get(start..start + ksize).ok_or_else(|| corrupt("a key runs past its page"))?;
        let value =
            page.get(start + ksize..start + ksize + vsize).ok_or_else(|| corrupt("a value runs past its page"))?;
        out.push((first, key.to_vec(), value.to_vec()));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::bolt_write::write;
    use super::*;

    /// Buckets that exercise every shape: empty and small (inline), one paged leaf, a
    /// three-level tree, and a value spanning overflow pages.
    fn buckets() -> Vec<(Vec<u8>, Entries)> {
        let many: Entries = (0..20_000u32)
            .map(|i| (format!("key-{i:08}-padding").into_bytes(), format!("value {i:>12}").into_bytes()))
            .collect();
        let paged: Entries = (0..40u8).map(|i| (vec![i], vec![i; 40])).collect();
        let large =
            vec![(b"a".to_vec(), vec![1]), (b"big".to_vec(), vec![7; 3 * PAGE_SIZE + 5]), (b"z".to_vec(), vec![])];
        vec![
            (b"empty".to_vec(), Vec::new()),
            (b"large".to_vec(), large),
            (b"many".to_vec(), many),
            (b"paged".to_vec(), paged),
            (b"small".to_vec(), vec![(b"k".to_vec(), b"v".to_vec())]),
        ]
    }

    #[test]
    fn every_bucket_shape_round_trips() -> Result<(), BoltError> {
        let buckets = buckets();
        let file = write(&buckets);
        assert_eq!(file.len() % PAGE_SIZE, 0);
        let db = read(&file)?;
        assert_eq!(db.size, file.len() as u64);
        assert_eq!(db.buckets, buckets);
        Ok(())
    }

    #[test]
    fn checks_find_damage() {
        let file = write(&buckets());
        assert_eq!(read(&[0u8; 2 * PAGE_SIZE]).err(), Some(BoltError::NotBolt));
        assert!(is_bolt(&file) && !is_bolt(b"etcd-rs snapshot v1\n"));
        // A page nothing references and the freelist does not list.
        let mut grown = file.clone();
        grown.resize(file.len() + PAGE_SIZE, 0);
        for meta in [0, PAGE_SIZE] {
            let m = &mut grown[meta + PAGE_HEADER..meta + PAGE_HEADER + META_SUMMED + 8];
            let high = u64_at(m, 40).unwrap_or(0) + 1;
            m[40..48].copy_from_slice(&high.to_le_bytes());
            let sum = fnv64a(&m[..META_SUMMED]);
            m[META_SUMMED..].copy_from_slice(&sum.to_le_bytes());
        }
        let last = file.len() / PAGE_SIZE;
        grown[last * PAGE_SIZE..last * PAGE_SIZE + 8].copy_from_slice(&(last as u64).to_le_bytes());
        assert_eq!(read(&grown).err(), Some(BoltError::Corrupt(format!("page {last}: unreachable unfreed"))));
        // A page that names another id.
        let mut misnamed = file.clone();
        misnamed[3 * PAGE_SIZE] ^= 0x40;
        assert!(matches!(read(&misnamed), Err(BoltError::Corrupt(_))));
        // A broken meta checksum falls back to the other meta page.
        let mut one_meta = file;
        one_meta[PAGE_HEADER + 20] ^= 1;
        assert!(read(&one_meta).is_ok());
    }
}
