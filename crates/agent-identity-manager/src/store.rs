//! Where credentials live: the `CredentialStore` seam, the durable `auth.json` file store, a memory
//! store, and the read-only environment source.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

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
/// 1 MiB: an `auth.json` is a few KiB; a larger file is not ours and is not read whole.
const MAX_AUTH_FILE_BYTES: u64 = 1 << 20;

/// Why the store could not be read or written.
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
    /// The credentials come from the environment and cannot be changed here.
    #[error("credentials come from the environment ({0}) and are read-only")]
    ReadOnly(&'static str),
}

/// Where the agent identity JWT is kept. Implementations must be safe to call from several
/// threads and, for durable stores, several processes.
pub trait CredentialStore: Send + Sync + fmt::Debug {
    /// The stored token, `None` when nothing is stored.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] for a document that does not parse; [`StoreError::Io`] when it
    /// cannot be read.
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError>;

    /// Stores `token`, replacing any stored one.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] for read-only sources; [`StoreError::Io`] when writing fails, in
    /// which case the previous credentials are intact.
    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError>;

    /// Removes the stored agent identity (logging out). Clearing a store that holds none
    /// succeeds. A store shared with other credentials removes only its own: see
    /// [`FileStore`] for what happens to the rest of `auth.json`.
    ///
    /// # Errors
    /// [`StoreError::ReadOnly`] for read-only sources; [`StoreError::Io`] when reading, rewriting
    /// or deleting fails, in which case the previous credentials are intact.
    fn clear(&self) -> Result<(), StoreError>;

    /// A short description for status output: a path, "memory" or "environment".
    fn describe(&self) -> String;

    /// Whether calls may block the thread (file I/O, waiting on another process's lock), so that
    /// async callers should run them on a blocking thread. Defaults to `true`.
    fn may_block(&self) -> bool {
        true
    }
}

/// `auth.json` in a home directory, in Codex's format (wire-format §6).
///
/// Writes are atomic (a `0600` temporary file in the same directory, fsync, rename, fsync of the
/// directory), so a crash leaves the old or the new file, never a torn one. Mode `0600` is set on
/// every write. Read-modify-write runs under an advisory lock on `auth.json.lock`, so processes
/// sharing a home do not lose each other's writes, and unknown fields are preserved.
///
/// The file is shared with Codex, so [`clear`](CredentialStore::clear) removes only what is
/// ours:
/// - a file in another login mode (`auth_mode` `chatgpt` or `apikey`) holds no agent identity
///   and is left untouched, byte for byte;
/// - otherwise `agent_identity` and `auth_mode` are removed and every other field is kept (the
///   file is rewritten atomically, as by a save); a file left empty, or holding only
///   `"OPENAI_API_KEY": null`, is deleted instead;
/// - a corrupt file is deleted: the user asked to log out, and a file that cannot be read holds
///   nothing that could be kept.
#[derive(Debug, Clone)]
pub struct FileStore {
    dir: PathBuf,
    path: PathBuf,
    lock_path: PathBuf,
}

impl FileStore {
    /// A store for `auth.json` in `home`. The directory is created on first write.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        let dir = home.into();
        Self {
            path: dir.join(AUTH_FILE_NAME),
            lock_path: dir.join(format!("{AUTH_FILE_NAME}.lock")),
            dir,
        }
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
        &self.path
    }

    fn io(&self, operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
        let path = path.to_owned();
        move |source| StoreError::Io {
            path,
            operation,
            source: Arc::new(source),
        }
    }

    /// Takes the exclusive advisory lock for a write, creating the directory and lock file if needed.
    fn lock(&self) -> Result<File, StoreError> {
        create_private_dir(&self.dir).map_err(self.io("creating the directory", &self.dir))?;
        let file = open_private(&self.lock_path, false)
            .map_err(self.io("opening the lock file", &self.lock_path))?;
        file.lock().map_err(self.io("locking", &self.lock_path))?;
        Ok(file)
    }

    /// Takes the shared lock for a read, if the lock file exists and can be opened.
    ///
    /// A read never creates the home or the lock file, so reading status has no side effects and
    /// a read-only home (a mounted secret, say) still reads. Reading without the lock is safe:
    /// writes replace the file by an atomic rename, so a reader sees the old or the new document.
    fn lock_for_reading(&self) -> Result<Option<File>, StoreError> {
        let file = match File::open(&self.lock_path) {
            Ok(file) => file,
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
                ) =>
            {
                return Ok(None);
            }
            Err(error) => return Err(self.io("opening the lock file", &self.lock_path)(error)),
        };
        file.lock_shared()
            .map_err(self.io("locking", &self.lock_path))?;
        Ok(Some(file))
    }

    /// Reads and parses the document; `None` when the file does not exist.
    fn read_document(&self) -> Result<Option<Map<String, Value>>, StoreError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(self.io("reading", &self.path)(error)),
        };
        let mut bytes = Vec::new();
        file.take(MAX_AUTH_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(self.io("reading", &self.path))?;
        if bytes.len() as u64 > MAX_AUTH_FILE_BYTES {
            return Err(self.corrupt("larger than 1 MiB"));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            Ok(_) => Err(self.corrupt("not a JSON object")),
            Err(_) => Err(self.corrupt("not valid JSON (torn or truncated?)")),
        }
    }

    fn corrupt(&self, reason: &'static str) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }

    /// Deletes temporary files left by writers that died mid-write (they hold a copy of the secret).
    ///
    /// Called under the exclusive lock: every writer holds it from creating its temporary file to
    /// renaming it, so any temporary file seen now belongs to a writer that is gone.
    fn remove_orphaned_temp_files(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!(".{AUTH_FILE_NAME}.");
        for entry in entries.flatten() {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix)
                && name.ends_with(".tmp")
                && let Err(error) = fs::remove_file(entry.path())
            {
                tracing::debug!(error = %error, "could not remove an orphaned temporary file");
            }
        }
    }

    /// Deletes `auth.json` (absent already is fine) and makes the deletion durable.
    fn delete_file(&self) -> Result<(), StoreError> {
        match fs::remove_file(&self.path) {
            Ok(()) => sync_dir(&self.dir).map_err(self.io("syncing the directory", &self.dir)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(self.io("deleting", &self.path)(error)),
        }
    }

    /// Writes `document` atomically with mode 0600.
    fn write_document(&self, document: &Map<String, Value>) -> Result<(), StoreError> {
        let mut bytes =
            serde_json::to_vec_pretty(document).map_err(|_| self.corrupt("unserializable"))?;
        bytes.push(b'\n');
        let temp_path = self
            .dir
            .join(format!(".{AUTH_FILE_NAME}.{}.tmp", unique_suffix()));
        let result = (|| {
            let mut temp = open_private(&temp_path, true)
                .map_err(self.io("creating a temporary file", &temp_path))?;
            set_private(&temp).map_err(self.io("setting permissions", &temp_path))?;
            temp.write_all(&bytes)
                .map_err(self.io("writing", &temp_path))?;
            temp.sync_all().map_err(self.io("syncing", &temp_path))?;
            drop(temp);
            fs::rename(&temp_path, &self.path)
                .map_err(self.io("renaming into place", &self.path))?;
            sync_dir(&self.dir).map_err(self.io("syncing the directory", &self.dir))
        })();
        if result.is_err() {
            // The old file is untouched; do not leave the temporary file behind either.
            let _ = fs::remove_file(&temp_path);
        }
        result
    }
}

impl CredentialStore for FileStore {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        let _lock = self.lock_for_reading()?;
        let Some(document) = self.read_document()? else {
            return Ok(None);
        };
        token_of(&document).map_err(|reason| self.corrupt(reason))
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        self.remove_orphaned_temp_files();
        // Preserve unknown fields of a readable document. A corrupt one is replaced: saving is an
        // explicit login, and the new credentials are known good. A file that cannot be read at
        // all is not replaced: its other fields would be lost, and the caller is told instead.
        let mut document = match self.read_document() {
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
        self.write_document(&document)
    }

    fn clear(&self) -> Result<(), StoreError> {
        let _lock = self.lock()?;
        self.remove_orphaned_temp_files();
        let mut document = match self.read_document() {
            Ok(Some(document)) => document,
            Ok(None) => return Ok(()),
            // Logging out of a file that cannot be read: nothing in it can be kept, and leaving
            // it would keep the user logged in as far as any other reader is concerned.
            Err(StoreError::Corrupt { .. }) => return self.delete_file(),
            Err(error) => return Err(error),
        };
        // A document `load` calls corrupt (a mistyped `auth_mode` or `agent_identity`) is
        // deleted for the same reason.
        if token_of(&document).is_err() {
            return self.delete_file();
        }
        if matches!(
            document.get("auth_mode"),
            Some(Value::String(mode)) if mode != AUTH_MODE_AGENT_IDENTITY
        ) {
            // Codex's ChatGPT or API-key login: no agent identity here, and not ours to touch.
            return Ok(());
        }
        document.remove("agent_identity");
        document.remove("auth_mode");
        // `"OPENAI_API_KEY": null` is the placeholder a save adds; alone, it is nobody's data.
        let only_placeholder = document.is_empty()
            || (document.len() == 1 && document.get("OPENAI_API_KEY") == Some(&Value::Null));
        if only_placeholder {
            self.delete_file()
        } else {
            self.write_document(&document)
        }
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
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

fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(unix)]
fn open_private(path: &Path, create_new: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = OpenOptions::new();
    options.read(true).write(true).mode(0o600);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(false);
    }
    options.open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path, create_new: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true);
    if create_new {
        options.create_new(true);
    } else {
        options.create(true).truncate(false);
    }
    options.open(path)
}

/// Sets mode 0600 explicitly: `open`'s mode is filtered by the umask and applies only on creation.
#[cfg(unix)]
fn set_private(file: &File) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn set_private(_file: &File) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)
}

/// Makes a rename durable: on Unix the directory entry is only on disk once the directory is synced.
#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// `$AGENT_IDENTITY_HOME`, else `~/.agent-identity`.
fn default_home() -> Result<PathBuf, StoreError> {
    if let Some(home) = std::env::var_os(HOME_ENV_VAR).filter(|home| !home.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    let user_home = std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|home| !home.is_empty());
    user_home
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

    fn clear(&self) -> Result<(), StoreError> {
        *self.slot() = None;
        Ok(())
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

    fn clear(&self) -> Result<(), StoreError> {
        match &self.env {
            Some((name, _)) => Err(StoreError::ReadOnly(name)),
            None => self.fallback.clear(),
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
}

#[cfg(test)]
mod tests;
