//! Go's `*os.PathError` and `*os.LinkError` texts (`open x.part: no such file or
//! directory`), which etcdctl prints for failed file operations.

use std::io;

/// `<op> <path>: <err>`, as `*os.PathError` prints.
pub fn path_error(op: &str, path: &str, err: &io::Error) -> String {
    format!("{op} {path}: {}", errno_text(err))
}

/// `<op> <old> <new>: <err>`, as `*os.LinkError` prints.
pub fn link_error(op: &str, old: &str, new: &str, err: &io::Error) -> String {
    format!("{op} {old} {new}: {}", errno_text(err))
}

/// Go's `syscall.Errno` text: the C library's message starting in lower case, without
/// Rust's ` (os error N)` suffix.
fn errno_text(err: &io::Error) -> String {
    let text = err.to_string();
    let text = match err.raw_os_error() {
        Some(code) => text.strip_suffix(&format!(" (os error {code})")).unwrap_or(&text).to_string(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worded_like_go() {
        let missing = io::Error::from_raw_os_error(2);
        assert_eq!(
            path_error("open", "/nonexistent/dir/x.db.part", &missing),
            "open /nonexistent/dir/x.db.part: no such file or directory"
        );
        let denied = io::Error::from_raw_os_error(13);
        assert_eq!(link_error("rename", "a.part", "a", &denied), "rename a.part a: permission denied");
    }
}
