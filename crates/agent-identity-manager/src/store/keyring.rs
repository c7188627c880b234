//! [`KeyringStore`]: the credentials document in the OS keyring, under the entry Codex uses for
//! the same home, with every call time-boxed.
//!
//! Codex's naming (openai/codex, `codex-rs/login/src/auth/storage.rs`, formerly
//! `codex-rs/core/src/auth/storage.rs`): service `"Codex Auth"`; account `cli|` followed by the
//! first 16 hex digits of the SHA-256 of the home path, canonicalised (or as given, when it
//! cannot be, as for a home that does not exist yet); the value is the whole `auth.json`
//! document as compact JSON. Codex reaches the keyring through keyring 3 (`keyring-store` crate),
//! which on Linux keeps the item in the Secret Service with the attributes `service`,
//! `username` (the account) and `target` (`default`), and a cached copy in the kernel's
//! keyutils that Codex reads first.
//!
//! How this store meets it:
//! - **The backend is chosen explicitly**: the Secret Service with Codex's keyutils copy on
//!   Linux, keyring's own on macOS and Windows. Elsewhere keyring's default would be an in-memory
//!   mock; this store refuses instead, with [`KeyringProblem::Unsupported`].
//! - **Keyring 3 without a `crypto-*` feature, and libdbus built from source** (`vendored`: no
//!   -dev package). The Secret Service session is plain (see [`KeyringStore`] for why that keeps
//!   the tree's one crypto backend). A save updates Codex's keyutils copy when it exists and a
//!   clear removes it; reads come from the Secret Service only.
//! - **Every call is time-boxed** ([`DEFAULT_KEYRING_TIMEOUT`], 5 s) on a thread of its own: past
//!   the box, [`StoreError::KeyringTimedOut`] (transient), and the thread is abandoned; while it
//!   is stuck, further calls fail at once rather than pile up threads.
//! - **Errors are typed**: [`StoreError::Keyring`] with a [`KeyringProblem`] (locked and
//!   unavailable are transient; unsupported, ambiguous and rejected are not), and a value that is
//!   not a credentials document is [`StoreError::KeyringCorrupt`], never "logged out". The
//!   document's rules are `document`'s, shared with the file store.
//! - **Never a fallback to a file**: the home only names the entry and keeps the runtime cache,
//!   which holds no secret. Reads may block, so the manager runs them off the async threads
//!   ([`CredentialStore::load_may_block`] is `true`).
//!
//! Tests: the unit tests (`keyring/tests.rs`) run on keyring's `MockCredential`s and on a keyring
//! that never answers. The real test (`tests/it/keyring.rs`, ignored by default) runs against
//! gnome-keyring in a private `dbus-run-session`, which `cargo xtask ci` and `cargo xtask
//! secret-service` set up; without those programs xtask skips it with a line saying so, unless
//! `AGENT_IDENTITY_REQUIRE_SECRET_SERVICE=1` (which `.ci/run` sets, after installing them).
//!
//! One piece: past 500 lines, but the entry's naming, the time box around every call and the
//! mapping of keyring 3's errors are one adapter, and each part is read against the others.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_identity_flight::lock;
use agent_identity_jwt::{AgentRuntimeId, IdentityJwt};
use agent_identity_task::TaskId;
use keyring::Error as KeyringError;
use keyring::credential::{Credential, CredentialBuilder};
use serde_json::Value;

use super::document::{AuthDocument, Cleared, Problem};
use super::{ClearOutcome, CredentialStore, RuntimeCache, StoreError};
use crate::credential::{AgentRecord, Credential as StoredCredential};

/// The keyring service Codex stores its credentials under.
pub const KEYRING_SERVICE: &str = "Codex Auth";

/// 5 s: how long one keyring call may take before [`StoreError::KeyringTimedOut`]. A Secret
/// Service answers in milliseconds; longer means it waits on an unlock prompt nobody will see,
/// or a D-Bus peer hangs.
pub const DEFAULT_KEYRING_TIMEOUT: Duration = Duration::from_secs(5);

/// How many hex digits of the home's SHA-256 the account keeps (Codex's choice).
const ACCOUNT_HASH_DIGITS: usize = 16;

/// The keyring account Codex uses for `home`: `cli|` and the first 16 hex digits of the SHA-256
/// of the canonical home path, or of the path as given when it cannot be canonicalised (a home
/// that does not exist yet), exactly as Codex names it.
pub fn keyring_account(home: &Path) -> String {
    let canonical = home.canonicalize().unwrap_or_else(|_| home.to_owned());
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.to_string_lossy().as_bytes(),
    );
    let mut hex = String::with_capacity(ACCOUNT_HASH_DIGITS);
    for byte in digest.as_ref().iter().take(ACCOUNT_HASH_DIGITS / 2) {
        hex.push_str(&format!("{byte:02x}"));
    }
    format!("cli|{hex}")
}

/// The credentials document (Codex's `auth.json`, wire-format §6) in the OS keyring: the Secret
/// Service on Linux, the Keychain on macOS, the Credential Manager on Windows.
///
/// The entry is Codex's for the same home ([`KEYRING_SERVICE`], [`keyring_account`]), and its
/// value is the document as JSON, so Codex reads a login made here and the other way round. As
/// with [`FileStore`](crate::FileStore), a save keeps the document's other fields, a document in
/// another login mode (`chatgpt`, `apikey`) holds no agent identity and is left alone by a
/// clear, and a value that is not a credentials document is [`StoreError::KeyringCorrupt`],
/// never "logged out".
///
/// Explicit, never a fallback: when the keyring cannot be used, every call fails with a typed
/// error ([`StoreError::Keyring`], [`StoreError::KeyringTimedOut`]) and nothing is written to a
/// file. The home only names the entry and holds the runtime cache (the registered task and the
/// key set, no secret), so a restart reuses the task as with the file store.
///
/// Time-boxed: each call runs on a thread of its own and is given up after
/// [`DEFAULT_KEYRING_TIMEOUT`] (see [`with_timeout`](Self::with_timeout)) with
/// [`StoreError::KeyringTimedOut`], which is transient. The stuck thread is abandoned, not
/// joined; while it is still stuck, further calls fail at once the same way instead of piling up
/// threads. A save that timed out may still complete later, when the keyring wakes up.
///
/// On Linux the Secret Service is spoken over the user's session D-Bus in a plain session: the
/// secret crosses the user's own private bus unencrypted, as it would reach any process of the
/// user that asks the unlocked keyring for it. An encrypted session would need a second crypto
/// backend (RustCrypto or OpenSSL) for one Diffie-Hellman exchange over a bus that only the user
/// can read. Codex's keyutils copy (in the session keyring) is updated when it exists and
/// removed by a clear, so Codex never reads a stale token; this store reads the Secret Service
/// only.
#[derive(Clone)]
pub struct KeyringStore {
    home: PathBuf,
    account: String,
    builder: Arc<CredentialBuilder>,
    timeout: Duration,
    /// Set while an abandoned call is still running.
    stuck: Arc<Mutex<bool>>,
}

impl fmt::Debug for KeyringStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyringStore")
            .field("service", &KEYRING_SERVICE)
            .field("account", &self.account)
            .field("home", &self.home)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl KeyringStore {
    /// The entry Codex uses for `home`, in the platform's keyring. Nothing is read or created
    /// until a call.
    pub fn new(home: impl Into<PathBuf>) -> Self {
        Self::with_credential_builder(home, Arc::new(OsCredentialBuilder))
    }

    /// The same entry, with credentials built by `builder` (keyring 3's
    /// `CredentialBuilderApi`): a store of your own, or one for tests.
    pub fn with_credential_builder(
        home: impl Into<PathBuf>,
        builder: Arc<CredentialBuilder>,
    ) -> Self {
        let home = home.into();
        Self {
            account: keyring_account(&home),
            home,
            builder,
            timeout: DEFAULT_KEYRING_TIMEOUT,
            stuck: Arc::new(Mutex::new(false)),
        }
    }

    /// How long one call may take before [`StoreError::KeyringTimedOut`]. Defaults to
    /// [`DEFAULT_KEYRING_TIMEOUT`] (5 s).
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The keyring service: [`KEYRING_SERVICE`].
    pub fn service(&self) -> &'static str {
        KEYRING_SERVICE
    }

    /// The keyring account: [`keyring_account`] of the home.
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The home the entry is named after, which holds the runtime cache.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// Runs `job` with the entry on a thread of its own, for at most the time box.
    fn call<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Entry) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let timed_out = || StoreError::KeyringTimedOut {
            service: KEYRING_SERVICE.to_owned(),
            account: self.account.clone(),
            waited: self.timeout,
        };
        if *lock(&self.stuck) {
            return Err(timed_out());
        }
        let entry = Entry {
            builder: Arc::clone(&self.builder),
            account: self.account.clone(),
        };
        let (sender, receiver) = mpsc::sync_channel(1);
        let stuck = Arc::clone(&self.stuck);
        let spawned = std::thread::Builder::new()
            .name("keyring".to_owned())
            .spawn(move || {
                // A panic is an answer too: it must reach the caller, and clear the flag below
                // when the caller gave up, or every later call would fail as stuck.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(&entry)))
                    .unwrap_or_else(|_| {
                        Err(entry_error(
                            &entry.account,
                            "a keyring call",
                            &KeyringError::PlatformFailure("the keyring call panicked".into()),
                        ))
                    });
                // Cleared under the lock, so a caller that gave up on this call either sees it
                // finished or has set the flag this clears.
                let mut stuck = lock(&stuck);
                if sender.send(result).is_err() {
                    *stuck = false;
                }
            });
        if let Err(error) = spawned {
            return Err(entry_error(
                &self.account,
                "starting a keyring thread",
                &KeyringError::PlatformFailure(Box::new(error)),
            ));
        }
        match receiver.recv_timeout(self.timeout) {
            Ok(result) => result,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let mut stuck = lock(&self.stuck);
                // It may have finished between the timeout and the lock.
                if let Ok(result) = receiver.try_recv() {
                    return result;
                }
                *stuck = true;
                drop(receiver);
                Err(timed_out())
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(entry_error(
                &self.account,
                "a keyring call",
                &KeyringError::PlatformFailure("the keyring thread panicked".into()),
            )),
        }
    }

    /// Reads the document: `None` when there is no entry.
    fn read_document(entry: &Entry) -> Result<Option<AuthDocument>, StoreError> {
        let Some(value) = entry.get()? else {
            return Ok(None);
        };
        match serde_json::from_str::<Value>(&value) {
            Ok(Value::Object(fields)) => Ok(Some(AuthDocument::new(fields))),
            Ok(_) => Err(entry.corrupt("the value is not a JSON object")),
            Err(_) => Err(entry.corrupt("the value is not JSON")),
        }
    }
}

impl KeyringStore {
    /// Read-modify-write of the entry's document; `change` says whether to write.
    fn update(
        &self,
        change: impl FnOnce(&mut AuthDocument) -> bool + Send + 'static,
    ) -> Result<bool, StoreError> {
        self.call(move |entry| {
            let mut document = Self::read_document(entry)?.unwrap_or_default();
            if !change(&mut document) {
                return Ok(false);
            }
            entry.set(&document.to_text())?;
            Ok(true)
        })
    }
}

impl CredentialStore for KeyringStore {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        match self.load_credential()? {
            None => Ok(None),
            Some(StoredCredential::Jwt(token)) => Ok(Some(token)),
            Some(StoredCredential::Record(_)) => Err(StoreError::Unsupported {
                location: self.describe(),
                reason: "agent_identity is a record, which this caller cannot use as a token",
            }),
        }
    }

    fn load_credential(&self) -> Result<Option<StoredCredential>, StoreError> {
        let location = self.describe();
        self.call(move |entry| {
            let Some(document) = Self::read_document(entry)? else {
                return Ok(None);
            };
            document.identity().map_err(|problem| match problem {
                Problem::Corrupt(reason) => entry.corrupt(reason),
                Problem::Unsupported(reason) => StoreError::Unsupported { location, reason },
            })
        })
    }

    fn save_record_task(
        &self,
        runtime_id: &AgentRuntimeId,
        task_id: &TaskId,
    ) -> Result<bool, StoreError> {
        let (runtime_id, task_id) = (runtime_id.clone(), task_id.clone());
        self.update(move |document| document.save_record_task(&runtime_id, &task_id))
    }

    fn save_record(&self, record: &AgentRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.update(move |document| {
            document.save_record(&record);
            true
        })
        .map(|_| ())
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        let token = token.clone();
        self.call(move |entry| {
            // As the file store: a corrupt value is replaced (a login is explicit and its token
            // known good); one that cannot be read is not, and the caller is told.
            let mut document = match Self::read_document(entry) {
                Ok(document) => document.unwrap_or_default(),
                Err(StoreError::KeyringCorrupt { .. }) => AuthDocument::default(),
                Err(error) => return Err(error),
            };
            document.save(&token);
            entry.set(&document.to_text())
        })
    }

    fn clear(&self) -> Result<ClearOutcome, StoreError> {
        let outcome = self.call(|entry| {
            let document = match Self::read_document(entry) {
                Ok(Some(document)) => document,
                Ok(None) => return Ok(ClearOutcome::NothingStored),
                // Logging out of a value that cannot be read: nothing in it can be kept.
                Err(StoreError::KeyringCorrupt { .. }) => {
                    return entry.delete().map(|()| ClearOutcome::RemovedCorrupt);
                }
                Err(error) => return Err(error),
            };
            match document.clear() {
                Cleared::Corrupt => entry.delete().map(|()| ClearOutcome::RemovedCorrupt),
                Cleared::OtherLogin(mode) => Ok(ClearOutcome::KeptOtherLogin(mode)),
                Cleared::Empty { removed } => {
                    entry.delete()?;
                    Ok(ClearOutcome::of(removed))
                }
                Cleared::Rest { document, removed } => {
                    entry.set(&document.to_text())?;
                    Ok(ClearOutcome::of(removed))
                }
            }
        })?;
        // Logging out forgets the home's task too, as with the file store.
        RuntimeCache::in_home(&self.home).clear_tasks();
        Ok(outcome)
    }

    /// Reads the entry: a keyring that is locked, absent or hanging fails here, before a login
    /// registers a task. A corrupt value passes (a save replaces it).
    fn check_writable(&self) -> Result<(), StoreError> {
        self.call(|entry| match Self::read_document(entry) {
            Ok(_) | Err(StoreError::KeyringCorrupt { .. }) => Ok(()),
            Err(error) => Err(error),
        })
    }

    fn describe(&self) -> String {
        format!(
            "keyring (service \"{KEYRING_SERVICE}\", account \"{}\")",
            self.account
        )
    }

    fn runtime_cache(&self) -> Option<RuntimeCache> {
        Some(RuntimeCache::in_home(&self.home))
    }
}

/// The store's entry, on the calling thread of a time-boxed job.
struct Entry {
    builder: Arc<CredentialBuilder>,
    account: String,
}

impl Entry {
    fn credential(&self, operation: &'static str) -> Result<Box<Credential>, StoreError> {
        self.builder
            .build(None, KEYRING_SERVICE, &self.account)
            .map_err(|error| entry_error(&self.account, operation, &error))
    }

    /// The value, `None` when there is no entry.
    fn get(&self) -> Result<Option<String>, StoreError> {
        match self.credential("reading")?.get_password() {
            Ok(value) => Ok(Some(value)),
            Err(KeyringError::NoEntry) => Ok(None),
            Err(KeyringError::BadEncoding(_)) => Err(self.corrupt("the value is not UTF-8")),
            Err(error) => Err(entry_error(&self.account, "reading", &error)),
        }
    }

    fn set(&self, value: &str) -> Result<(), StoreError> {
        self.credential("writing")?
            .set_password(value)
            .map_err(|error| entry_error(&self.account, "writing", &error))
    }

    /// Deletes the entry; one already gone is not an error.
    fn delete(&self) -> Result<(), StoreError> {
        match self.credential("deleting")?.delete_credential() {
            Ok(()) | Err(KeyringError::NoEntry) => Ok(()),
            Err(error) => Err(entry_error(&self.account, "deleting", &error)),
        }
    }

    fn corrupt(&self, reason: &'static str) -> StoreError {
        StoreError::KeyringCorrupt {
            service: KEYRING_SERVICE.to_owned(),
            account: self.account.clone(),
            reason,
        }
    }
}

/// What went wrong with the OS keyring, in [`StoreError::Keyring`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringProblem {
    /// The keyring refused access, typically because it is locked. Transient: unlocking it
    /// helps.
    #[error("the keyring is locked or refused access ({0}); unlock it, or use the file store")]
    Locked(String),
    /// No keyring service answered: no Secret Service (gnome-keyring, KWallet) on the session
    /// D-Bus, or no session bus at all. Transient: it may be starting.
    #[error(
        "no keyring service answered ({0}); start a Secret Service (such as gnome-keyring) on \
         the session D-Bus, or use the file store"
    )]
    Unavailable(String),
    /// This platform has no OS keyring this build can use. Permanent.
    #[error("this platform has no OS keyring this build supports; use the file store")]
    Unsupported,
    /// Several keyring items match the entry, so which one holds the credentials is unknown.
    /// Permanent: a person must remove the extra ones.
    #[error("several keyring items match the entry; remove the extra ones")]
    Ambiguous,
    /// The keyring rejected the entry or its value (a name or value too long, an attribute it
    /// calls invalid). Permanent.
    #[error("the keyring rejected the entry ({0})")]
    Rejected(String),
}

impl KeyringProblem {
    /// Whether retrying later may help: a locked or absent keyring service.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Locked(_) | Self::Unavailable(_))
    }

    /// A stable snake_case name, for logs and machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Locked(_) => "keyring_locked",
            Self::Unavailable(_) => "keyring_unavailable",
            Self::Unsupported => "keyring_unsupported",
            Self::Ambiguous => "keyring_ambiguous",
            Self::Rejected(_) => "keyring_rejected",
        }
    }
}

/// A keyring error as a [`StoreError::Keyring`]. The platform's message (a D-Bus or OS error) is
/// kept; keyring's errors never carry the secret, except `BadEncoding`, whose bytes are dropped.
fn entry_error(account: &str, operation: &'static str, error: &KeyringError) -> StoreError {
    let problem = match error {
        KeyringError::NoStorageAccess(cause) => KeyringProblem::Locked(cause.to_string()),
        KeyringError::PlatformFailure(cause) if is_unsupported(cause.as_ref()) => {
            KeyringProblem::Unsupported
        }
        KeyringError::PlatformFailure(cause) => KeyringProblem::Unavailable(cause.to_string()),
        KeyringError::Ambiguous(_) => KeyringProblem::Ambiguous,
        KeyringError::TooLong(name, limit) => {
            KeyringProblem::Rejected(format!("{name} is longer than {limit}"))
        }
        KeyringError::Invalid(name, reason) => {
            KeyringProblem::Rejected(format!("{name} is invalid: {reason}"))
        }
        KeyringError::BadEncoding(_) => KeyringProblem::Rejected("the value is not UTF-8".into()),
        KeyringError::NoEntry => KeyringProblem::Rejected("no entry".into()),
        _ => KeyringProblem::Rejected("an unknown keyring error".into()),
    };
    StoreError::Keyring {
        service: KEYRING_SERVICE.to_owned(),
        account: account.to_owned(),
        operation,
        problem,
    }
}

/// The error [`OsCredentialBuilder`] gives on a platform without a supported keyring.
#[derive(Debug)]
struct UnsupportedPlatform;

impl fmt::Display for UnsupportedPlatform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no supported OS keyring on this platform")
    }
}

impl std::error::Error for UnsupportedPlatform {}

fn is_unsupported(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    error.is::<UnsupportedPlatform>()
}

/// The platform's keyring, chosen explicitly: keyring's own default falls back to an in-memory
/// mock on platforms without a backend, which would be a silent, forgetful store.
#[derive(Debug)]
struct OsCredentialBuilder;

impl keyring::credential::CredentialBuilderApi for OsCredentialBuilder {
    fn build(
        &self,
        target: Option<&str>,
        service: &str,
        user: &str,
    ) -> keyring::Result<Box<Credential>> {
        os_credential(target, service, user)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(target_os = "linux")]
fn os_credential(
    target: Option<&str>,
    service: &str,
    user: &str,
) -> keyring::Result<Box<Credential>> {
    Ok(Box::new(linux::SecretServiceWithCache {
        secret_service: keyring::secret_service::SsCredential::new_with_target(
            target, service, user,
        )?,
        keyutils: keyring::keyutils::KeyutilsCredential::new_with_target(target, service, user)
            .ok(),
    }))
}

#[cfg(any(target_os = "macos", target_os = "windows"))]
fn os_credential(
    target: Option<&str>,
    service: &str,
    user: &str,
) -> keyring::Result<Box<Credential>> {
    keyring::default::default_credential_builder().build(target, service, user)
}

#[cfg(not(any(target_os = "linux", target_os = "macos", target_os = "windows")))]
fn os_credential(
    _target: Option<&str>,
    _service: &str,
    _user: &str,
) -> keyring::Result<Box<Credential>> {
    Err(KeyringError::PlatformFailure(Box::new(UnsupportedPlatform)))
}

#[cfg(target_os = "linux")]
mod linux {
    use keyring::credential::CredentialApi;
    use keyring::keyutils::KeyutilsCredential;
    use keyring::secret_service::SsCredential;

    /// The Secret Service item, authoritative, and Codex's cached copy of it in keyutils, kept
    /// from going stale: updated by a write when it exists, removed by a delete. Unlike
    /// keyring's own `keyutils_persistent`, reads never come from the cache, and a keyutils
    /// failure (keyctl refused in a container, say) never fails the call.
    #[derive(Debug)]
    pub(super) struct SecretServiceWithCache {
        pub(super) secret_service: SsCredential,
        pub(super) keyutils: Option<KeyutilsCredential>,
    }

    impl CredentialApi for SecretServiceWithCache {
        fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
            self.secret_service.set_secret(secret)?;
            if let Some(cache) = &self.keyutils
                && cache.get_secret().is_ok()
                && cache.set_secret(secret).is_err()
            {
                // A copy that cannot be updated must not outlive the item it copies.
                let _ = cache.delete_credential();
            }
            Ok(())
        }

        fn get_secret(&self) -> keyring::Result<Vec<u8>> {
            self.secret_service.get_secret()
        }

        fn delete_credential(&self) -> keyring::Result<()> {
            if let Some(cache) = &self.keyutils {
                let _ = cache.delete_credential();
            }
            self.secret_service.delete_credential()
        }

        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }
}

#[cfg(test)]
mod tests;
