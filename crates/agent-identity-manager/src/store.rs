//! Where credentials live: the `CredentialStore` seam, the durable `auth.json` file store, a memory
//! store, and the read-only environment source.

#[cfg(feature = "keyring")]
mod keyring;
mod private_file;
mod runtime_cache;
mod safety;
mod token_file;

#[cfg(feature = "keyring")]
pub use self::keyring::{
    DEFAULT_KEYRING_TIMEOUT, KEYRING_SERVICE, KeyringProblem, KeyringStore, keyring_account,
};
use private_file::PrivateJsonFile;
pub use runtime_cache::{
    CacheSnapshot, CachedTask, RUNTIME_CACHE_FILE_NAME, RegistrationLock, RuntimeCache, TaskBinding,
};
pub use token_file::TokenFileStore;

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_identity_jwt::IdentityJwt;
use serde_json::{Map, Value};

/// The environment variable holding a JWT that overrides any stored credentials.
pub const JWT_ENV_VAR: &str = "AGENT_IDENTITY_JWT";
/// Codex's name for the same, read when [`JWT_ENV_VAR`] is unset.
pub const JWT_ENV_VAR_COMPAT: &str = "CODEX_ACCESS_TOKEN";
/// The environment variable naming the home directory that holds `auth.json`.
pub const HOME_ENV_VAR: &str = "AGENT_IDENTITY_HOME";
/// The credentials file's name inside the home directory.
pub const AUTH_FILE_NAME: &str = "auth.json";
/// `auth_mode` of an agent identity in `auth.json` (wire-format §6).
const AUTH_MODE_AGENT_IDENTITY: &str = "agentIdentity";

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
    /// Another process held the store's lock for longer than the write was willing to wait
    /// ([`FileStore::with_lock_timeout`]). Transient: the other writer will finish.
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
}

impl StoreError {
    /// Whether retrying later may succeed without anyone changing anything: another process's
    /// lock, an I/O failure such as a full disk, or an OS keyring that is locked, absent or slow
    /// to answer. A corrupt or insecure file, a read-only
    /// source, and I/O errors about the path itself (not a directory, a directory, permission
    /// denied, a name too long, a symlink loop, a read-only file system) are permanent.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Locked { .. } | Self::KeyringTimedOut { .. } => true,
            Self::Io { source, .. } => !safety::is_permanent(source),
            #[cfg(feature = "keyring")]
            Self::Keyring { problem, .. } => problem.is_transient(),
            Self::Corrupt { .. }
            | Self::KeyringCorrupt { .. }
            | Self::Insecure { .. }
            | Self::ReadOnly(_) => false,
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
}

/// Where the agent identity JWT is kept. Implementations must be safe to call from several
/// threads and, for durable stores, several processes.
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The stored token, `None` when nothing is stored.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a document that does not parse; [`StoreError::Io`] when it
    /// cannot be read; [`StoreError::Insecure`] when it, or its directory, is refused.
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError>;

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
    pub fn from_environment() -> Result<Self, StoreError> {
        default_home().map(Self::new)
    }

    /// The path of `auth.json`.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Removes the agent identity from `auth.json`: see the type's documentation.
    fn clear_document(&self) -> Result<ClearOutcome, StoreError> {
        let _lock = self.file.lock()?;
        self.file.remove_orphaned_temp_files();
        let mut document = match self.file.read_document(false) {
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
        // A document `load` calls corrupt (a mistyped `auth_mode` or `agent_identity`) is
        // deleted for the same reason.
        let Ok(token) = token_of(&document) else {
            return self
                .file
                .delete_file()
                .map(|()| ClearOutcome::RemovedCorrupt);
        };
        if let Some(Value::String(mode)) = document.get("auth_mode")
            && mode != AUTH_MODE_AGENT_IDENTITY
        {
            // Codex's ChatGPT or API-key login: no agent identity here, and not ours to touch.
            return Ok(ClearOutcome::KeptOtherLogin(login_mode_name(mode)));
        }
        document.remove("agent_identity");
        document.remove("auth_mode");
        // `"OPENAI_API_KEY": null` is the placeholder a save adds; alone, it is nobody's data.
        let only_placeholder = document.is_empty()
            || (document.len() == 1 && document.get("OPENAI_API_KEY") == Some(&Value::Null));
        if only_placeholder {
            self.file.delete_file()?;
        } else {
            self.file.write_document(&document)?;
        }
        Ok(if token.is_some() {
            ClearOutcome::Removed
        } else {
            ClearOutcome::NothingStored
        })
    }
}

impl CredentialStore for FileStore {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        // No lock: see the type's documentation. A read must answer at once (`status` is
        // offline) even while another process holds the lock.
        if !self.file.home_for_reading()? {
            return Ok(None);
        }
        let document = self.file.read_document(true);
        self.file.remove_orphans_if_no_writer();
        let Some(document) = document? else {
            return Ok(None);
        };
        token_of(&document).map_err(|reason| self.file.corrupt(reason))
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        let _lock = self.file.lock()?;
        self.file.remove_orphaned_temp_files();
        // Preserve unknown fields of a readable document. A corrupt one is replaced: saving is an
        // explicit login, and the new credentials are known good. A file that cannot be read at
        // all is not replaced: its other fields would be lost, and the caller is told instead.
        let mut document = match self.file.read_document(false) {
            Ok(document) => document.unwrap_or_default(),
            Err(StoreError::Corrupt { .. }) => Map::new(),
            Err(error) => return Err(error),
        };
        document.insert(
            "auth_mode".into(),
            Value::String(AUTH_MODE_AGENT_IDENTITY.into()),
        );
        document.entry("OPENAI_API_KEY").or_insert(Value::Null);
        document.insert(
            "agent_identity".into(),
            Value::String(token.expose_secret().to_owned()),
        );
        self.file.write_document(&document)
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

/// The agent identity in a parsed `auth.json`, or why the document is not a credentials file.
fn token_of(document: &Map<String, Value>) -> Result<Option<IdentityJwt>, &'static str> {
    match document.get("auth_mode") {
        None | Some(Value::Null) => {}
        Some(Value::String(mode)) if mode == AUTH_MODE_AGENT_IDENTITY => {}
        // Another login mode (Codex's API key or ChatGPT login): no agent identity here.
        Some(Value::String(_)) => return Ok(None),
        Some(_) => return Err("auth_mode is not a string"),
    }
    match document.get("agent_identity") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(token)) if token.trim().is_empty() => Ok(None),
        Some(Value::String(token)) => Ok(Some(IdentityJwt::new(token.as_str()))),
        Some(_) => Err("agent_identity is not a string"),
    }
}

/// Another login mode's name as shown to the user: Codex's are short words; anything else in
/// the field (it is not ours) is not repeated.
fn login_mode_name(mode: &str) -> String {
    let plain = !mode.is_empty()
        && mode.len() <= 32
        && mode
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if plain {
        mode.to_owned()
    } else {
        "unknown".to_owned()
    }
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
    read("HOME")
        .or_else(|| read("USERPROFILE"))
        .map(|home| PathBuf::from(home).join(".agent-identity"))
        .ok_or_else(|| StoreError::Io {
            path: PathBuf::from("~/.agent-identity"),
            operation: "finding the home directory",
            source: Arc::new(io::Error::new(
                io::ErrorKind::NotFound,
                "neither AGENT_IDENTITY_HOME nor HOME is set",
            )),
        })
}

/// Credentials in memory, for tests and for embedding.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    token: Arc<Mutex<Option<IdentityJwt>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `token`.
    pub fn with_token(token: IdentityJwt) -> Self {
        Self {
            token: Arc::new(Mutex::new(Some(token))),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<IdentityJwt>> {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl CredentialStore for MemoryStore {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        Ok(self.slot().clone())
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        *self.slot() = Some(token.clone());
        Ok(())
    }

    fn clear(&self) -> Result<ClearOutcome, StoreError> {
        Ok(match self.slot().take() {
            Some(_) => ClearOutcome::Removed,
            None => ClearOutcome::NothingStored,
        })
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn may_block(&self) -> bool {
        false
    }
}

/// A JWT from the environment (`AGENT_IDENTITY_JWT`, else `CODEX_ACCESS_TOKEN`) that takes
/// precedence over a fallback store. While the variable is set the credentials are read-only and
/// never written to disk; when it is unset, every call goes to the fallback.
#[derive(Debug, Clone)]
pub struct EnvOverride {
    env: Option<(&'static str, IdentityJwt)>,
    fallback: Arc<dyn CredentialStore>,
}

impl EnvOverride {
    /// Reads the variables now, layering them over `fallback`.
    pub fn from_environment(fallback: Arc<dyn CredentialStore>) -> Self {
        Self::from_lookup(fallback, |name| std::env::var(name).ok())
    }

    /// Like [`EnvOverride::from_environment`], with the variables looked up by `lookup`.
    pub fn from_lookup(
        fallback: Arc<dyn CredentialStore>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let env = [JWT_ENV_VAR, JWT_ENV_VAR_COMPAT]
            .into_iter()
            .find_map(|name| {
                lookup(name)
                    .filter(|value| !value.trim().is_empty())
                    .map(|value| (name, IdentityJwt::new(value)))
            });
        Self { env, fallback }
    }

    /// Whether the environment supplies the credentials.
    pub fn is_overridden(&self) -> bool {
        self.env.is_some()
    }
}

impl CredentialStore for EnvOverride {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        match &self.env {
            Some((_, token)) => Ok(Some(token.clone())),
            None => self.fallback.load(),
        }
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        match &self.env {
            Some((name, _)) => Err(StoreError::ReadOnly(name)),
            None => self.fallback.save(token),
        }
    }

    fn clear(&self) -> Result<ClearOutcome, StoreError> {
        match &self.env {
            Some((name, _)) => Err(StoreError::ReadOnly(name)),
            None => self.fallback.clear(),
        }
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        match &self.env {
            Some((name, _)) => Err(StoreError::ReadOnly(name)),
            None => self.fallback.check_writable(),
        }
    }

    fn describe(&self) -> String {
        match &self.env {
            Some((name, _)) => format!("environment ({name})"),
            None => self.fallback.describe(),
        }
    }

    fn may_block(&self) -> bool {
        self.env.is_none() && self.fallback.may_block()
    }

    fn load_may_block(&self) -> bool {
        self.env.is_none() && self.fallback.load_may_block()
    }

    /// The fallback store's: a token from the environment is never written, but the task it
    /// registered and the key set are cached in the home all the same.
    fn runtime_cache(&self) -> Option<RuntimeCache> {
        self.fallback.runtime_cache()
    }

    /// The fallback's, unless a variable overrides it (a variable cannot change under us).
    fn watched_paths(&self) -> Vec<PathBuf> {
        if self.env.is_some() {
            Vec::new()
        } else {
            self.fallback.watched_paths()
        }
    }
}

#[cfg(test)]
mod tests;

/// Why a secret in the file or directory `metadata` describes (from `fstat` on the opened file)
/// cannot be trusted, by the rule the store holds its own files to: it must belong to us or to
/// root, and nobody else may write it. `None` when it can be trusted. Callers that read secrets
/// of their own (the proxy's client token file) apply the same rule.
#[must_use]
pub fn trust_problem(metadata: &fs::Metadata) -> Option<Insecurity> {
    safety::trust_problem_of(metadata)
}
