//! Reload, login, logout and recovery: the operations that read the store or the AuthAPI and
//! publish what they found, under the one rule of this crate: only a permanent verdict logs
//! out; a transient failure keeps the cached identity and its task.

use std::sync::{Arc, Weak};

use agent_identity_flight::lock;
use agent_identity_jwt::{
    AgentIdentityRecord, IdentityJwt, JwtError, Verifier, insecure_decode_unverified,
};
use tokio::time::Instant;
use tracing::Instrument as _;

use super::store_io::{load_stored, store_call};
use super::task::Need;
use super::{AuthManager, Degraded, Inner, RECOVERY_COOLDOWN, interrupted, outcome_name};
use crate::auth::AgentIdentityAuth;
use crate::credential::{AgentRecord, Credential};
use crate::error::AuthError;
use crate::state::{AuthState, LogoutReason, ReloadOutcome};

impl AuthManager {
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

    /// Notes that `error` kept the cached identity serving (only while one is `Ready`).
    pub(super) fn degrade(&self, error: &AuthError) {
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

    /// Publishes `state` as the verdict `reason`, and returns the matching reload outcome.
    pub(super) fn log_out(&self, state: AuthState, reason: LogoutReason) -> ReloadOutcome {
        *lock(&self.inner.logout_reason) = Some(reason.clone());
        self.publish(state);
        ReloadOutcome::LoggedOut { reason }
    }
}

pub(super) async fn reload_flight(weak: Weak<Inner>) -> ReloadOutcome {
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

pub(super) async fn reload_locked(manager: &AuthManager) -> ReloadOutcome {
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
    let token = match stored {
        None => {
            if matches!(*current, AuthState::LoggedOut) {
                return ReloadOutcome::Unchanged;
            }
            return manager.log_out(AuthState::LoggedOut, LogoutReason::StoreEmptied);
        }
        Some(Credential::Record(record)) => return reload_record(manager, &current, record).await,
        Some(Credential::Jwt(token)) => token,
    };
    // The constructor's first load, on a token: the runtime cache seeds the key set and holds the
    // task (read once, in place).
    if inner
        .startup_unread
        .swap(false, std::sync::atomic::Ordering::Relaxed)
    {
        manager.read_startup_cache();
    }
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

/// A reload that found Codex's record form: trusted as stored (no key set fetch, the key was
/// checked when it was read); its `task_id` is the task, so a record that has one makes no
/// request. The same rule as for a token: only a permanent verdict logs out.
async fn reload_record(
    manager: &AuthManager,
    current: &AuthState,
    record: AgentRecord,
) -> ReloadOutcome {
    if let AuthState::Ready(auth) = current
        && record.same_as(auth.record(), auth.task_id())
    {
        return ReloadOutcome::Unchanged;
    }
    let identity = record.identity().clone();
    match manager.record_auth(record).await {
        Ok(auth) => {
            manager.publish(AuthState::Ready(auth));
            ReloadOutcome::Updated
        }
        Err(error) if error.revokes_identity() => {
            tracing::warn!(error = %error, "the stored agent record was refused; logging out");
            manager.log_out(AuthState::LoggedOut, LogoutReason::Revoked(error))
        }
        Err(error) => {
            tracing::warn!(error = %error, "setting up the agent record failed; keeping the cached state");
            if !matches!(current, AuthState::Ready(_)) {
                manager.publish(AuthState::Unavailable {
                    identity,
                    error: error.clone(),
                });
            }
            ReloadOutcome::KeptCached { error }
        }
    }
}

impl AuthManager {
    /// The auth of a stored record: its own task, or (without one) a task registered now and
    /// written back into the record, as Codex does, so that both tools reuse it.
    pub(super) async fn record_auth(
        &self,
        record: AgentRecord,
    ) -> Result<AgentIdentityAuth, AuthError> {
        if let Some(task_id) = record.task_id() {
            return Ok(AgentIdentityAuth::from_parts(
                record.identity().clone(),
                task_id.clone(),
            ));
        }
        let auth = self.register(record.identity().clone()).await?;
        self.write_back_task(&auth).await;
        Ok(auth)
    }

    /// Writes a newly registered task into the stored record. A failure is logged, not fatal:
    /// the task works, and the next start registers another.
    pub(super) async fn write_back_task(&self, auth: &AgentIdentityAuth) {
        let runtime_id = auth.record().runtime_id().clone();
        let task_id = auth.task_id().clone();
        match store_call(&self.inner.store, move |store| {
            store.save_record_task(&runtime_id, &task_id)
        })
        .await
        {
            Ok(true) => tracing::debug!("wrote the task into the stored agent record"),
            Ok(false) => tracing::debug!("the store no longer holds this agent record"),
            Err(error) => {
                tracing::warn!(error = %error, "writing the task into the stored agent record failed");
            }
        }
    }
}

/// Verifies the token, then checks that its key can sign. The verifier only parses the key (a
/// claims-only reader should not pay for deriving it); a PKCS#8 v2 key whose embedded public key
/// does not match its seed is caught here, as an invalid token, before registration would fail on
/// it in a way that looks like a server problem.
pub(super) async fn verify_and_check_key(
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
pub(super) fn setup_failed(
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

pub(super) async fn recover_flight(weak: Weak<Inner>) -> Result<AgentIdentityAuth, AuthError> {
    let Some(inner) = weak.upgrade() else {
        return Err(AuthError::NotLoggedIn);
    };
    let manager = AuthManager { inner };
    let result = async {
        let _ops = manager.inner.ops.lock().await;
        let current = manager.auth()?;
        let record = current.record().clone();
        let need = Need::Replacement {
            refused: current.task_id(),
        };
        // A stored record keeps its task in the record, not in the runtime cache.
        let obtained = if record.is_stored() {
            let result = manager.register_for(record, need).await;
            if let Ok(auth) = &result {
                manager.write_back_task(auth).await;
            }
            result
        } else {
            match manager.obtain_task(record, need).await {
                Ok(obtained) => Ok(manager.commit(obtained).await),
                Err(error) => Err(error),
            }
        };
        match obtained {
            Ok(auth) => {
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
