//! The manager's explicit state and what a reload did.

use agent_identity_jwt::AgentIdentityRecord;

use crate::auth::AgentIdentityAuth;
use crate::error::AuthError;

/// Where the manager stands. Every value is a complete snapshot: readers never see a half-built one.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthState {
    /// No credentials are stored (or they were revoked).
    LoggedOut,
    /// A verified identity with a registered task: requests can be signed.
    Ready(AgentIdentityAuth),
    /// Credentials are present and well-formed, but the runtime could not be set up because the
    /// AuthAPI or the key set is unreachable. Status reads show the identity; request paths get
    /// the transient error.
    Unavailable {
        /// The stored identity, decoded but not (yet) verified.
        identity: AgentIdentityRecord,
        /// Why setup failed.
        error: AuthError,
    },
    /// The identity's `exp` (plus leeway) has passed; it is never served as `Ready`.
    Expired {
        /// The expired identity.
        identity: AgentIdentityRecord,
    },
}

impl AuthState {
    /// A stable snake_case name: `logged_out`, `ready`, `unavailable` or `expired`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::Ready(_) => "ready",
            Self::Unavailable { .. } => "unavailable",
            Self::Expired { .. } => "expired",
        }
    }

    /// The identity this state is about, if any.
    pub fn identity(&self) -> Option<&AgentIdentityRecord> {
        match self {
            Self::LoggedOut => None,
            Self::Ready(auth) => Some(auth.record()),
            Self::Unavailable { identity, .. } | Self::Expired { identity } => Some(identity),
        }
    }

    /// The loaded auth when `Ready`.
    pub fn auth(&self) -> Option<&AgentIdentityAuth> {
        match self {
            Self::Ready(auth) => Some(auth),
            _ => None,
        }
    }
}

/// Why a reload logged out.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LogoutReason {
    /// The store no longer holds credentials (another process logged out).
    StoreEmptied,
    /// The stored identity is no good: invalid, expired or untrusted token, or the AuthAPI
    /// answered 401/403.
    Revoked(AuthError),
}

/// What a [`crate::AuthManager::reload`] did.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ReloadOutcome {
    /// The stored token is the one already loaded; nothing was registered.
    Unchanged,
    /// A new identity (or the same one, after an earlier failure) is loaded with a new task.
    Updated,
    /// A permanent verdict: the manager is now logged out.
    LoggedOut {
        /// Why.
        reason: LogoutReason,
    },
    /// A transient failure (or an unreadable store): the previous state, and any cached identity
    /// and task id, are kept.
    KeptCached {
        /// What failed.
        error: AuthError,
    },
}
