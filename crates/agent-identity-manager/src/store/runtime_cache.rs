//! The runtime cache beside the credentials: the task registered for a token and the last good
//! key set, so that a restart costs no round trip and a home registers one task, not one per
//! process.
//!
//! It is a cache, never a source of truth: whatever is wrong with it (missing, corrupt, truncated,
//! another version, another token's, not ours, not private) costs at most a round trip and is
//! replaced on the next write, never an error or a logout. It never holds the token or the
//! private key: tasks are bound to the token's SHA-256 fingerprint.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_identity_jwt::KeySetSnapshot;
use agent_identity_task::TaskId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use super::private_file::PrivateJsonFile;
use super::{StoreError, safety};

/// The runtime cache's file name in the home, beside `auth.json` (which keeps exactly Codex's
/// format and is never given extra fields).
pub const RUNTIME_CACHE_FILE_NAME: &str = "agent-identity-cache.json";
/// The lock that the process registering a task for the home holds while it does, so that the
/// others wait for its task instead of registering their own.
const REGISTRATION_LOCK_NAME: &str = "agent-identity-cache.registration.lock";
/// The document's format; another version is ignored (and replaced by the next write).
const FORMAT_VERSION: u64 = 1;
/// 16 tasks, 4 key sets: a home serves one token at a time, and a few base URLs at most.
const MAX_TASKS: usize = 16;
const MAX_KEY_SETS: usize = 4;
/// 2 s: how long a cache write waits for another process's lock before it is skipped (a skipped
/// write costs the next process a round trip, nothing more).
const WRITE_LOCK_TIMEOUT: Duration = Duration::from_secs(2);
/// 50 ms: the longest pause between two looks at the registration lock.
const MAX_REGISTRATION_POLL: Duration = Duration::from_millis(50);

/// Which task a cached one is: the runtime it was registered for, the token (by fingerprint)
/// that registered it, and the AuthAPI it was registered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaskBinding {
    runtime_id: String,
    token_sha256: String,
    authapi_base: String,
}

impl TaskBinding {
    /// A binding of `runtime_id`, the token with SHA-256 fingerprint `token_sha256` (see
    /// `IdentityJwt::fingerprint`), and the AuthAPI at `authapi_base`.
    pub(crate) fn new(
        runtime_id: impl Into<String>,
        token_sha256: impl Into<String>,
        authapi_base: impl Into<String>,
    ) -> Self {
        Self {
            runtime_id: runtime_id.into(),
            token_sha256: token_sha256.into(),
            authapi_base: authapi_base.into(),
        }
    }
}

/// A task found in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CachedTask {
    task_id: TaskId,
    registered_at: SystemTime,
}

impl CachedTask {
    /// The task id.
    pub(crate) fn task_id(&self) -> &TaskId {
        &self.task_id
    }

    /// When it was registered.
    pub(crate) fn registered_at(&self) -> SystemTime {
        self.registered_at
    }
}

/// The runtime cache of one home ([`RUNTIME_CACHE_FILE_NAME`] in it). Cheap to clone.
///
/// Opaque: a [`CredentialStore`](crate::CredentialStore) names the home that keeps one
/// ([`CredentialStore::runtime_cache`](crate::CredentialStore::runtime_cache)), and only the
/// manager reads and writes what it holds.
#[derive(Debug, Clone)]
pub struct RuntimeCache {
    file: PrivateJsonFile,
    registration_lock: PathBuf,
}

/// The runtime cache as one read found it ([`RuntimeCache::snapshot`]).
#[derive(Debug, Default)]
pub(crate) struct CacheSnapshot(Document);

impl CacheSnapshot {
    /// The task cached for `binding`, if any.
    pub(crate) fn task(&self, binding: &TaskBinding) -> Option<CachedTask> {
        self.0
            .tasks
            .iter()
            .find(|entry| entry.binds(binding))
            .and_then(TaskEntry::cached)
    }

    /// The newest task cached for the token with fingerprint `token_sha256` and `runtime_id`,
    /// whatever the AuthAPI.
    pub(crate) fn newest_task_for(
        &self,
        runtime_id: &str,
        token_sha256: &str,
    ) -> Option<CachedTask> {
        self.0
            .tasks
            .iter()
            .filter(|entry| entry.runtime_id == runtime_id && entry.token_sha256 == token_sha256)
            .filter_map(TaskEntry::cached)
            .max_by_key(CachedTask::registered_at)
    }

    /// The key set cached for `url`.
    pub(crate) fn key_set(&self, url: &str) -> Option<KeySetSnapshot> {
        self.0
            .key_sets
            .iter()
            .find(|entry| entry.url == url)
            .map(|entry| {
                KeySetSnapshot::new(
                    entry.jwks.get().to_owned(),
                    from_epoch_seconds(entry.fetched_at),
                )
            })
    }
}

/// Holds the home's registration lock; dropping it lets the next process in.
#[derive(Debug)]
pub(crate) struct RegistrationLock {
    _file: File,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Document {
    version: u64,
    #[serde(default)]
    tasks: Vec<TaskEntry>,
    #[serde(default)]
    key_sets: Vec<KeySetEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct TaskEntry {
    runtime_id: String,
    token_sha256: String,
    authapi_base: String,
    task_id: String,
    /// Seconds since the Unix epoch.
    registered_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct KeySetEntry {
    url: String,
    /// Seconds since the Unix epoch.
    fetched_at: u64,
    /// Kept as the text it was read as: the verifier parses it, once.
    jwks: Box<RawValue>,
}

impl TaskEntry {
    fn binds(&self, binding: &TaskBinding) -> bool {
        self.runtime_id == binding.runtime_id
            && self.token_sha256 == binding.token_sha256
            && self.authapi_base == binding.authapi_base
    }

    fn cached(&self) -> Option<CachedTask> {
        // Task ids are checked as when they came from the AuthAPI: a cache is no more trusted.
        let valid = !self.task_id.is_empty()
            && self.task_id.len() <= agent_identity_task::MAX_TASK_ID_BYTES
            && !self.task_id.chars().any(char::is_control);
        valid.then(|| CachedTask {
            task_id: TaskId::new(self.task_id.as_str()),
            registered_at: from_epoch_seconds(self.registered_at),
        })
    }
}

impl RuntimeCache {
    /// The runtime cache in `home`. Nothing is read or created until it is used.
    pub fn in_home(home: impl Into<PathBuf>) -> Self {
        let home = home.into();
        Self {
            registration_lock: home.join(REGISTRATION_LOCK_NAME),
            file: PrivateJsonFile::new(home, RUNTIME_CACHE_FILE_NAME)
                .with_lock_timeout(WRITE_LOCK_TIMEOUT),
        }
    }

    /// The cache file's path.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// What the cache holds now, read once: for a caller that looks up both a task and a key
    /// set. Reads take no lock and never fail (an unusable cache reads as an empty one).
    pub(crate) fn snapshot(&self) -> CacheSnapshot {
        CacheSnapshot(self.read())
    }

    /// The task cached for `binding`, if any.
    pub(crate) fn task(&self, binding: &TaskBinding) -> Option<CachedTask> {
        self.snapshot().task(binding)
    }

    /// The newest task cached for the token with fingerprint `token_sha256` and `runtime_id`,
    /// whatever the AuthAPI: what offline status shows.
    pub(crate) fn newest_task_for(
        &self,
        runtime_id: &str,
        token_sha256: &str,
    ) -> Option<CachedTask> {
        self.snapshot().newest_task_for(runtime_id, token_sha256)
    }

    /// Caches `task_id` for `binding`, replacing what was cached for it. Best effort: a cache
    /// that cannot be written is logged and left alone.
    pub(crate) fn put_task(
        &self,
        binding: &TaskBinding,
        task_id: &TaskId,
        registered_at: SystemTime,
    ) {
        self.update(|document| {
            document.tasks.retain(|entry| !entry.binds(binding));
            document.tasks.insert(
                0,
                TaskEntry {
                    runtime_id: binding.runtime_id.clone(),
                    token_sha256: binding.token_sha256.clone(),
                    authapi_base: binding.authapi_base.clone(),
                    task_id: task_id.as_str().to_owned(),
                    registered_at: epoch_seconds(registered_at),
                },
            );
            document.tasks.truncate(MAX_TASKS);
        });
    }

    /// Forgets every cached task (logging out). Best effort, as [`RuntimeCache::put_task`].
    pub(crate) fn clear_tasks(&self) {
        if !self.path().exists() {
            return;
        }
        self.update(|document| document.tasks.clear());
    }

    /// The key set last cached for `url` (the manager reads it through one snapshot).
    #[cfg(test)]
    fn key_set(&self, url: &str) -> Option<KeySetSnapshot> {
        self.snapshot().key_set(url)
    }

    /// Caches `snapshot` as the key set of `url`. Best effort, as [`RuntimeCache::put_task`].
    pub(crate) fn put_key_set(&self, url: &str, snapshot: &KeySetSnapshot) {
        let Ok(jwks) = RawValue::from_string(snapshot.json().to_owned()) else {
            return;
        };
        self.update(|document| {
            document.key_sets.retain(|entry| entry.url != url);
            document.key_sets.insert(
                0,
                KeySetEntry {
                    url: url.to_owned(),
                    fetched_at: epoch_seconds(snapshot.fetched_at()),
                    jwks,
                },
            );
            document.key_sets.truncate(MAX_KEY_SETS);
        });
    }

    /// Takes the home's registration lock, waiting for another process's registration at most
    /// `wait`; `None` when it is not had by then (or cannot be had at all), and the caller
    /// registers on its own rather than hang.
    pub(crate) async fn lock_registration(&self, wait: Duration) -> Option<RegistrationLock> {
        let file = match self.open_registration_lock() {
            Ok(file) => file,
            Err(error) => {
                tracing::warn!(error = %error, "cannot take the registration lock; registering without it");
                return None;
            }
        };
        let started = tokio::time::Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            match file.try_lock() {
                Ok(()) => return Some(RegistrationLock { _file: file }),
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(error)) => {
                    tracing::warn!(error = %error, "cannot take the registration lock; registering without it");
                    return None;
                }
            }
            let waited = started.elapsed();
            if waited >= wait {
                tracing::warn!(
                    ?waited,
                    "another process is still registering; registering without waiting for it"
                );
                return None;
            }
            tokio::time::sleep(pause.min(wait - waited)).await;
            pause = (pause * 2).min(MAX_REGISTRATION_POLL);
        }
    }

    fn open_registration_lock(&self) -> Result<File, StoreError> {
        self.file.prepare_home()?;
        let file = safety::open_lock_file(&self.registration_lock, true).map_err(|error| {
            self.file
                .open_error("opening the lock file", &self.registration_lock, error)
        })?;
        Ok(file)
    }

    /// The document, or an empty one when there is none or it cannot be used.
    fn read(&self) -> Document {
        let bytes = self.file.home_for_reading().and_then(|exists| {
            if exists {
                self.file.read_bytes(true)
            } else {
                Ok(None)
            }
        });
        match bytes {
            Ok(Some(bytes)) => parse(&bytes).unwrap_or_else(|why| {
                tracing::warn!(path = %self.path().display(), why, "ignoring the runtime cache");
                Document::default()
            }),
            Ok(None) => Document::default(),
            Err(error) => {
                tracing::warn!(error = %error, "ignoring the runtime cache");
                Document::default()
            }
        }
    }

    /// Read-modify-write under the cache's lock. Whatever was there and cannot be used is
    /// replaced.
    fn update(&self, change: impl FnOnce(&mut Document)) {
        let result = (|| {
            let _lock = self.file.lock()?;
            self.file.remove_orphaned_temp_files();
            let mut document = match self.file.read_bytes(true) {
                Ok(Some(bytes)) => parse(&bytes).unwrap_or_default(),
                Ok(None) | Err(_) => Document::default(),
            };
            document.version = FORMAT_VERSION;
            change(&mut document);
            let Ok(Value::Object(map)) = serde_json::to_value(&document) else {
                return Ok(());
            };
            self.file.write_document(&map)
        })();
        if let Err(error) = result {
            tracing::warn!(error = %error, "could not write the runtime cache");
        }
    }
}

fn parse(bytes: &[u8]) -> Result<Document, &'static str> {
    let document: Document = serde_json::from_slice(bytes)
        .map_err(|_| "it is not a cache document (or not valid JSON: torn or truncated?)")?;
    if document.version != FORMAT_VERSION {
        return Err("it is another version of the cache");
    }
    Ok(document)
}

fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

fn from_epoch_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .unwrap_or(UNIX_EPOCH)
}

#[cfg(test)]
mod tests;
