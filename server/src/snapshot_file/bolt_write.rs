//! Writes a bbolt database file from buckets of sorted key/value pairs, as one compact
//! transaction would leave it: two meta pages, an empty freelist, then each bucket's
//! B+tree (leaf pages, branch pages above them when a bucket needs more than one leaf)
//! and the root bucket's tree, which names the buckets. Small buckets are stored inline
//! in their parent's value, as bbolt does; every page below the high-water mark is
//! reachable, so bbolt's `tx.Check()` finds nothing to report.

use super::bolt::{
    BRANCH_PAGE, BUCKET_HEADER, BUCKET_LEAF, ELEMENT, FREELIST_PAGE, LEAF_PAGE, MAGIC, META_PAGE, META_SUMMED,
    PAGE_HEADER, PAGE_SIZE, VERSION, fnv64a,
};

/// One bucket's entries, in ascending key order.
pub(super) type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// The freelist's page, right after the two meta pages.
const FREELIST_PGID: u64 = 2;

/// A node entry: flags, key, value.
type Element<'a> = (u32, &'a [u8], &'a [u8]);

/// Builds the database; `buckets` are named in ascending order, each with sorted keys.
pub(super) fn write(buckets: &[(Vec<u8>, Entries)]) -> Vec<u8> {
    let mut w = Writer { file: vec![0; 3 * PAGE_SIZE] };
    let mut headers = Vec::with_capacity(buckets.len());
    for (_, entries) in buckets {
        let elements: Vec<Element<'_>> = entries.iter().map(|(k, v)| (0, k.as_slice(), v.as_slice())).collect();
        headers.push(w.bucket_value(&elements));
    }
    let named: Vec<Element<'_>> = buckets
        .iter()
        .zip(&headers)
        .map(|((name, _), value)| (BUCKET_LEAF, name.as_slice(), value.as_slice()))
        .collect();
    let root = w.tree(&named);
    let high_water = (w.file.len() / PAGE_SIZE) as u64;
    put_header(&mut w.file[FREELIST_PGID as usize * PAGE_SIZE..], FREELIST_PGID, FREELIST_PAGE, 0, 0);
    for id in 0..2u64 {
        let page = &mut w.file[id as usize * PAGE_SIZE..(id as usize + 1) * PAGE_SIZE];
        put_header(page, id, META_PAGE, 0, 0);
        let meta = &mut page[PAGE_HEADER..];
        meta[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        meta[4..8].copy_from_slice(&VERSION.to_le_bytes());
        meta[8..12].copy_from_slice(&(PAGE_SIZE as u32).to_le_bytes());
        // flags (12..16) and the root bucket's sequence (24..32) stay 0.
        meta[16..24].copy_from_slice(&root.to_le_bytes());
        meta[32..40].copy_from_slice(&FREELIST_PGID.to_le_bytes());
        meta[40..48].copy_from_slice(&high_water.to_le_bytes());
        meta[48..56].copy_from_slice(&(id + 1).to_le_bytes());
        let sum = fnv64a(&meta[..META_SUMMED]);
        meta[META_SUMMED..META_SUMMED + 8].copy_from_slice(&sum.to_le_bytes());
    }
    w.file
}

/// Writes a page header: id, flags, element count, overflow pages.
fn put_header(page: &mut [u8], id: u64, flags: u16, count: u16, overflow: u32) {
    page[0..8].copy_from_slice(&id.to_le_bytes());
    page[8..10].copy_from_slice(&flags.to_le_bytes());
    page[10..12].copy_from_slice(&count.to_le_bytes());
    page[12..16].copy_from_slice(&overflow.to_le_bytes());
}

/// The bytes of one node: header, elements (positions relative to each element), then
/// the keys and values. `id` and `overflow` are filled in by the caller.
fn node(flags: u16, elements: &[Element<'_>], children: Option<&[u64]>) -> Vec<u8> {
    let mut out = vec![0u8; PAGE_HEADER + ELEMENT * elements.len()];
    // Counts are bounded by the page-size split (and by u16 for inline pages alike).
    put_header(&mut out, 0, flags, elements.len() as u16, 0);
    for (i, (eflags, key, value)) in elements.iter().enumerate() {
        let at = PAGE_HEADER + ELEMENT * i;
        let pos = (out.len() - at) as u32;
        let e = &mut out[at..at + ELEMENT];
        match children {
            Some(ids) => {
                e[0..4].copy_from_slice(&pos.to_le_bytes());
                e[4..8].copy_from_slice(&(key.len() as u32).to_le_bytes());
                e[8..16].copy_from_slice(&ids[i].to_le_bytes());
            }
            None => {
                e[0..4].copy_from_slice(&eflags.to_le_bytes());
                e[4..8].copy_from_slice(&pos.to_le_bytes());
                e[8..12].copy_from_slice(&(key.len() as u32).to_le_bytes());
                e[12..16].copy_from_slice(&(value.len() as u32).to_le_bytes());
            }
        }
        out.extend_from_slice(key);
        if children.is_none() {
            out.extend_from_slice(value);
        }
    }
    out
}

/// The size of a node holding `elements`, as bbolt computes it for splits.
fn node_size(elements: &[Element<'_>], branch: bool) -> usize {
    PAGE_HEADER + elements.iter().map(|(_, k, v)| ELEMENT + k.len() + if branch { 0 } else { v.len() }).sum::<usize>()
}

/// Splits `elements` into runs that fit a page each (a lone oversized element gets its
/// own run, written with overflow pages).
fn runs<'a, 'b>(elements: &'b [Element<'a>], branch: bool) -> Vec<&'b [Element<'a>]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = PAGE_HEADER;
    for (i, e) in elements.iter().enumerate() {
        let add = node_size(std::slice::from_ref(e), branch) - PAGE_HEADER;
        if i > start && size + add > PAGE_SIZE {
            out.push(&elements[start..i]);
            start = i;
            size = PAGE_HEADER;
        }
        size += add;
    }
    out.push(&elements[start..]);
    out
}

struct Writer {
    file: Vec<u8>,
}

impl Writer {
    /// Appends `node` as a page (plus overflow pages) and returns its id.
    fn page(&mut self, mut node: Vec<u8>) -> u64 {
        let id = (self.file.len() / PAGE_SIZE) as u64;
        let pages = node.len().div_ceil(PAGE_SIZE).max(1);
        node.resize(pages * PAGE_SIZE, 0);
        node[0..8].copy_from_slice(&id.to_le_bytes());
        node[12..16].copy_from_slice(&((pages - 1) as u32).to_le_bytes());
        self.file.extend_from_slice(&node);
        id
    }

    /// Writes the B+tree of `elements` and returns its root page.
    fn tree(&mut self, elements: &[Element<'_>]) -> u64 {
        let mut level: Vec<(Vec<u8>, u64)> = runs(elements, false)
            .into_iter()
            .map(|run| {
                let first = run.first().map(|(_, k, _)| k.to_vec()).unwrap_or_default();
                (first, self.page(node(LEAF_PAGE, run, None)))
            })
            .collect();
        while level.len() > 1 {
            let ids: Vec<u64> = level.iter().map(|(_, id)| *id).collect();
            let keys: Vec<Element<'_>> = level.iter().map(|(k, _)| (0, k.as_slice(), &[][..])).collect();
            let mut next = Vec::new();
            let mut at = 0;
            for run in runs(&keys, true) {
                let first = run.first().map(|(_, k, _)| k.to_vec()).unwrap_or_default();
                let id = self.page(node(BRANCH_PAGE, run, Some(&ids[at..at + run.len()])));
                at += run.len();
                next.push((first, id));
            }
            level = next;
        }
        level.first().map_or(0, |(_, id)| *id)
    }

    /// A bucket's value in its parent: its header, followed by the bucket's single leaf
    /// when it is small enough to be inline (bbolt's rule: a quarter page).
    fn bucket_value(&mut self, elements: &[Element<'_>]) -> Vec<u8> {
        let mut value = vec![0u8; BUCKET_HEADER];
        if node_size(elements, false) <= PAGE_SIZE / 4 {
            value.extend_from_slice(&node(LEAF_PAGE, elements, None));
        } else {
            let root = self.tree(elements);
            value[0..8].copy_from_slice(&root.to_le_bytes());
        }
        value
    }
}
