//! The crate's one public error type, and the single place failures are classified.

use agent_identity_jwt::JwtError;
use agent_identity_task::{TaskError, TaskErrorKind};

use crate::store::StoreError;

/// Why auth is not available, or why an operation failed.
///
/// [`AuthError::is_transient`] is the classification every decision in this crate rests on:
/// a transient error never turns a good cached identity into "logged out".
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No credentials are stored.
    #[error("not logged in")]
    NotLoggedIn,
    /// The identity's `exp` (plus leeway) has passed.
    #[error("the agent identity has expired")]
    Expired,
    /// The token did not verify, or its key set could not be fetched.
    #[error("agent identity token: {0}")]
    Token(#[source] JwtError),
    /// Task registration (or building request headers) failed.
    #[error("agent task: {0}")]
    Task(#[source] TaskError),
    /// The credential store could not be read or written.
    #[error("credential store: {0}")]
    Store(#[source] StoreError),
    /// A setting is not usable: a key set URL that is not `https` off loopback, or one that needs
    /// a feature this build lacks. Found while setting up, before any network call.
    #[error("invalid {setting}: {reason}")]
    Config {
        /// The setting, or the environment variable it came from.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A reload or recovery did not finish: it panicked, or its runtime shut down under it. The
    /// cached state was kept, and the next call runs afresh.
    #[error("the {operation} did not finish: {}", if *.panicked { "it panicked" } else { "its runtime shut down" })]
    Interrupted {
        /// `reload` or `recovery`.
        operation: &'static str,
        /// Whether it panicked (else it was cancelled).
        panicked: bool,
    },
}

impl AuthError {
    /// Whether retrying later may succeed without anything changing on our side: an unreachable
    /// key set or AuthAPI (connect errors, timeouts, 429, 5xx), a store locked by another
    /// process, a store I/O failure that is not about the path itself
    /// ([`StoreError::is_transient`]), or an operation that was interrupted.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::NotLoggedIn | Self::Expired | Self::Config { .. } => false,
            Self::Token(error) => error.is_transient(),
            Self::Task(error) => error.is_transient(),
            Self::Store(error) => error.is_transient(),
            Self::Interrupted { .. } => true,
        }
    }

    /// Whether this is a verdict that the credentials themselves are no good, so that a cached
    /// identity must be dropped: the token is invalid, expired or untrusted, or the AuthAPI
    /// answered 401 or 403. Everything else, including other 4xx answers and malformed responses,
    /// keeps the cached identity: those point at the server or the network, not the identity.
    pub fn revokes_identity(&self) -> bool {
        match self {
            Self::NotLoggedIn | Self::Expired => true,
            Self::Token(error) => !error.is_transient(),
            Self::Task(error) => task_revokes_identity(error.kind()),
            Self::Store(_) | Self::Config { .. } | Self::Interrupted { .. } => false,
        }
    }

    /// A stable snake_case name, for logs and machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotLoggedIn => "not_logged_in",
            Self::Expired => "expired",
            Self::Token(error) => error.kind(),
            Self::Task(error) if error.is_transient() => "authapi_unavailable",
            Self::Task(_) => "task_registration_failed",
            Self::Store(StoreError::Corrupt { .. } | StoreError::KeyringCorrupt { .. }) => {
                "store_corrupt"
            }
            Self::Store(StoreError::Unsupported { .. }) => "store_unsupported_form",
            Self::Store(StoreError::KeyringTimedOut { .. }) => "keyring_unavailable",
            #[cfg(feature = "keyring")]
            Self::Store(StoreError::Keyring { .. }) => "keyring_unavailable",
            Self::Store(StoreError::ReadOnly(_)) => "store_read_only",
            Self::Store(StoreError::Locked { .. }) => "store_locked",
            Self::Store(StoreError::Insecure { .. }) => "store_insecure",
            Self::Store(_) => "store_io",
            Self::Config { .. } => "config",
            Self::Interrupted { .. } => "interrupted",
        }
    }
}

/// Only an explicit refusal of the identity by the AuthAPI revokes it.
fn task_revokes_identity(kind: TaskErrorKind) -> bool {
    matches!(kind, TaskErrorKind::Status(401 | 403))
}

impl From<JwtError> for AuthError {
    fn from(error: JwtError) -> Self {
        Self::Token(error)
    }
}

impl From<TaskError> for AuthError {
    fn from(error: TaskError) -> Self {
        Self::Task(error)
    }
}

impl From<StoreError> for AuthError {
    fn from(error: StoreError) -> Self {
        Self::Store(error)
    }
}

#[cfg(test)]
mod tests;
