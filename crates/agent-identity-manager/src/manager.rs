//! `AuthManager`: eager loading, lock-free snapshots, single-flight reloads and recovery.

use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use agent_identity_flight::{Aborted, Cooldown, SingleFlight};
use agent_identity_jwt::{
    AgentIdentityRecord, IdentityJwt, JwtError, Verifier, insecure_decode_unverified,
};
use agent_identity_task::{TaskClient, TaskId};
use arc_swap::ArcSwap;
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::Instrument as _;

use crate::auth::AgentIdentityAuth;
use crate::error::AuthError;
use crate::state::{AuthState, LogoutReason, ReloadOutcome};
use crate::status::Status;
use crate::store::{
    CacheSnapshot, CredentialStore, RegistrationLock, RuntimeCache, StoreError, TaskBinding,
};

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
/// let jwks = HttpJwksSource::new(PRODUCTION_JWKS_URL.parse().expect("valid URL"));
/// let verifier = Verifier::builder(jwks).build();
/// let tasks = TaskClient::new(AuthApiBaseUrl::resolve(None)?);
/// let store = Arc::new(FileStore::from_environment()?);
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
    notify: watch::Sender<Arc<AuthState>>,
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
    /// The store's runtime cache, if it has one.
    runtime_cache: Option<RuntimeCache>,
    task_reuse: TaskReuse,
    /// Since when, and why, a `Ready` identity is served from cache while reloads or recoveries
    /// fail transiently.
    degraded: Mutex<Option<Degraded>>,
    /// When the key set last written to (or read from) the runtime cache was fetched.
    key_set_cached: Mutex<Option<std::time::SystemTime>>,
    /// The runtime cache as the constructor read it, for the first task lookup of the first
    /// load: one read of the cache at start, not one for the key set and one for the task.
    startup_cache: Mutex<Option<CacheSnapshot>>,
    /// Why the last reload (or recovery) logged out; cleared when an identity is loaded again.
    logout_reason: Mutex<Option<LogoutReason>>,
}

impl AuthManager {
    /// Loads the stored identity eagerly: reads the store, verifies the token, registers the task.
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
        let manager = Self::logged_out_with_task_reuse(verifier, tasks, store, task_reuse);
        manager.read_startup_cache();
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
    /// [`AuthManager::login`] (or [`AuthManager::reload`]) next.
    pub fn logged_out(
        verifier: Verifier,
        tasks: TaskClient,
        store: Arc<dyn CredentialStore>,
    ) -> Self {
        Self::logged_out_with_task_reuse(verifier, tasks, store, TaskReuse::default())
    }

    /// As [`AuthManager::logged_out`], choosing whether processes of the same home share one
    /// task.
    pub fn logged_out_with_task_reuse(
        verifier: Verifier,
        tasks: TaskClient,
        store: Arc<dyn CredentialStore>,
        task_reuse: TaskReuse,
    ) -> Self {
        let initial = Arc::new(AuthState::LoggedOut);
        let runtime_cache = store.runtime_cache();
        Self {
            inner: Arc::new(Inner {
                verifier,
                tasks,
                store,
                state: ArcSwap::new(Arc::clone(&initial)),
                notify: watch::Sender::new(initial),
                publish: Mutex::new(()),
                ops: tokio::sync::Mutex::new(()),
                reload_flight: SingleFlight::new(),
                recover_flight: SingleFlight::new(),
                reload_failures: Cooldown::new(
                    RELOAD_FAILURE_COOLDOWN,
                    MAX_RELOAD_FAILURE_COOLDOWN,
                ),
                last_recovery: Mutex::new(None),
                runtime_cache,
                task_reuse,
                key_set_cached: Mutex::new(None),
                startup_cache: Mutex::new(None),
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
    pub fn subscribe(&self) -> watch::Receiver<Arc<AuthState>> {
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

    /// Re-reads the store and brings the state in line with it.
    ///
    /// Only a permanent verdict logs out: the store was emptied; the token is invalid, expired or
    /// untrusted; registration answered 401/403. A transient failure keeps the cached identity and
    /// its task id ([`ReloadOutcome::KeptCached`]), as does an unreadable or corrupt store. An
    /// unchanged stored token registers no new task. Concurrent calls share one flight, which
    /// runs to its end even if every caller stops waiting; one that panics or is cancelled by
    /// its runtime's shutdown reports [`AuthError::Interrupted`] and costs only itself.
    pub async fn reload(&self) -> ReloadOutcome {
        let flight = self
            .inner
            .reload_flight
            .join_or_start(|| reload_flight(Arc::downgrade(&self.inner)));
        flight
            .await
            .unwrap_or_else(|aborted| ReloadOutcome::KeptCached {
                error: interrupted("reload", aborted),
            })
    }

    /// Verifies `token`, registers a task for it, and only then stores it and publishes `Ready`.
    /// A failed login leaves the stored credentials and the state exactly as they were.
    ///
    /// # Errors
    /// [`AuthError::Token`] when the token does not verify, [`AuthError::Task`] when registration
    /// fails, [`AuthError::Store`] when it cannot be stored (or the store is read-only).
    pub async fn login(&self, token: IdentityJwt) -> Result<AgentIdentityAuth, AuthError> {
        let _ops = self.inner.ops.lock().await;
        let span = tracing::info_span!("agent_identity.login", outcome = tracing::field::Empty);
        let result = async {
            // A store that cannot take the token is found before a task is registered for it.
            store_call(&self.inner.store, |store| store.check_writable()).await?;
            let auth = self.verify_and_register(&token).await?;
            store_call(&self.inner.store, move |store| store.save(&token)).await?;
            self.publish(AuthState::Ready(auth.clone()));
            Ok(auth)
        }
        .instrument(span.clone())
        .await;
        span.record(
            "outcome",
            result.as_ref().map_or_else(AuthError::kind, |_| "ready"),
        );
        result
    }

    /// Removes the stored agent identity (leaving anything else in a shared `auth.json`) and
    /// publishes `LoggedOut`.
    ///
    /// # Errors
    /// [`AuthError::Store`] when the credentials cannot be deleted; the state is then unchanged.
    pub async fn logout(&self) -> Result<(), AuthError> {
        let _ops = self.inner.ops.lock().await;
        store_call(&self.inner.store, |store| store.clear()).await?;
        *lock(&self.inner.logout_reason) = None;
        self.publish(AuthState::LoggedOut);
        tracing::info!("agent identity logged out");
        Ok(())
    }

    /// After a resource server answered 401: registers a new task for the current identity, once
    /// for all concurrent callers, and publishes it.
    ///
    /// Within [`RECOVERY_COOLDOWN`] of the last recovery no new task is registered: the caller
    /// gets the current auth (after a recovery that succeeded) or that recovery's error.
    ///
    /// # Errors
    /// [`AuthError::NotLoggedIn`] or [`AuthError::Expired`] when there is no identity to recover;
    /// the registration error otherwise. A transient failure keeps the current auth; a 401/403
    /// from the AuthAPI logs out.
    pub async fn recover_unauthorized(&self) -> Result<AgentIdentityAuth, AuthError> {
        let recent = lock(&self.inner.last_recovery)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < RECOVERY_COOLDOWN)
            .map(|(_, outcome)| outcome.clone());
        if let Some(outcome) = recent {
            tracing::debug!("a recovery ran moments ago; not registering another task yet");
            crate::metrics::recovery("cooled_down");
            return outcome.and_then(|()| self.auth());
        }
        let flight = self
            .inner
            .recover_flight
            .join_or_start(|| recover_flight(Arc::downgrade(&self.inner)));
        flight
            .await
            .unwrap_or_else(|aborted| Err(interrupted("recovery", aborted)))
    }

    /// Verifies `token` and gets a task for it: the home's cached one, or a registration, the
    /// two round trips overlapped. Once the token passes every local check, the task is sought
    /// while the key set is fetched and the signature checked. The signature's verdict comes
    /// first: for a token that fails it the task is dropped, and nothing is published, stored or
    /// cached.
    async fn verify_and_register(
        &self,
        token: &IdentityJwt,
    ) -> Result<AgentIdentityAuth, AuthError> {
        let verifier = &self.inner.verifier;
        let obtained = match verifier.check_locally(token) {
            Ok(pending) => {
                let ahead = pending.insecure_unverified_record().clone();
                // The signature check is polled first, so a key fetch it needs is started (as a
                // task of its own) before the task is sought; the yield lets that fetch send its
                // request before the registration's signing runs. The key set's round trip is the
                // shorter one: its answer is then verified while the AuthAPI is still working.
                let (verified, obtained) =
                    futures_util::future::join(verifier.check_signature(pending), async {
                        tokio::task::yield_now().await;
                        self.obtain_task(ahead).await
                    })
                    .await;
                verified?;
                obtained?
            }
            // The full verification gives the canonical verdict (it checks the signature before
            // the claims), so a forged token that is also expired is reported as forged.
            Err(_) => {
                let record = verify_and_check_key(verifier, token).await?;
                self.obtain_task(record).await?
            }
        };
        self.save_key_set().await;
        Ok(self.commit(obtained).await)
    }

    /// The runtime cache and this record's binding in it, when tasks are shared per home.
    fn task_cache(&self, record: &AgentIdentityRecord) -> Option<(RuntimeCache, TaskBinding)> {
        if self.inner.task_reuse == TaskReuse::PerProcess {
            return None;
        }
        let cache = self.inner.runtime_cache.clone()?;
        let binding = TaskBinding::new(
            record.runtime_id().as_str(),
            record.token().fingerprint(),
            self.inner.tasks.base_url().to_string(),
        );
        Some((cache, binding))
    }

    /// The task cached for `binding`, if it may be reused.
    async fn cached_task(&self, cache: &RuntimeCache, binding: &TaskBinding) -> Option<TaskId> {
        // The constructor's read, once; later lookups read the file again. Lock-free reads of a
        // few KiB run in place: a hop to the blocking pool costs more than the read.
        let startup = lock(&self.inner.startup_cache).take();
        let cached = match startup {
            Some(snapshot) => snapshot.task(binding),
            None => cache.task(binding),
        }?;
        if let TaskReuse::PerHome {
            max_age: Some(max_age),
        } = self.inner.task_reuse
        {
            let age = self
                .inner
                .verifier
                .clock()
                .now()
                .duration_since(cached.registered_at());
            // A registration time in the future is not trusted to be young.
            if age.map_or(true, |age| age > max_age) {
                return None;
            }
        }
        Some(cached.task_id().clone())
    }

    /// A task for `record`: the home's cached one, or (waiting first for another process of the
    /// home that is registering one) a new registration, to be cached by [`AuthManager::commit`].
    async fn obtain_task(&self, record: AgentIdentityRecord) -> Result<Obtained, AuthError> {
        let Some((cache, binding)) = self.task_cache(&record) else {
            return Ok(Obtained::registered(self.register(record).await?));
        };
        if let Some(task_id) = self.cached_task(&cache, &binding).await {
            tracing::debug!(task_id = %task_id, "reusing the home's task");
            crate::metrics::task("cache");
            return Ok(Obtained::registered(AgentIdentityAuth::from_parts(
                record, task_id,
            )));
        }
        let lock = cache.lock_registration(REGISTRATION_LOCK_WAIT).await;
        if lock.is_some()
            && let Some(task_id) = self.cached_task(&cache, &binding).await
        {
            tracing::debug!(task_id = %task_id, "reusing the task another process registered");
            crate::metrics::task("cache");
            return Ok(Obtained::registered(AgentIdentityAuth::from_parts(
                record, task_id,
            )));
        }
        let auth = self.register(record).await?;
        Ok(Obtained {
            auth,
            to_cache: Some((cache, binding, lock)),
        })
    }

    /// Caches a newly registered task for the home (then lets the next process in), and returns
    /// the auth.
    async fn commit(&self, obtained: Obtained) -> AgentIdentityAuth {
        let Obtained { auth, to_cache } = obtained;
        if let Some((cache, binding, lock)) = to_cache {
            let task_id = auth.task_id().clone();
            let now = self.inner.verifier.clock().now();
            blocking(move || {
                cache.put_task(&binding, &task_id, now);
                drop(lock);
            })
            .await;
        }
        auth
    }

    /// Reads the runtime cache once: seeds the verifier's empty key cache with its key set, and
    /// keeps the rest for the first load's task lookup.
    fn read_startup_cache(&self) {
        let Some(cache) = &self.inner.runtime_cache else {
            return;
        };
        // In place, as in `cached_task`.
        let snapshot = cache.snapshot();
        if let Some(url) = self.inner.verifier.key_set_url()
            && let Some(key_set) = snapshot.key_set(url.as_str())
            && self.inner.verifier.seed_key_set(&key_set)
        {
            *lock(&self.inner.key_set_cached) = Some(key_set.fetched_at());
        }
        *lock(&self.inner.startup_cache) = Some(snapshot);
    }

    /// Writes the verifier's key set to the runtime cache, if it was fetched since the one there.
    async fn save_key_set(&self) {
        let (Some(cache), Some(url), Some(snapshot)) = (
            self.inner.runtime_cache.clone(),
            self.inner.verifier.key_set_url(),
            self.inner.verifier.key_set_snapshot(),
        ) else {
            return;
        };
        {
            let mut cached = lock(&self.inner.key_set_cached);
            if *cached == Some(snapshot.fetched_at()) {
                return;
            }
            *cached = Some(snapshot.fetched_at());
        }
        let url = url.to_string();
        blocking(move || cache.put_key_set(&url, &snapshot)).await;
    }

    /// [`AuthManager::register`] for a recovery, counted as one.
    async fn register_recovery(
        &self,
        record: AgentIdentityRecord,
    ) -> Result<AgentIdentityAuth, AuthError> {
        let result = self.register(record).await;
        crate::metrics::recovery(if result.is_ok() {
            "registered"
        } else {
            "failed"
        });
        result
    }

    async fn register(&self, record: AgentIdentityRecord) -> Result<AgentIdentityAuth, AuthError> {
        let span = tracing::info_span!(
            "agent_identity.register",
            runtime_id = %record.runtime_id(),
            outcome = tracing::field::Empty,
        );
        let result = AgentIdentityAuth::load(record, &self.inner.tasks)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(auth) => {
                crate::metrics::task("registration");
                span.record("outcome", tracing::field::display(auth.task_id()))
            }
            Err(error) => span.record("outcome", error.kind()),
        };
        result
    }

    /// Reloads whenever one of the store's files changes ([`CredentialStore::watched_paths`]:
    /// `auth.json`, or a rotated token file, Kubernetes' `..data` symlink swap included), with
    /// the usual reload semantics (a transient failure, or a file caught half-written, keeps the
    /// identity). The files are looked at every `every`; a change is acted on once it has held
    /// still for one more look, so a writer's burst costs one reload. Dropping the returned
    /// handle stops the watch; so does dropping the last manager.
    pub fn watch_credentials(&self, every: Duration) -> CredentialWatch {
        let weak = Arc::downgrade(&self.inner);
        let paths = self.inner.store.watched_paths();
        // Taken now, not in the task: a change right after this call must count as one.
        let mut seen = states_of(&paths);
        let task = tokio::spawn(async move {
            let mut pending = None;
            loop {
                tokio::time::sleep(every).await;
                let now = file_states(paths.clone()).await;
                if now == seen {
                    pending = None;
                    continue;
                }
                if pending.as_ref() != Some(&now) {
                    // Changed since the last look: wait for it to hold still.
                    pending = Some(now);
                    continue;
                }
                let Some(inner) = weak.upgrade() else { return };
                let manager = AuthManager { inner };
                tracing::info!("the credentials changed; reloading");
                let outcome = manager.reload().await;
                tracing::info!(
                    outcome = outcome_name(&outcome),
                    "reloaded after the credentials changed"
                );
                seen = now;
                pending = None;
            }
        });
        CredentialWatch { task }
    }

    /// While a `Ready` identity is served from cache because reloads or recoveries fail
    /// transiently: since when, and the latest failure. `None` otherwise.
    pub fn degraded(&self) -> Option<Degraded> {
        lock(&self.inner.degraded).clone()
    }

    /// Notes that `error` kept the cached identity serving (only while one is `Ready`).
    fn degrade(&self, error: &AuthError) {
        if !matches!(*self.inner.state.load_full(), AuthState::Ready(_)) {
            return;
        }
        let now = self.inner.verifier.clock().now();
        let mut degraded = lock(&self.inner.degraded);
        let since = degraded.as_ref().map_or(now, |degraded| degraded.since);
        tracing::warn!(error = %error, "serving the cached agent identity while the failure lasts");
        *degraded = Some(Degraded {
            since,
            error: error.clone(),
        });
    }

    /// Why the manager is logged out (or expired), when a reload or a recovery decided it: the
    /// store was emptied, or the identity was revoked (and with what error). `None` once an
    /// identity is loaded, after an explicit [`AuthManager::logout`], or before any verdict.
    pub fn logout_reason(&self) -> Option<LogoutReason> {
        lock(&self.inner.logout_reason).clone()
    }

    /// Publishes `state` as the verdict `reason`, and returns the matching reload outcome.
    fn log_out(&self, state: AuthState, reason: LogoutReason) -> ReloadOutcome {
        *lock(&self.inner.logout_reason) = Some(reason.clone());
        self.publish(state);
        ReloadOutcome::LoggedOut { reason }
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

    /// Publishes `Expired` when the identity's time is up, so subscribers hear of it even if
    /// nobody asks for auth. `auth()` checks the clock as well, so a late timer never serves an
    /// expired identity.
    fn watch_expiry(&self, auth: &AgentIdentityAuth) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        let auth = auth.clone();
        // Ends as soon as another state is published or the manager is dropped (its sender with
        // it), not at its next wake: a process that reloads often keeps one watchdog, not one
        // per reload for up to an hour each.
        let mut published = self.inner.notify.subscribe();
        runtime.spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let manager = AuthManager { inner };
                let still_current = manager
                    .inner
                    .state
                    .load()
                    .auth()
                    .is_some_and(|now| now.same_as(&auth));
                if !still_current {
                    return;
                }
                let Some(deadline) = auth
                    .record()
                    .expires_at()
                    .checked_add(manager.inner.verifier.leeway())
                else {
                    return;
                };
                let now = manager.inner.verifier.clock().now();
                match deadline.duration_since(now) {
                    Ok(remaining) if !remaining.is_zero() => {
                        drop(manager);
                        // Wake at least hourly, so a clock that jumps (suspend) is noticed.
                        let wake = std::pin::pin!(tokio::time::sleep(
                            remaining.min(Duration::from_secs(3600))
                        ));
                        let changed = std::pin::pin!(published.changed());
                        if let futures_util::future::Either::Right((Err(_), _)) =
                            futures_util::future::select(wake, changed).await
                        {
                            return;
                        }
                    }
                    _ => {
                        let _ = manager.auth();
                        return;
                    }
                }
            }
        });
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

async fn reload_flight(weak: Weak<Inner>) -> ReloadOutcome {
    let Some(inner) = weak.upgrade() else {
        return ReloadOutcome::Unchanged;
    };
    let manager = AuthManager { inner };
    let span = tracing::info_span!("agent_identity.reload", outcome = tracing::field::Empty);
    let outcome = async {
        let _ops = manager.inner.ops.lock().await;
        reload_locked(&manager).await
    }
    .instrument(span.clone())
    .await;
    span.record("outcome", outcome_name(&outcome));
    crate::metrics::reload(outcome_name(&outcome));
    // An event, not only the span's field, so `-v` shows every reload's outcome.
    tracing::info!(outcome = outcome_name(&outcome), "reload finished");
    match &outcome {
        ReloadOutcome::KeptCached { error } => {
            manager.inner.reload_failures.failed((), Instant::now());
            manager.degrade(error);
        }
        _ => {
            manager.inner.reload_failures.succeeded();
            *lock(&manager.inner.degraded) = None;
        }
    }
    outcome
}

async fn reload_locked(manager: &AuthManager) -> ReloadOutcome {
    let inner = &manager.inner;
    let current = manager.state();
    let stored = match load_stored(&inner.store).await {
        Ok(stored) => stored,
        Err(error) => {
            tracing::warn!(error = %error, "reading the credential store failed; keeping the current state");
            return ReloadOutcome::KeptCached {
                error: AuthError::Store(error),
            };
        }
    };
    let Some(token) = stored else {
        if matches!(*current, AuthState::LoggedOut) {
            return ReloadOutcome::Unchanged;
        }
        return manager.log_out(AuthState::LoggedOut, LogoutReason::StoreEmptied);
    };
    let unchanged = current
        .identity()
        .is_some_and(|identity| identity.token() == &token);
    if unchanged {
        match &*current {
            AuthState::Ready(_) => return ReloadOutcome::Unchanged,
            AuthState::Expired { .. } => return ReloadOutcome::Unchanged,
            // Same token, but it never got set up: try again.
            _ => {}
        }
    }
    match manager.verify_and_register(&token).await {
        Ok(auth) => {
            manager.publish(AuthState::Ready(auth));
            ReloadOutcome::Updated
        }
        Err(error) => setup_failed(manager, &current, &token, error),
    }
}

/// Verifies the token, then checks that its key can sign. The verifier only parses the key (a
/// claims-only reader should not pay for deriving it); a PKCS#8 v2 key whose embedded public key
/// does not match its seed is caught here, as an invalid token, before registration would fail on
/// it in a way that looks like a server problem.
async fn verify_and_check_key(
    verifier: &Verifier,
    token: &IdentityJwt,
) -> Result<AgentIdentityRecord, AuthError> {
    let record = verifier.verify(token).await?;
    record
        .key()
        .check()
        .map_err(|error| AuthError::Token(JwtError::InvalidPrivateKey(error)))?;
    Ok(record)
}

/// Applies the one rule of this crate: a permanent verdict logs out, anything else keeps what
/// is cached.
fn setup_failed(
    manager: &AuthManager,
    current: &AuthState,
    token: &IdentityJwt,
    error: AuthError,
) -> ReloadOutcome {
    if error.revokes_identity() {
        tracing::warn!(error = %error, "the stored agent identity was rejected; logging out");
        let expired = matches!(error, AuthError::Token(JwtError::Expired { .. }));
        let identity = insecure_decode_unverified(token).ok();
        let state = match (expired, identity) {
            (true, Some(identity)) => AuthState::Expired { identity },
            _ => AuthState::LoggedOut,
        };
        return manager.log_out(state, LogoutReason::Revoked(error));
    }
    tracing::warn!(error = %error, "setting up the agent identity failed; keeping the cached state");
    match current {
        // A loaded identity keeps serving, with its task id, until a permanent verdict.
        AuthState::Ready(_) => {}
        _ => match insecure_decode_unverified(token) {
            Ok(identity) => manager.publish(AuthState::Unavailable {
                identity,
                error: error.clone(),
            }),
            // Not even well-formed: nothing to show as unavailable.
            Err(shape) => {
                return manager.log_out(AuthState::LoggedOut, LogoutReason::Revoked(shape.into()));
            }
        },
    }
    ReloadOutcome::KeptCached { error }
}

async fn recover_flight(weak: Weak<Inner>) -> Result<AgentIdentityAuth, AuthError> {
    let Some(inner) = weak.upgrade() else {
        return Err(AuthError::NotLoggedIn);
    };
    let manager = AuthManager { inner };
    let result = async {
        let _ops = manager.inner.ops.lock().await;
        let current = manager.auth()?;
        match manager.recover(&current).await {
            Ok(obtained) => {
                let auth = manager.commit(obtained).await;
                manager.publish(AuthState::Ready(auth.clone()));
                *lock(&manager.inner.degraded) = None;
                Ok(auth)
            }
            Err(error) => {
                if error.revokes_identity() {
                    manager.log_out(AuthState::LoggedOut, LogoutReason::Revoked(error.clone()));
                } else {
                    manager.degrade(&error);
                }
                Err(error)
            }
        }
    }
    .instrument(tracing::info_span!("agent_identity.recover_unauthorized"))
    .await;
    let finished = result.as_ref().map(|_| ()).map_err(AuthError::clone);
    *lock(&manager.inner.last_recovery) = Some((Instant::now(), finished));
    result
}

impl AuthManager {
    /// A replacement for `current`'s task, which a resource server refused: the task another
    /// process of the home recovered to already (adopted without registering), or a new one.
    async fn recover(&self, current: &AgentIdentityAuth) -> Result<Obtained, AuthError> {
        let record = current.record().clone();
        let Some((cache, binding)) = self.task_cache(&record) else {
            return Ok(Obtained::registered(self.register_recovery(record).await?));
        };
        let adoptable = |task_id: Option<TaskId>| task_id.filter(|task| task != current.task_id());
        if let Some(task_id) = adoptable(self.cached_task(&cache, &binding).await) {
            tracing::info!(task_id = %task_id, "adopting the task another process recovered to");
            crate::metrics::recovery("adopted");
            return Ok(Obtained::registered(AgentIdentityAuth::from_parts(
                record, task_id,
            )));
        }
        let lock = cache.lock_registration(REGISTRATION_LOCK_WAIT).await;
        if lock.is_some()
            && let Some(task_id) = adoptable(self.cached_task(&cache, &binding).await)
        {
            tracing::info!(task_id = %task_id, "adopting the task another process recovered to");
            crate::metrics::recovery("adopted");
            return Ok(Obtained::registered(AgentIdentityAuth::from_parts(
                record, task_id,
            )));
        }
        let auth = self.register_recovery(record).await?;
        Ok(Obtained {
            auth,
            to_cache: Some((cache, binding, lock)),
        })
    }
}

/// A running [`AuthManager::watch_credentials`]; dropping it stops the watch.
#[derive(Debug)]
pub struct CredentialWatch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CredentialWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What identifies a file's content without reading it: the followed file's device, inode, size
/// and modification time (`None` while it is missing).
type FileState = Option<(u64, u64, u64, Option<std::time::SystemTime>)>;

async fn file_states(paths: Vec<std::path::PathBuf>) -> Vec<FileState> {
    blocking(move || states_of(&paths))
        .await
        .unwrap_or_default()
}

fn states_of(paths: &[std::path::PathBuf]) -> Vec<FileState> {
    paths
        .iter()
        .map(|path| {
            let metadata = std::fs::metadata(path).ok()?;
            #[cfg(unix)]
            let (device, inode) = {
                use std::os::unix::fs::MetadataExt as _;
                (metadata.dev(), metadata.ino())
            };
            #[cfg(not(unix))]
            let (device, inode) = (0, 0);
            Some((device, inode, metadata.len(), metadata.modified().ok()))
        })
        .collect()
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

/// A task for an identity, and, when it was just registered for a home, where to cache it (with
/// the home's registration lock, held until it is cached).
struct Obtained {
    auth: AgentIdentityAuth,
    to_cache: Option<(RuntimeCache, TaskBinding, Option<RegistrationLock>)>,
}

impl Obtained {
    fn registered(auth: AgentIdentityAuth) -> Self {
        Self {
            auth,
            to_cache: None,
        }
    }
}

/// Runs blocking file I/O (the runtime cache) off the async threads; `None` if the runtime shut
/// down under it.
async fn blocking<T: Send + 'static>(call: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(call).await.ok()
}

/// The error waiters get when a flight panicked or was cancelled: transient, so the cached state
/// stays, and the next call runs afresh.
fn interrupted(operation: &'static str, aborted: Aborted) -> AuthError {
    tracing::error!(%aborted, operation, "the operation did not finish");
    AuthError::Interrupted {
        operation,
        panicked: aborted == Aborted::Panicked,
    }
}

fn outcome_name(outcome: &ReloadOutcome) -> &'static str {
    match outcome {
        ReloadOutcome::Unchanged => "unchanged",
        ReloadOutcome::Updated => "updated",
        ReloadOutcome::LoggedOut { .. } => "logged_out",
        ReloadOutcome::KeptCached { .. } => "kept_cached",
    }
}

/// Reads the store: in place when its reads never wait ([`CredentialStore::load_may_block`]),
/// else as [`store_call`].
async fn load_stored(store: &Arc<dyn CredentialStore>) -> Result<Option<IdentityJwt>, StoreError> {
    if store.load_may_block() {
        store_call(store, |store| store.load()).await
    } else {
        store.load()
    }
}

/// Runs a store call, off the async threads when the store may block (file I/O, or waiting on
/// another process's lock); a memory store is called in place.
async fn store_call<T: Send + 'static>(
    store: &Arc<dyn CredentialStore>,
    call: impl FnOnce(&dyn CredentialStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    if !store.may_block() {
        return call(&**store);
    }
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || call(&*store)).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(StoreError::Interrupted),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
