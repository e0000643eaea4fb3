//! bbolt's on-disk constants (etcd-io/bbolt `page.go`, `db.go`, `bucket.go`), shared by
//! the writer and the reader. Integers are little-endian, as on the amd64 hosts etcd
//! snapshots come from.

/// The page size etcd's snapshots use (the OS page size on Linux).
pub(super) const PAGE_SIZE: usize = 4096;
/// id u64, flags u16, count u16, overflow u32.
pub(super) const PAGE_HEADER: usize = 16;
/// Both leaf (flags, pos, ksize, vsize) and branch (pos, ksize, pgid) elements.
pub(super) const ELEMENT: usize = 16;
/// A bucket value's header: root pgid u64 (0 = inline), sequence u64.
pub(super) const BUCKET_HEADER: usize = 16;
/// A branch page.
pub(super) const BRANCH_PAGE: u16 = 0x01;
/// A leaf page.
pub(super) const LEAF_PAGE: u16 = 0x02;
/// A meta page.
pub(super) const META_PAGE: u16 = 0x04;
/// The freelist page.
pub(super) const FREELIST_PAGE: u16 = 0x10;
/// A leaf element whose value is a nested bucket.
pub(super) const BUCKET_LEAF: u32 = 0x01;
/// Every meta page starts with it.
pub(super) const MAGIC: u32 = 0xED0C_DAED;
/// The data file format version.
pub(super) const VERSION: u32 = 2;
/// The meta's freelist pgid when the freelist is not stored (`NoFreelistSync`).
pub(super) const NO_FREELIST: u64 = u64::MAX;
/// Bytes of the meta covered by its checksum (everything before the checksum field).
pub(super) const META_SUMMED: usize = 56;

/// FNV-1a, 64 bits: the meta page checksum.
pub(super) fn fnv64a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}
