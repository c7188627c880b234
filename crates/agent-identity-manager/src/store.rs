//! Where credentials live: the [`CredentialStore`] seam, and its stores: the durable `auth.json`
//! file store (`file`), the OS keyring (`keyring`), a rotated token file (`token_file`), memory
//! (`memory`) and the read-only environment source (`env`). Codex's document, which the file and
//! keyring stores share, has its rules in `document`; the errors are in `error`.

mod document;
mod env;
mod error;
mod file;
#[cfg(feature = "keyring")]
mod keyring;
mod memory;
mod private_file;
mod runtime_cache;
mod safety;
mod token_file;

#[cfg(feature = "keyring")]
pub use self::keyring::{
    DEFAULT_KEYRING_TIMEOUT, KEYRING_SERVICE, KeyringProblem, KeyringStore, keyring_account,
};
pub(crate) use runtime_cache::{CacheSnapshot, RegistrationLock, TaskBinding};
pub use runtime_cache::{RUNTIME_CACHE_FILE_NAME, RuntimeCache};
pub use token_file::TokenFileStore;

pub use env::EnvOverride;
pub use error::{Insecurity, StoreError};
pub(crate) use file::default_home_with;
pub use file::{DEFAULT_LOCK_TIMEOUT, FileStore, prepare_home};
pub use memory::MemoryStore;

use std::fmt;
use std::path::PathBuf;

use agent_identity_jwt::{AgentRuntimeId, IdentityJwt};
use agent_identity_task::TaskId;

use crate::credential::{AgentRecord, Credential};

/// The credentials file's name inside the home directory.
pub const AUTH_FILE_NAME: &str = "auth.json";

/// What [`CredentialStore::clear`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClearOutcome {
    /// The agent identity was removed: the file deleted, or rewritten with its other fields.
    Removed,
    /// A corrupt credentials file was deleted.
    RemovedCorrupt,
    /// The file holds another login (Codex's `chatgpt` or `apikey` mode, named here) and no
    /// agent identity; it was left untouched.
    KeptOtherLogin(String),
    /// No agent identity was stored.
    NothingStored,
}

impl ClearOutcome {
    /// Whether credentials were removed.
    pub fn removed(&self) -> bool {
        matches!(self, Self::Removed | Self::RemovedCorrupt)
    }

    /// A stable snake_case name, for machine-readable output.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Removed => "removed",
            Self::RemovedCorrupt => "removed_corrupt",
            Self::KeptOtherLogin(_) => "kept_other_login",
            Self::NothingStored => "nothing_stored",
        }
    }

    /// `Removed`, or `NothingStored` when there was no identity to remove.
    fn of(removed: bool) -> Self {
        if removed {
            Self::Removed
        } else {
            Self::NothingStored
        }
    }
}

/// Where the agent identity JWT is kept. Implementations must be safe to call from several
/// threads and, for durable stores, several processes.
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The stored token, `None` when nothing is stored. A stored record (Codex's other form) is
    /// not a token: it is [`StoreError::Unsupported`] here, and read by
    /// [`load_credential`](CredentialStore::load_credential).
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a document that does not parse; [`StoreError::Io`] when it
    /// cannot be read; [`StoreError::Insecure`] when it, or its directory, is refused.
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError>;

    /// The stored credential in either form, the JWT or Codex's record, `None` when nothing is
    /// stored: this is how a store says which form it holds. Defaults to
    /// [`load`](CredentialStore::load) as a JWT: stores that can hold a record (the file and
    /// keyring stores, which keep Codex's document) override it.
    ///
    /// # Errors
    /// As [`load`](CredentialStore::load), and [`StoreError::Unsupported`] for an
    /// `agent_identity` in a form that is not used (named in the error).
    fn load_credential(&self) -> Result<Option<Credential>, StoreError> {
        Ok(self.load()?.map(Credential::Jwt))
    }

    /// Writes `task_id` into the stored record of `runtime_id` (its `task_id`), keeping every
    /// other field, so that Codex and this crate reuse one task. Returns whether a record of that
    /// agent was there to update. Defaults to [`StoreError::ReadOnly`].
    ///
    /// # Errors
    /// As [`save`](CredentialStore::save).
    fn save_record_task(
        &self,
        runtime_id: &AgentRuntimeId,
        task_id: &TaskId,
    ) -> Result<bool, StoreError> {
        let _ = (runtime_id, task_id);
        Err(StoreError::ReadOnly("a store that holds no record"))
    }

    /// Stores `record` in the form its [`kind`](AgentRecord::kind) names (managed: beside the
    /// ChatGPT login in the same document; standalone: alone), replacing any stored identity and
    /// keeping every other field. Defaults to [`StoreError::ReadOnly`].
    ///
    /// # Errors
    /// As [`save`](CredentialStore::save).
    fn save_record(&self, record: &AgentRecord) -> Result<(), StoreError> {
        let _ = record;
        Err(StoreError::ReadOnly("a store that holds no record"))
    }

    /// Stores `token`, replacing any stored one.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] for read-only sources; [`StoreError::Io`] when writing fails,
    /// [`StoreError::Locked`] when another process holds the store too long, and
    /// [`StoreError::Insecure`] when a file of the store is refused; the previous credentials are
    /// then intact.
    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError>;

    /// Removes the stored agent identity (logging out), and says what it did. Clearing a store
    /// that holds none succeeds. A store shared with other credentials removes only its own:
    /// see [`FileStore`] for what happens to the rest of `auth.json`.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] for read-only sources; [`StoreError::Io`],
    /// [`StoreError::Locked`] or [`StoreError::Insecure`] when reading, rewriting or deleting
    /// fails or is refused, in which case the previous credentials are intact.
    fn clear(&self) -> Result<ClearOutcome, StoreError>;

    /// Checks, without writing credentials, that a [`save`](CredentialStore::save) could
    /// succeed, so that a login finds an unusable store before it registers a task. Defaults to
    /// `Ok`.
    ///
    /// # Errors
    /// What a save would fail with: [`StoreError::ReadOnly`], [`StoreError::Insecure`], or
    /// [`StoreError::Io`] (a home that cannot be created, `auth.json` a directory).
    fn check_writable(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// A short description for status output: a path, "memory" or "environment".
    fn describe(&self) -> String;

    /// Whether calls may block the thread (file I/O, waiting on another process's lock), so that
    /// async callers should run them on a blocking thread. Defaults to `true`.
    fn may_block(&self) -> bool {
        true
    }

    /// Whether [`load`](CredentialStore::load) may block the thread. Defaults to
    /// [`may_block`](CredentialStore::may_block). A store whose reads never wait (no lock, no
    /// service, a few KiB from a local file) may say `false`: the manager then reads it in place,
    /// since a hop to a blocking thread costs more than such a read.
    fn load_may_block(&self) -> bool {
        self.may_block()
    }

    /// Files whose change means the credentials may have changed, for
    /// [`AuthManager::watch_credentials`](crate::AuthManager::watch_credentials). Defaults to
    /// none.
    fn watched_paths(&self) -> Vec<PathBuf> {
        Vec::new()
    }

    /// The runtime cache that goes with these credentials (the registered task and the last key
    /// set, for restarts without a round trip), if the store has a home for one. Defaults to
    /// `None`: a store without one registers a task per process.
    fn runtime_cache(&self) -> Option<RuntimeCache> {
        None
    }
}

#[cfg(test)]
mod tests;

/// Why a secret in the file or directory `metadata` describes (from `fstat` on the opened file)
/// cannot be trusted, by the rule the store holds its own files to: it must belong to us or to
/// root, and nobody else may write it. `None` when it can be trusted. Callers that read secrets
/// of their own (the proxy's client token file) apply the same rule.
#[must_use]
pub fn trust_problem(metadata: &std::fs::Metadata) -> Option<Insecurity> {
    safety::trust_problem_of(metadata)
}
