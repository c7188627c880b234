//! [`FileStore`]: Codex's `auth.json` in a home directory, written atomically with mode 0600
//! under a cross-process lock; and the home itself (where it is by default, and how it is
//! created and checked).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::{AgentRuntimeId, IdentityJwt};
use agent_identity_task::TaskId;

use super::document::{AuthDocument, Cleared, Problem};
use super::private_file::PrivateJsonFile;
use super::{AUTH_FILE_NAME, ClearOutcome, CredentialStore, RuntimeCache, StoreError, safety};
use crate::credential::{AgentRecord, Credential};
use crate::env::{HOME_ENV_VAR, SYSTEM_HOME_ENV_VAR, WINDOWS_HOME_ENV_VAR};

/// `auth.json` in a home directory, in Codex's format (wire-format §6).
///
/// Writes are atomic (a `0600` temporary file in the same directory, fsync, rename, fsync of the
/// directory), so a crash leaves the old or the new file, never a torn one. Mode `0600` is set on
/// every write. Read-modify-write runs under an advisory lock on `auth.json.lock`, so processes
/// sharing a home do not lose each other's writes, and unknown fields are preserved. A write
/// waits for that lock at most [`DEFAULT_LOCK_TIMEOUT`] (see
/// [`with_lock_timeout`](FileStore::with_lock_timeout)) and then fails with
/// [`StoreError::Locked`]. Reads take no lock at all: the rename is atomic, so a reader sees the
/// old document or the new one, and never waits for a writer.
///
/// Like OpenSSH's StrictModes, the store refuses ([`StoreError::Insecure`]) a home directory
/// owned by another user (root excepted) or writable by group or others, and a read refuses an
/// `auth.json` that is. No file of the store is opened through a symlink, and `auth.json` must be
/// a regular file (a FIFO does not hang a read). The home itself may be a symlink. A write
/// repairs an `auth.json` that others may read or write: it is replaced by a private one.
///
/// A writer killed between creating its temporary file and renaming it leaves that file (which
/// holds the token) behind; the next write removes it, and so does the next read when no writer
/// is at work. Only regular files of the current user with the store's temporary name are
/// removed.
///
/// The file is shared with Codex, so [`clear`](CredentialStore::clear) removes only what is
/// ours:
/// - a file in another login mode (`auth_mode` `chatgpt` or `apikey`) holds no agent identity
///   and is left untouched, byte for byte;
/// - otherwise `agent_identity` and `auth_mode` are removed and every other field is kept (the
///   file is rewritten atomically, as by a save); a file left empty, or holding only
///   `"OPENAI_API_KEY": null`, is deleted instead;
/// - a corrupt file is deleted: the user asked to log out, and a file that cannot be read holds
///   nothing that could be kept;
/// - a symlinked `auth.json` is refused, never replaced: its target would keep the token.
#[derive(Debug, Clone)]
pub struct FileStore {
    file: PrivateJsonFile,
}

/// 10 s: how long a write waits for another process's lock on `auth.json`. A write holds it for
/// milliseconds, so a longer wait means a stuck or hostile process, which a person should hear
/// about rather than wait on.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(10);

impl FileStore {
    /// A store for `auth.json` in `home`. The directory is created on first write. Writes wait
    /// for another process's lock at most [`DEFAULT_LOCK_TIMEOUT`].
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self {
            file: PrivateJsonFile::new(home.into(), AUTH_FILE_NAME),
        }
    }

    /// How long a write waits for another process's lock before failing with
    /// [`StoreError::Locked`]. Defaults to [`DEFAULT_LOCK_TIMEOUT`] (10 s); zero tries once.
    #[must_use]
    pub fn with_lock_timeout(mut self, timeout: Duration) -> Self {
        self.file = self.file.with_lock_timeout(timeout);
        self
    }

    /// The store in the default home: `$AGENT_IDENTITY_HOME`, else `~/.agent-identity`.
    ///
    /// # Errors
    /// [`StoreError::Io`] when neither the variable nor a home directory is available.
    pub fn from_env() -> Result<Self, StoreError> {
        default_home().map(Self::new)
    }

    /// The path of `auth.json`.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Reads `auth.json`: `None` when it does not exist. `strict`: see
    /// [`PrivateJsonFile::read_bytes`].
    fn read(&self, strict: bool) -> Result<Option<AuthDocument>, StoreError> {
        Ok(self.file.read_document(strict)?.map(AuthDocument::new))
    }

    /// Removes the agent identity from `auth.json`: see the type's documentation.
    fn clear_document(&self) -> Result<ClearOutcome, StoreError> {
        let _lock = self.file.lock()?;
        self.file.remove_orphaned_temp_files();
        let document = match self.read(false) {
            Ok(Some(document)) => document,
            Ok(None) => return Ok(ClearOutcome::NothingStored),
            // Logging out of a file that cannot be read: nothing in it can be kept, and leaving
            // it would keep the user logged in as far as any other reader is concerned.
            Err(StoreError::Corrupt { .. }) => {
                return self
                    .file
                    .delete_file()
                    .map(|()| ClearOutcome::RemovedCorrupt);
            }
            Err(error) => return Err(error),
        };
        match document.clear() {
            Cleared::Corrupt => self
                .file
                .delete_file()
                .map(|()| ClearOutcome::RemovedCorrupt),
            Cleared::OtherLogin(mode) => Ok(ClearOutcome::KeptOtherLogin(mode)),
            Cleared::Empty { removed } => {
                self.file.delete_file()?;
                Ok(ClearOutcome::of(removed))
            }
            Cleared::Rest { document, removed } => {
                self.file.write_document(document.fields())?;
                Ok(ClearOutcome::of(removed))
            }
        }
    }
}

impl FileStore {
    /// The error for a document `problem`.
    fn problem(&self, problem: Problem) -> StoreError {
        match problem {
            Problem::Corrupt(reason) => self.file.corrupt(reason),
            Problem::Unsupported(reason) => StoreError::Unsupported {
                location: self.file.path().display().to_string(),
                reason,
            },
        }
    }

    /// Read-modify-write of `auth.json` under the lock; `change` says whether to write.
    fn update(&self, change: impl FnOnce(&mut AuthDocument) -> bool) -> Result<bool, StoreError> {
        let _lock = self.file.lock()?;
        self.file.remove_orphaned_temp_files();
        let mut document = self.read(false)?.unwrap_or_default();
        if !change(&mut document) {
            return Ok(false);
        }
        self.file.write_document(document.fields())?;
        Ok(true)
    }
}

impl CredentialStore for FileStore {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        match self.load_credential()? {
            None => Ok(None),
            Some(Credential::Jwt(token)) => Ok(Some(token)),
            Some(Credential::Record(_)) => Err(self.problem(Problem::Unsupported(
                "agent_identity is a record, which this caller cannot use as a token",
            ))),
        }
    }

    fn load_credential(&self) -> Result<Option<Credential>, StoreError> {
        // No lock: see the type's documentation. A read must answer at once (`status` is
        // offline) even while another process holds the lock.
        if !self.file.home_for_reading()? {
            return Ok(None);
        }
        let document = self.read(true);
        self.file.remove_orphans_if_no_writer();
        let Some(document) = document? else {
            return Ok(None);
        };
        document.identity().map_err(|problem| self.problem(problem))
    }

    fn save_record_task(
        &self,
        runtime_id: &AgentRuntimeId,
        task_id: &TaskId,
    ) -> Result<bool, StoreError> {
        self.update(|document| document.save_record_task(runtime_id, task_id))
    }

    fn save_record(&self, record: &AgentRecord) -> Result<(), StoreError> {
        self.update(|document| {
            document.save_record(record);
            true
        })
        .map(|_| ())
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        let _lock = self.file.lock()?;
        self.file.remove_orphaned_temp_files();
        // Preserve unknown fields of a readable document. A corrupt one is replaced: saving is an
        // explicit login, and the new credentials are known good. A file that cannot be read at
        // all is not replaced: its other fields would be lost, and the caller is told instead.
        let mut document = match self.read(false) {
            Ok(document) => document.unwrap_or_default(),
            Err(StoreError::Corrupt { .. }) => AuthDocument::default(),
            Err(error) => return Err(error),
        };
        document.save(token);
        self.file.write_document(document.fields())
    }

    fn clear(&self) -> Result<ClearOutcome, StoreError> {
        let outcome = self.clear_document()?;
        // Logging out forgets the home's task too; the key set stays (public keys).
        RuntimeCache::in_home(self.file.dir()).clear_tasks();
        Ok(outcome)
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        self.file.prepare_home()?;
        drop(self.file.open_lock_file()?);
        // `auth.json`, if there, must be something a save reads and replaces.
        match self.file.read_document(false) {
            Ok(_) | Err(StoreError::Corrupt { .. }) => {}
            Err(error) => return Err(error),
        }
        // The directory must take a new file: a save writes a temporary file and renames it.
        let probe = self.file.temp_path();
        let file = safety::create_private(&probe).map_err(|error| {
            self.file
                .open_error("creating a temporary file", &probe, error)
        })?;
        drop(file);
        fs::remove_file(&probe).map_err(self.file.io("removing a temporary file", &probe))
    }

    fn describe(&self) -> String {
        self.file.path().display().to_string()
    }

    /// Reads take no lock (see the type's documentation) and read a few KiB.
    fn load_may_block(&self) -> bool {
        false
    }

    fn runtime_cache(&self) -> Option<RuntimeCache> {
        Some(RuntimeCache::in_home(self.file.dir()))
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        vec![self.file.path().to_owned()]
    }
}

/// Creates `home` (mode 0700, with any missing parents) if it does not exist, and checks it as
/// every store does before writing into it: a directory (a symlink to one is followed) that we,
/// or root, own and that neither group nor others may write. For a program that keeps files of
/// its own beside `auth.json` (the proxy's client token): call it before writing anything there.
///
/// # Errors
/// [`StoreError::Io`] when the directory cannot be created or is not a directory;
/// [`StoreError::Insecure`] when another user owns it or others may write it.
pub fn prepare_home(home: &Path) -> Result<(), StoreError> {
    PrivateJsonFile::new(home.to_path_buf(), AUTH_FILE_NAME).prepare_home()
}

/// `$AGENT_IDENTITY_HOME`, else `~/.agent-identity`.
fn default_home() -> Result<PathBuf, StoreError> {
    default_home_with(&|name| std::env::var(name).ok())
}

/// [`default_home`] with the environment read through `lookup`: `AGENT_IDENTITY_HOME`, else
/// `$HOME/.agent-identity` (`USERPROFILE` on Windows). Empty values count as unset.
pub(crate) fn default_home_with(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<PathBuf, StoreError> {
    let read = |name: &str| lookup(name).filter(|value| !value.is_empty());
    if let Some(home) = read(HOME_ENV_VAR) {
        return Ok(PathBuf::from(home));
    }
    read(SYSTEM_HOME_ENV_VAR)
        .or_else(|| read(WINDOWS_HOME_ENV_VAR))
        .map(|home| PathBuf::from(home).join(".agent-identity"))
        .ok_or_else(|| StoreError::Io {
            path: PathBuf::from("~/.agent-identity"),
            operation: "finding the home directory",
            source: Arc::new(io::Error::new(
                io::ErrorKind::NotFound,
                format!("neither {HOME_ENV_VAR} nor {SYSTEM_HOME_ENV_VAR} is set"),
            )),
        })
}

#[cfg(test)]
mod tests;
