//! The CPU time a thread or process has run, from its `schedstat` file under `/proc` (the first
//! field is nanoseconds on the CPU), as both proxy benches read it.

use std::io;
use std::path::{Path, PathBuf};

/// The `schedstat` file of the calling thread.
pub(crate) fn of_this_thread() -> io::Result<PathBuf> {
    let thread = std::fs::read_link("/proc/thread-self")?;
    Ok(Path::new("/proc").join(thread).join("schedstat"))
}

/// The nanoseconds run, as `path` says now.
pub(crate) fn nanos(path: &Path) -> io::Result<u64> {
    std::fs::read_to_string(path)?
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .ok_or_else(|| io::Error::other("unexpected schedstat"))
}
