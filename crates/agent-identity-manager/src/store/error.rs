//! Why a store could not be read or written: [`StoreError`], and the safety verdict
//! [`Insecurity`] with what a person should do about it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "keyring")]
use super::KeyringProblem;
use super::safety;

/// Why the store could not be read or written.
///
/// [`StoreError::is_transient`] says whether trying again later may help.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file exists but is not a valid credentials document (torn, truncated, or not JSON).
    /// A corrupt file is never read as "logged out".
    #[error("credentials file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong, never the file's content.
        reason: &'static str,
    },
    /// The document holds an `agent_identity` in a form this crate does not use (the reverted
    /// April 2026 object, or another shape). Permanent, never "logged out", and the document is
    /// never changed by a read: the reason says what was found and what to do.
    #[error("credentials in {location} cannot be used: {reason}")]
    Unsupported {
        /// The file, or the keyring entry.
        location: String,
        /// What was found and what to do, never the document's content.
        reason: &'static str,
    },
    /// Reading, writing or locking failed.
    #[error("credentials file {path}: {operation} failed")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done.
        operation: &'static str,
        /// The cause.
        #[source]
        source: Arc<io::Error>,
    },
    /// The token file ([`TokenFileStore`](crate::TokenFileStore)) does not exist. Permanent: a path that was never
    /// there is a configuration error. A running manager that loaded an identity from the file
    /// before it vanished keeps serving that identity, and reports it through
    /// [`AuthManager::degraded`](crate::AuthManager::degraded) and its status.
    #[error("token file {path} does not exist")]
    TokenFileMissing {
        /// The token file.
        path: PathBuf,
    },
    /// Another process held the store's lock for longer than the write was willing to wait
    /// ([`FileStore::with_lock_timeout`](crate::FileStore::with_lock_timeout)). Transient: the other writer will finish.
    #[error(
        "credentials are locked by another process (gave up on {path} after {seconds:.1} s)",
        seconds = .waited.as_secs_f64()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// How long the write waited.
        waited: Duration,
    },
    /// A file or directory of the store failed a safety check: a symlink, not a regular file,
    /// owned by another user, or writable by group or others. Permanent: a person must fix it,
    /// and the message says how.
    #[error("refusing {path}: {problem}; {fix}", fix = .problem.fix(.path))]
    Insecure {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: Insecurity,
    },
    /// The credentials come from a read-only source (an environment variable, named here, or a
    /// token file) and cannot be changed through this store.
    #[error("credentials come from {0}, which is read-only")]
    ReadOnly(&'static str),
    /// The OS keyring did not answer within the store's time box (`KeyringStore::with_timeout`):
    /// a locked Secret Service waiting on an unlock prompt, or a D-Bus peer that hangs.
    /// Transient.
    #[cfg(feature = "keyring")]
    #[error(
        "the OS keyring (service \"{service}\", account \"{account}\") did not answer within \
         {seconds:.1} s; unlock it (a locked keyring may be waiting on a password prompt), or use \
         the file store",
        seconds = .waited.as_secs_f64()
    )]
    KeyringTimedOut {
        /// The keyring service.
        service: String,
        /// The keyring account.
        account: String,
        /// How long the call was given.
        waited: Duration,
    },
    /// The OS keyring failed a call (`KeyringStore`); [`StoreError::is_transient`] follows the
    /// problem: a locked or absent keyring service is transient.
    #[cfg(feature = "keyring")]
    #[error(
        "the OS keyring (service \"{service}\", account \"{account}\"): {operation} failed: {problem}"
    )]
    Keyring {
        /// The keyring service.
        service: String,
        /// The keyring account.
        account: String,
        /// What was being done.
        operation: &'static str,
        /// What went wrong.
        problem: KeyringProblem,
    },
    /// The keyring entry holds something that is not a credentials document. Like a corrupt
    /// file, never read as "logged out".
    #[cfg(feature = "keyring")]
    #[error(
        "the OS keyring entry (service \"{service}\", account \"{account}\") is corrupt: {reason}"
    )]
    KeyringCorrupt {
        /// The keyring service.
        service: String,
        /// The keyring account.
        account: String,
        /// What is wrong, never the value.
        reason: &'static str,
    },
    /// A store call run off the async runtime did not finish: the runtime shut down under it.
    /// Transient: nothing was decided about the credentials.
    #[error("the credential store call did not finish: its runtime shut down")]
    Interrupted,
}

impl StoreError {
    /// Whether retrying later may succeed without anyone changing anything: another process's
    /// lock, an I/O failure such as a full disk, or an OS keyring that is locked, absent or slow
    /// to answer. A corrupt or insecure file, a read-only
    /// source, and I/O errors about the path itself (not a directory, a directory, permission
    /// denied, a name too long, a symlink loop, a read-only file system) are permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Locked { .. } | Self::Interrupted => true,
            Self::Io { source, .. } => !safety::is_permanent(source),
            #[cfg(feature = "keyring")]
            Self::KeyringTimedOut { .. } => true,
            #[cfg(feature = "keyring")]
            Self::Keyring { problem, .. } => problem.is_transient(),
            #[cfg(feature = "keyring")]
            Self::KeyringCorrupt { .. } => false,
            Self::Corrupt { .. }
            | Self::Unsupported { .. }
            | Self::Insecure { .. }
            | Self::TokenFileMissing { .. }
            | Self::ReadOnly(_) => false,
        }
    }

    /// Whether the stored credentials exist but are not a credentials document (a file or a
    /// keyring entry): never read as "logged out".
    pub fn is_corrupt(&self) -> bool {
        match self {
            Self::Corrupt { .. } => true,
            #[cfg(feature = "keyring")]
            Self::KeyringCorrupt { .. } => true,
            _ => false,
        }
    }

    /// A stable snake_case name, for logs and machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Corrupt { .. } => "store_corrupt",
            Self::Io { .. } => "store_io",
            Self::TokenFileMissing { .. } => "token_file_missing",
            Self::Locked { .. } => "store_locked",
            Self::Insecure { .. } => "store_insecure",
            Self::ReadOnly(_) => "store_read_only",
            Self::Interrupted => "store_interrupted",
            Self::Unsupported { .. } => "store_unsupported_form",
            #[cfg(feature = "keyring")]
            Self::KeyringCorrupt { .. } => "store_corrupt",
            #[cfg(feature = "keyring")]
            Self::KeyringTimedOut { .. } | Self::Keyring { .. } => "keyring_unavailable",
        }
    }
}

/// What is wrong with a store file or directory that [`StoreError::Insecure`] refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Insecurity {
    /// A symbolic link where a file of ours belongs: writing through it would put credentials
    /// wherever it points, and replacing it would leave the token in its target.
    #[error("it is a symbolic link")]
    Symlink,
    /// Not a regular file (a directory where a file belongs, a FIFO, a device, a socket).
    #[error("it is not a regular file")]
    NotRegularFile,
    /// Owned by a user other than the current one (or root).
    #[error("it is owned by uid {owner}, not by the current user (uid {user})")]
    OwnedByAnotherUser {
        /// The owner's uid.
        owner: u32,
        /// The current (effective) uid.
        user: u32,
        /// Whether it is the home directory.
        directory: bool,
    },
    /// Group or others may write it, so they could plant credentials or replace the file.
    #[error("it is writable by group or others (mode {mode:04o})")]
    WritableByOthers {
        /// The permission bits.
        mode: u32,
        /// Whether it is the home directory.
        directory: bool,
    },
}

impl Insecurity {
    /// A stable snake_case name, for logs and machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Symlink => "symlink",
            Self::NotRegularFile => "not_regular_file",
            Self::OwnedByAnotherUser { .. } => "owned_by_another_user",
            Self::WritableByOthers { .. } => "writable_by_others",
        }
    }

    /// What a person should do about it, naming `path`.
    fn fix(&self, path: &Path) -> String {
        let path = path.display();
        match self {
            Self::Symlink => format!("remove the link ({path}) or put the file itself there"),
            Self::NotRegularFile => format!("remove {path}"),
            Self::OwnedByAnotherUser {
                directory: true, ..
            } => "use a home directory the current user owns (--home or AGENT_IDENTITY_HOME)"
                .to_owned(),
            Self::OwnedByAnotherUser {
                directory: false, ..
            } => format!("remove {path}, or chown it to the current user"),
            Self::WritableByOthers {
                directory: true, ..
            } => format!("run chmod 700 {path}"),
            Self::WritableByOthers {
                directory: false, ..
            } => format!("run chmod 600 {path}"),
        }
    }
}

#[cfg(test)]
mod tests;
