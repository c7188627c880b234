//! The file store's defences: opening without following symlinks, the StrictModes-like ownership
//! and mode checks, and which I/O errors are permanent.
//!
//! Architecture invariant: the file store trusts nothing it did not make. What that means, and
//! where it is done:
//! - **No symlinks, no FIFOs.** Every file of a home (`auth.json`, its lock file, the runtime
//!   cache, temporary files) is opened with `O_NOFOLLOW`, and a read also with `O_NONBLOCK`,
//!   then `fstat`: a regular file only ([`Insecurity::Symlink`], [`Insecurity::NotRegularFile`]).
//!   Temporary files are created `0600` with `O_EXCL`, so nothing already there is written
//!   through. The token file store alone follows symlinks (a Kubernetes volume swaps a `..data`
//!   link), still without blocking on a FIFO.
//! - **Ownership and mode, as OpenSSH's StrictModes judges `~/.ssh`.** A home or `auth.json`
//!   owned by another user (root excepted) or writable by group or others is
//!   `StoreError::Insecure`; an `auth.json` readable by others is read with a warning, and the
//!   next login rewrites it `0600`. The crate's `trust_problem` makes this rule public, for
//!   other secrets held in files (the proxy's client token file).
//! - **Atomic writes** (`private_file.rs`): a `0600` temporary file, fsync, rename into place,
//!   fsync of the directory, under a cross-process lock waited for a bounded time.
//! - **Dead writers' leftovers.** Their temporary files hold the token, so the next write removes
//!   them, and so does a read that finds the lock file marked (a writer makes it one byte long
//!   while it holds the lock and empties it when done: only a write cut short leaves the mark).
//!   An unmarked lock file costs a read one `lstat`, not a listing of the home; a marked one
//!   gets the shared lock without waiting, or is left for the next write.
//! - **Which failures pass** ([`is_permanent`], the store's half of the transient
//!   classification, `StoreError::is_transient`): errors about the path itself (not a
//!   directory, a directory, permission denied, a name too long, a symlink loop, a read-only file
//!   system) are permanent; other I/O errors (a full disk, too many open files) may pass, and so
//!   may a lock held too long.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::path::Path;

use super::Insecurity;

/// The effective uid, against which owners are compared; `None` where there is no such thing.
#[cfg(unix)]
pub(super) fn euid() -> Option<u32> {
    Some(rustix::process::geteuid().as_raw())
}

#[cfg(not(unix))]
pub(super) fn euid() -> Option<u32> {
    None
}

/// Why a file or directory owned by `owner` with permission bits `mode` cannot be trusted by a
/// process running as `euid`, as OpenSSH's StrictModes judges `~/.ssh`: it must belong to us or
/// to root (a secret mounted by the system is root's), and nobody else may write it (they could
/// plant credentials, or swap the file for their own).
pub(super) fn trust_problem(
    owner: u32,
    mode: u32,
    euid: u32,
    directory: bool,
) -> Option<Insecurity> {
    if owner != euid && owner != 0 {
        return Some(Insecurity::OwnedByAnotherUser {
            owner,
            user: euid,
            directory,
        });
    }
    if mode & 0o022 != 0 {
        return Some(Insecurity::WritableByOthers {
            mode: mode & 0o7777,
            directory,
        });
    }
    None
}

/// [`trust_problem`] for what `metadata` describes.
#[cfg(unix)]
pub(super) fn trust_problem_of(metadata: &Metadata) -> Option<Insecurity> {
    use std::os::unix::fs::MetadataExt as _;
    let euid = euid()?;
    trust_problem(metadata.uid(), metadata.mode(), euid, metadata.is_dir())
}

#[cfg(not(unix))]
pub(super) fn trust_problem_of(_metadata: &Metadata) -> Option<Insecurity> {
    None
}

/// Whether group or others may read what `metadata` describes: a leak already, though not one
/// that refusing to read would undo.
#[cfg(unix)]
pub(super) fn readable_by_others(metadata: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    metadata.mode() & 0o044 != 0
}

#[cfg(not(unix))]
pub(super) fn readable_by_others(_metadata: &Metadata) -> bool {
    false
}

/// Whether `metadata` (of an open file, or from `lstat`) belongs to us, for deleting leftovers.
#[cfg(unix)]
pub(super) fn owned_by_us(metadata: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    euid() == Some(metadata.uid())
}

#[cfg(not(unix))]
pub(super) fn owned_by_us(_metadata: &Metadata) -> bool {
    true
}

/// Opens `path` for reading without following a symlink in its last component, and without
/// blocking on a FIFO (whose open would otherwise wait for a writer): the caller checks with
/// `fstat` that it is a regular file before reading.
pub(super) fn open_for_reading(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow(&mut options, true);
    options.open(path)
}

/// Opens `path` for reading, following symlinks (an orchestrator's mounted secret is one: a
/// Kubernetes volume swaps a `..data` link), without blocking on a FIFO: the caller checks with
/// `fstat` that it is a regular file before reading.
pub(super) fn open_following(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        // A small positive constant; the cast cannot wrap.
        options.custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32);
    }
    options.open(path)
}

/// Opens (creating it, mode 0600, if `create`) the lock file, never through a symlink.
pub(super) fn open_lock_file(path: &Path, create: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    if create {
        options.read(true).write(true).create(true).truncate(false);
        private_mode(&mut options);
    } else {
        options.read(true);
    }
    no_follow(&mut options, true);
    options.open(path)
}

/// Creates a new private (0600) file; fails if anything, a symlink included, is already there.
pub(super) fn create_private(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    private_mode(&mut options);
    no_follow(&mut options, false);
    options.open(path)
}

#[cfg(unix)]
fn no_follow(options: &mut OpenOptions, non_blocking: bool) {
    use rustix::fs::OFlags;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut flags = OFlags::NOFOLLOW;
    if non_blocking {
        flags |= OFlags::NONBLOCK;
    }
    // The flag values are small positive constants; the cast cannot wrap.
    options.custom_flags(flags.bits() as i32);
}

#[cfg(not(unix))]
fn no_follow(_options: &mut OpenOptions, _non_blocking: bool) {}

#[cfg(unix)]
fn private_mode(options: &mut OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt as _;
    options.mode(0o600);
}

#[cfg(not(unix))]
fn private_mode(_options: &mut OpenOptions) {}

/// Whether `path` itself is a symlink: how an open that refused to follow one is told apart
/// from other failures (Linux says `ELOOP`, the BSDs `EMLINK`).
pub(super) fn is_symlink(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|metadata| metadata.file_type().is_symlink())
}

/// Whether an I/O error says something about the path itself that retrying will not change:
/// not a directory, a directory, permission denied, a name too long, a symlink loop, a read-only
/// file system. Everything else (a full disk, an I/O error, too many open files) may pass.
pub(super) fn is_permanent(error: &io::Error) -> bool {
    use io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::PermissionDenied
            | ErrorKind::InvalidFilename
            | ErrorKind::ReadOnlyFilesystem
    ) {
        return true;
    }
    is_symlink_loop(error)
}

#[cfg(unix)]
fn is_symlink_loop(error: &io::Error) -> bool {
    // `ErrorKind::FilesystemLoop` is not stable yet; compare the errno.
    error.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
}

#[cfg(not(unix))]
fn is_symlink_loop(_error: &io::Error) -> bool {
    false
}

/// The error `read` gives for a directory, for an open that succeeded on one (Linux opens
/// directories for reading).
#[cfg(unix)]
pub(super) fn is_a_directory() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::ISDIR.raw_os_error())
}

#[cfg(not(unix))]
pub(super) fn is_a_directory() -> io::Error {
    io::Error::from(io::ErrorKind::IsADirectory)
}

/// The error `open` gives when a path component that must be a directory is not one.
#[cfg(unix)]
pub(super) fn not_a_directory() -> io::Error {
    io::Error::from_raw_os_error(rustix::io::Errno::NOTDIR.raw_os_error())
}

#[cfg(not(unix))]
pub(super) fn not_a_directory() -> io::Error {
    io::Error::from(io::ErrorKind::NotADirectory)
}

#[cfg(all(test, unix))]
mod tests;
