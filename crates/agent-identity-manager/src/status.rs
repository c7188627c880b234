//! Offline status: what is stored and what is loaded, read without any network call.

use agent_identity_jwt::{AgentIdentityRecord, Clock, insecure_decode_unverified};
use agent_identity_task::TaskId;

use crate::credential::{Credential, RecordKind};
use crate::error::AuthError;
use crate::state::AuthState;
use crate::store::{CredentialStore, StoreError};

/// A status report. Building one never touches the network and never registers a task.
#[derive(Debug, Clone)]
pub struct Status {
    state: StatusState,
    identity: Option<AgentIdentityRecord>,
    task_id: Option<TaskId>,
    task_registered_at: Option<std::time::SystemTime>,
    degraded: Option<crate::manager::Degraded>,
    store: String,
    record_kind: Option<RecordKind>,
    error: Option<AuthError>,
}

impl Status {
    /// Status from the store alone, for a process that has not loaded auth (a CLI's `status`).
    ///
    /// The stored token is decoded, not verified: `ready` here means "credentials are stored,
    /// well-formed and unexpired"; they were verified when they were written by a login. A
    /// corrupt credentials file is `corrupt`, and a store that cannot be read (or is refused as
    /// insecure) is `unavailable`: neither is "logged out", since credentials may be there. The
    /// task id is the one the home's runtime cache holds for the stored token, if any.
    pub fn read(
        store: &dyn CredentialStore,
        clock: &dyn Clock,
        leeway: std::time::Duration,
    ) -> Self {
        let now = clock.now();
        let describe = store.describe();
        let mut record_kind = None;
        let mut record_task = None;
        let (state, identity, error) = match store.load_credential() {
            Err(error) if error.is_corrupt() || matches!(error, StoreError::Unsupported { .. }) => {
                (StatusState::Corrupt, None, Some(AuthError::Store(error)))
            }
            Err(error) => (
                StatusState::Unavailable,
                None,
                Some(AuthError::Store(error)),
            ),
            Ok(None) => (StatusState::LoggedOut, None, None),
            // A record has no expiry, and its task is the one it holds.
            Ok(Some(Credential::Record(record))) => {
                record_kind = Some(record.kind());
                record_task = record.task_id().cloned();
                (StatusState::Ready, Some(record.identity().clone()), None)
            }
            Ok(Some(Credential::Jwt(token))) => match insecure_decode_unverified(&token) {
                Err(error) => (StatusState::LoggedOut, None, Some(AuthError::Token(error))),
                Ok(identity) if identity.is_expired_at(now, leeway) => {
                    (StatusState::Expired, Some(identity), None)
                }
                Ok(identity) => (StatusState::Ready, Some(identity), None),
            },
        };
        // The home's task, as the runtime cache holds it for this token: a file read, no network.
        let cached = match (&identity, store.runtime_cache()) {
            (Some(identity), Some(cache)) if !identity.is_stored() => cache.newest_task_for(
                identity.runtime_id().as_str(),
                &identity.token().fingerprint(),
            ),
            _ => None,
        };
        Self {
            state,
            identity,
            task_id: record_task.or_else(|| cached.as_ref().map(|task| task.task_id().clone())),
            task_registered_at: cached.map(|task| task.registered_at()),
            degraded: None,
            store: describe,
            record_kind,
            error,
        }
    }

    /// `rejection`: the verdict that logged the manager out, shown as the error of a logged-out
    /// (or expired) state, so that "logged out" never hides why; `degraded`: while a `Ready`
    /// identity serves through failures.
    pub(crate) fn from_manager(
        state: &AuthState,
        store: &dyn CredentialStore,
        rejection: Option<AuthError>,
        degraded: Option<crate::manager::Degraded>,
    ) -> Self {
        let (task_id, error) = match state {
            AuthState::Ready(auth) => (Some(auth.task_id().clone()), None),
            AuthState::Unavailable { error, .. } => (None, Some(error.clone())),
            AuthState::LoggedOut | AuthState::Expired { .. } => (None, rejection),
        };
        // A fresh read of the store reports a corrupt or unreadable file even while a cached
        // identity keeps serving.
        let (record_kind, read_error) = match store.load_credential() {
            Ok(Some(Credential::Record(record))) => (Some(record.kind()), None),
            Ok(_) => (None, None),
            Err(error) => (None, Some(AuthError::Store(error))),
        };
        let error = error.or(read_error);
        Self {
            state: StatusState::of(state),
            identity: state.identity().cloned(),
            task_id,
            task_registered_at: None,
            degraded,
            store: store.describe(),
            record_kind,
            error,
        }
    }

    /// `logged_out`, `ready`, `unavailable` or `expired`; from [`Status::read`] also `corrupt`.
    pub fn state(&self) -> StatusState {
        self.state
    }

    /// The identity, when there is one to show.
    pub fn identity(&self) -> Option<&AgentIdentityRecord> {
        self.identity.as_ref()
    }

    /// The registered task: when loaded in this process, its task; from [`Status::read`], the
    /// task the home's runtime cache holds for the stored token (offline, from the file).
    pub fn task_id(&self) -> Option<&TaskId> {
        self.task_id.as_ref()
    }

    /// From a manager: while a `Ready` identity is served from cache because setting it up again
    /// fails transiently, since when and why ("serving the cached identity since T because E").
    pub fn degraded(&self) -> Option<&crate::manager::Degraded> {
        self.degraded.as_ref()
    }

    /// When the cached task was registered ([`Status::read`] only).
    pub fn task_registered_at(&self) -> Option<std::time::SystemTime> {
        self.task_registered_at
    }

    /// The form of the identity: `jwt` (the identity JWT) or `record` (Codex's record form,
    /// which has no expiry); `None` without an identity.
    pub fn form(&self) -> Option<&'static str> {
        self.identity.as_ref().map(|identity| {
            if identity.is_stored() {
                "record"
            } else {
                "jwt"
            }
        })
    }

    /// For a record read from the store, the kind of file it is in: standalone, or managed
    /// (beside a ChatGPT login).
    pub fn record_kind(&self) -> Option<RecordKind> {
        self.record_kind
    }

    /// Where the credentials are kept.
    pub fn store(&self) -> &str {
        &self.store
    }

    /// A problem worth showing: an unreadable store, a malformed token, why setup failed, or the
    /// verdict that rejected the stored identity (a token the verifier refused, a 401 from the
    /// AuthAPI).
    pub fn error(&self) -> Option<&AuthError> {
        self.error.as_ref()
    }
}

/// The state a [`Status`] reports: the manager's states, and two that only a read of the store
/// can find.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StatusState {
    /// Nothing is stored (or the stored token is not even well-formed).
    LoggedOut,
    /// An identity is stored (and, from a manager, loaded with its task).
    Ready,
    /// The identity has expired.
    Expired,
    /// From a manager: the identity is known, but setting it up failed transiently. From a read
    /// of the store: the store cannot be read, or is refused as insecure.
    Unavailable,
    /// The credentials file does not parse. Never taken for "logged out".
    Corrupt,
}

impl StatusState {
    /// The stable snake_case name (`logged_out`, `ready`, `expired`, `unavailable`, `corrupt`),
    /// as the CLI's JSON prints it.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::Ready => "ready",
            Self::Expired => "expired",
            Self::Unavailable => "unavailable",
            Self::Corrupt => "corrupt",
        }
    }

    fn of(state: &AuthState) -> Self {
        match state {
            AuthState::LoggedOut => Self::LoggedOut,
            AuthState::Ready(_) => Self::Ready,
            AuthState::Unavailable { .. } => Self::Unavailable,
            AuthState::Expired { .. } => Self::Expired,
        }
    }
}

impl std::fmt::Display for StatusState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Compares with the snake_case name, so `status.state() == "ready"` reads as it says.
impl PartialEq<str> for StatusState {
    fn eq(&self, other: &str) -> bool {
        self.name() == other
    }
}

impl PartialEq<&str> for StatusState {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

#[cfg(test)]
mod tests;
