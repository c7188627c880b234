//! `AuthManager`: the type, its constructors and its read API (lock-free snapshots). The rest
//! lives beside it: `reload` (reload, login, logout and recovery, under the one rule), `task`
//! (verifying a token, then obtaining and committing its task), `watch` (watching the
//! credentials and the expiry) and `store_io` (calling the store off the async threads).

mod reload;
mod store_io;
mod task;
mod watch;

pub use watch::CredentialWatch;

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use agent_identity_flight::{Aborted, Cooldown, SingleFlight, lock};
use agent_identity_jwt::Verifier;
use agent_identity_task::TaskClient;
use arc_swap::ArcSwap;
use tokio::sync::watch as channel;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::auth::AgentIdentityAuth;
use crate::error::AuthError;
use crate::state::{AuthState, LogoutReason, ReloadOutcome};
use crate::status::Status;
use crate::store::{CacheSnapshot, CredentialStore, RuntimeCache};
use reload::reload_flight;

/// 1 s: after a reload that failed and kept the cached state, [`AuthManager::auth_or_reload`]
/// starts no new reload for this long; the cooldown doubles with each failure in a row, up to
/// [`MAX_RELOAD_FAILURE_COOLDOWN`], and ends with the next reload that gets through.
pub const RELOAD_FAILURE_COOLDOWN: Duration = Duration::from_secs(1);

/// 30 s: the longest cooldown after reloads that failed in a row (the key cache's refetch
/// interval).
pub const MAX_RELOAD_FAILURE_COOLDOWN: Duration = Duration::from_secs(30);

/// 30 s: how long a process that needs a task waits for another process of the same home that is
/// registering one, before it registers its own rather than hang.
pub const REGISTRATION_LOCK_WAIT: Duration = Duration::from_secs(30);

/// Whether processes sharing a home share one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TaskReuse {
    /// One task per home (the default), when the store has a runtime cache
    /// ([`CredentialStore::runtime_cache`]): loading reuses the task cached for the same token,
    /// runtime and AuthAPI, and of the processes that start at once on a home without one, one
    /// registers while the others wait for its task. `max_age`: a cached task older than this is
    /// not reused.
    PerHome {
        /// The oldest cached task that is still reused; `None` for any age.
        max_age: Option<Duration>,
    },
    /// A task of its own for every process (every manager): the cached tasks are neither read
    /// nor written. The cached key set is still used.
    PerProcess,
}

impl Default for TaskReuse {
    fn default() -> Self {
        Self::PerHome { max_age: None }
    }
}

/// 10 s: after a recovery, [`AuthManager::recover_unauthorized`] registers no new task for this
/// long, so a resource server that answers 401 to everything cannot turn a "401, recover,
/// retry" loop into a registration per request.
pub const RECOVERY_COOLDOWN: Duration = Duration::from_secs(10);

/// Owns the agent identity of this process: verifies it, registers its task eagerly, keeps it
/// in a lock-free snapshot, and reloads it without ever logging a valid identity out on a
/// transient failure.
///
/// Cheap to clone: clones share one state.
///
/// # Examples
/// ```no_run
/// # async fn run() -> Result<(), agent_identity_manager::AuthError> {
/// use std::sync::Arc;
/// use agent_identity_jwt::{HttpJwksSource, PRODUCTION_JWKS_URL, Verifier};
/// use agent_identity_manager::{AuthManager, FileStore};
/// use agent_identity_task::{AuthApiBaseUrl, TaskClient};
///
/// let jwks = HttpJwksSource::new(PRODUCTION_JWKS_URL.parse().expect("valid URL")).expect("https");
/// let verifier = Verifier::builder(jwks).build();
/// let tasks = TaskClient::new(AuthApiBaseUrl::resolve(None)?);
/// let store = Arc::new(FileStore::from_env()?);
/// let manager = AuthManager::new(verifier, tasks, store).await?;
/// let auth = manager.auth()?;
/// for (name, value) in auth.headers()?.iter() {
///     println!("{name}: {}", value.len());
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AuthManager {
    inner: Arc<Inner>,
}

struct Inner {
    verifier: Verifier,
    tasks: TaskClient,
    store: Arc<dyn CredentialStore>,
    /// What readers see. Replaced whole, never mutated in place.
    state: ArcSwap<AuthState>,
    /// The same snapshots, for subscribers. Updated together with `state` under `publish`.
    notify: channel::Sender<Arc<AuthState>>,
    /// Orders "swap the snapshot, notify" pairs; never held across an await.
    publish: Mutex<()>,
    /// Serializes operations that read the store and then publish (reload, login, logout,
    /// recovery), so a slow one cannot overwrite a newer one's result.
    ops: tokio::sync::Mutex<()>,
    reload_flight: SingleFlight<ReloadOutcome>,
    recover_flight: SingleFlight<Result<AgentIdentityAuth, AuthError>>,
    /// Reloads that failed and kept the cached state; `auth_or_reload` waits this out.
    reload_failures: Cooldown<()>,
    /// When the last recovery finished, and how.
    last_recovery: Mutex<Option<(Instant, Result<(), AuthError>)>>,
    /// The store's runtime cache, if it has one: found on first use, since a start from a
    /// record never needs it.
    runtime_cache: OnceLock<Option<RuntimeCache>>,
    task_reuse: TaskReuse,
    /// Since when, and why, a `Ready` identity is served from cache while reloads or recoveries
    /// fail transiently.
    degraded: Mutex<Option<Degraded>>,
    /// When the key set last written to (or read from) the runtime cache was fetched.
    key_set_cached: Mutex<Option<std::time::SystemTime>>,
    /// The runtime cache as the first load read it, for its first task lookup: one read of the
    /// cache at start, not one for the key set and one for the task.
    startup_cache: Mutex<Option<CacheSnapshot>>,
    /// Set by the constructor until its first load finds a token: only a token needs the cache
    /// (its key set, its task), so a start from Codex's record form never reads it.
    startup_unread: AtomicBool,
    /// Why the last reload (or recovery) logged out; cleared when an identity is loaded again.
    logout_reason: Mutex<Option<LogoutReason>>,
}

impl AuthManager {
    /// Loads the stored identity eagerly: reads the store, verifies the token, registers the task.
    ///
    /// The constructor for parts built by hand; [`AuthManager::builder`] and
    /// [`AuthManager::from_env`] build them from settings.
    ///
    /// A transient failure (AuthAPI or key set unreachable) does not fail construction: the
    /// manager starts `Unavailable` and a later [`AuthManager::reload`] or
    /// [`AuthManager::auth_or_reload`] retries. An invalid token starts it `LoggedOut` (or
    /// `Expired`); the store is left as it is.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the store cannot be read, including a corrupt `auth.json`: that is
    /// reported, never taken for "logged out".
    pub async fn new(
        verifier: Verifier,
        tasks: TaskClient,
        store: Arc<dyn CredentialStore>,
    ) -> Result<Self, AuthError> {
        Self::with_task_reuse(verifier, tasks, store, TaskReuse::default()).await
    }

    /// As [`AuthManager::new`], choosing whether processes of the same home share one task.
    ///
    /// For a program that builds its verifier, task client and store itself, as `new` takes
    /// them; [`AuthManager::builder`] takes the same choice as
    /// [`AuthManagerBuilder::task_reuse`](crate::AuthManagerBuilder::task_reuse) and builds the
    /// parts from settings.
    ///
    /// With a runtime cache (a file store's home), the cached key set is used first: on a warm
    /// home, loading makes no network request at all.
    ///
    /// # Errors
    /// As [`AuthManager::new`].
    pub async fn with_task_reuse(
        verifier: Verifier,
        tasks: TaskClient,
        store: Arc<dyn CredentialStore>,
        task_reuse: TaskReuse,
    ) -> Result<Self, AuthError> {
        let manager = Self::without_credentials(verifier, tasks, store, task_reuse);
        manager
            .inner
            .startup_unread
            .store(true, std::sync::atomic::Ordering::Relaxed);
        let span = tracing::info_span!("agent_identity.load", outcome = tracing::field::Empty);
        // Nobody else holds this manager yet, so its first load needs no flight to share (and no
        // task to spawn for one); a panic in it is still an interrupted load, not the caller's.
        let outcome = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(
            reload_flight(Arc::downgrade(&manager.inner)),
        ))
        .instrument(span.clone())
        .await
        .unwrap_or_else(|_| ReloadOutcome::KeptCached {
            error: interrupted("reload", Aborted::Panicked),
        });
        // The read was for this load alone: a later one (a reload hours on, a login) reads the
        // cache afresh, even if this load never looked a task up.
        lock(&manager.inner.startup_cache).take();
        manager
            .inner
            .startup_unread
            .store(false, std::sync::atomic::Ordering::Relaxed);
        span.record("outcome", outcome_name(&outcome));
        match outcome {
            ReloadOutcome::KeptCached {
                error: AuthError::Store(error),
            } => Err(AuthError::Store(error)),
            _ => Ok(manager),
        }
    }

    /// A manager that starts `LoggedOut` without reading the store: for a login flow, which would
    /// otherwise verify and register the identity it is about to replace. Call
    /// [`AuthManager::login`] (or [`AuthManager::reload`]) next. `task_reuse` as for
    /// [`AuthManager::with_task_reuse`] (`TaskReuse::default()` shares the home's task).
    ///
    /// A constructor of its own, beside [`AuthManager::new`] and the builder, because it is the
    /// only way to hold a manager that has not loaded: both of those read the store and set the
    /// stored identity up before they return.
    pub fn without_credentials(
        verifier: Verifier,
        tasks: TaskClient,
        store: Arc<dyn CredentialStore>,
        task_reuse: TaskReuse,
    ) -> Self {
        let initial = Arc::new(AuthState::LoggedOut);
        Self {
            inner: Arc::new(Inner {
                verifier,
                tasks,
                store,
                state: ArcSwap::new(Arc::clone(&initial)),
                notify: channel::Sender::new(initial),
                publish: Mutex::new(()),
                ops: tokio::sync::Mutex::new(()),
                reload_flight: SingleFlight::new(),
                recover_flight: SingleFlight::new(),
                reload_failures: Cooldown::new(
                    RELOAD_FAILURE_COOLDOWN,
                    MAX_RELOAD_FAILURE_COOLDOWN,
                ),
                last_recovery: Mutex::new(None),
                runtime_cache: OnceLock::new(),
                task_reuse,
                key_set_cached: Mutex::new(None),
                startup_cache: Mutex::new(None),
                startup_unread: AtomicBool::new(false),
                degraded: Mutex::new(None),
                logout_reason: Mutex::new(None),
            }),
        }
    }

    /// The current auth, for signing a request. No lock, no I/O: one atomic load of the snapshot
    /// and one clock read, so an identity past `exp` plus leeway is never handed out.
    ///
    /// # Errors
    /// [`AuthError::NotLoggedIn`] when nothing is stored (or after [`AuthManager::logout`]);
    /// when a load, reload or recovery rejected the stored identity, that verdict itself (for
    /// example `AuthError::Token` saying the token's algorithm is not accepted, or a 401 from the
    /// AuthAPI); [`AuthError::Expired`]; or, when `Unavailable`, the transient error that kept
    /// the runtime from being set up.
    pub fn auth(&self) -> Result<AgentIdentityAuth, AuthError> {
        let state = self.inner.state.load();
        match &**state {
            AuthState::Ready(auth) => {
                // Clone first, then check the expiry copy that sits beside the reference count:
                // under contention the clone fetches that one cache line, and the check reads it
                // for free.
                let auth = auth.clone();
                let now = self.inner.verifier.clock().now();
                if auth.is_expired_at(now, self.inner.verifier.leeway()) {
                    let expired = Arc::clone(&*state);
                    drop(state);
                    self.expire(&expired);
                    return Err(AuthError::Expired);
                }
                Ok(auth)
            }
            // Off the hot path: a lock only when there is no identity to hand out.
            AuthState::LoggedOut => Err(self.rejection().unwrap_or(AuthError::NotLoggedIn)),
            AuthState::Unavailable { error, .. } => Err(error.clone()),
            AuthState::Expired { .. } => Err(AuthError::Expired),
        }
    }

    /// The current auth; when not `Ready`, joins (or starts) a reload first. This is the
    /// first-use path: concurrent callers share the reload in flight. After a reload that failed
    /// and kept the cached state, no new one starts until its cooldown is over
    /// ([`RELOAD_FAILURE_COOLDOWN`], doubling up to [`MAX_RELOAD_FAILURE_COOLDOWN`]): callers get
    /// the current state's error at once.
    ///
    /// # Errors
    /// As [`AuthManager::auth`], after the reload.
    pub async fn auth_or_reload(&self) -> Result<AgentIdentityAuth, AuthError> {
        if let Ok(auth) = self.auth() {
            return Ok(auth);
        }
        if self.inner.reload_failures.active(Instant::now()).is_none() {
            self.reload().await;
        }
        self.auth()
    }

    /// The current state snapshot, with the same expiry check as [`AuthManager::auth`].
    pub fn state(&self) -> Arc<AuthState> {
        // `auth` moves an expired `Ready` to `Expired` before we load the snapshot to return.
        let _ = self.auth();
        self.inner.state.load_full()
    }

    /// A receiver notified on every state change; it starts at the current state.
    pub fn subscribe(&self) -> channel::Receiver<Arc<AuthState>> {
        self.inner.notify.subscribe()
    }

    /// What the manager knows, without the network: the snapshot and a fresh read of the store.
    pub fn status(&self) -> Status {
        Status::from_manager(
            &self.state(),
            &*self.inner.store,
            self.rejection(),
            self.degraded(),
        )
    }

    /// The verdict that rejected the stored identity, while the manager is logged out (or
    /// expired) because of it.
    fn rejection(&self) -> Option<AuthError> {
        match lock(&self.inner.logout_reason).as_ref()? {
            LogoutReason::Revoked(error) => Some(error.clone()),
            LogoutReason::StoreEmptied => None,
        }
    }

    /// While a `Ready` identity is served from cache because reloads or recoveries fail
    /// transiently: since when, and the latest failure. `None` otherwise.
    pub fn degraded(&self) -> Option<Degraded> {
        lock(&self.inner.degraded).clone()
    }

    /// Why the manager is logged out (or expired), when a reload or a recovery decided it: the
    /// store was emptied, or the identity was revoked (and with what error). `None` once an
    /// identity is loaded, after an explicit [`AuthManager::logout`], or before any verdict.
    pub fn logout_reason(&self) -> Option<LogoutReason> {
        lock(&self.inner.logout_reason).clone()
    }

    fn publish(&self, state: AuthState) {
        if !matches!(state, AuthState::LoggedOut | AuthState::Expired { .. }) {
            *lock(&self.inner.logout_reason) = None;
        }
        let state = Arc::new(state);
        let _publish = lock(&self.inner.publish);
        self.inner.state.store(Arc::clone(&state));
        self.inner.notify.send_replace(Arc::clone(&state));
        drop(_publish);
        if let AuthState::Ready(auth) = &*state {
            self.watch_expiry(auth);
        }
    }

    /// Moves `expired` (a `Ready` snapshot) to `Expired`, unless something newer was published.
    fn expire(&self, expired: &Arc<AuthState>) {
        let Some(auth) = expired.auth() else { return };
        let next = Arc::new(AuthState::Expired {
            identity: auth.record().clone(),
        });
        let _publish = lock(&self.inner.publish);
        let previous = self
            .inner
            .state
            .compare_and_swap(expired, Arc::clone(&next));
        if Arc::ptr_eq(&previous, expired) {
            self.inner.notify.send_replace(next);
            tracing::info!(runtime_id = %auth.record().runtime_id(), "agent identity expired");
        }
    }
}

impl fmt::Debug for AuthManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthManager")
            .field("state", &self.inner.state.load().name())
            .field("store", &self.inner.store.describe())
            .finish_non_exhaustive()
    }
}

/// A `Ready` identity served from cache while setting it up again fails transiently.
#[derive(Debug, Clone)]
pub struct Degraded {
    since: std::time::SystemTime,
    error: AuthError,
}

impl Degraded {
    /// When the first of the failures in a row happened.
    pub fn since(&self) -> std::time::SystemTime {
        self.since
    }

    /// The latest failure.
    pub fn error(&self) -> &AuthError {
        &self.error
    }
}

impl fmt::Display for Degraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = self
            .since
            .duration_since(std::time::UNIX_EPOCH)
            .ok()
            .and_then(|since| i64::try_from(since.as_secs()).ok())
            .and_then(agent_identity_task::Timestamp::from_unix_seconds)
            .map_or_else(|| "an unknown time".to_owned(), |at| at.to_string());
        write!(
            f,
            "serving the cached identity since {since} because {}",
            self.error
        )
    }
}

/// The error waiters get when a flight panicked or was cancelled: transient, so the cached state
/// stays, and the next call runs afresh.
pub(super) fn interrupted(operation: &'static str, aborted: Aborted) -> AuthError {
    tracing::error!(%aborted, operation, "the operation did not finish");
    AuthError::Interrupted {
        operation,
        panicked: aborted == Aborted::Panicked,
    }
}

pub(super) fn outcome_name(outcome: &ReloadOutcome) -> &'static str {
    match outcome {
        ReloadOutcome::Unchanged => "unchanged",
        ReloadOutcome::Updated => "updated",
        ReloadOutcome::LoggedOut { .. } => "logged_out",
        ReloadOutcome::KeptCached { .. } => "kept_cached",
    }
}
