//! The auth manager and credential cache of agent identities.
//!
//! [`AuthManager`] loads eagerly: it verifies the stored token (through `agent-identity-jwt`) and
//! registers the process's task (through `agent-identity-task`) before anyone reads it, so a
//! `Ready` state always carries a concrete [`agent_identity_task::TaskId`]. Reads of the current
//! auth are one atomic load. Reloads share one flight and follow one rule: only a permanent
//! verdict (credentials gone, token invalid, expired or untrusted, registration refused with
//! 401/403) logs out; a transient failure keeps the cached identity and its task id.
//!
//! Credentials live behind the [`CredentialStore`] seam: [`FileStore`] (Codex-compatible
//! `auth.json`, atomic writes, mode 0600, cross-process lock), `KeyringStore` (the OS keyring, with
//! the `keyring` feature), [`MemoryStore`], and
//! [`EnvOverride`] (a read-only JWT from the environment). [`Status`] reports without the network.
//!
//! [`AuthManager::from_env`] and [`AuthManager::builder`] set everything up in one call, with
//! the `agent-identity` CLI's settings.

mod auth;
mod credential;
mod env;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod manager;
pub mod metrics;
mod setup;
mod state;
mod status;
mod store;

pub use agent_identity_task::{ACCOUNT_ID_HEADER_NAME, FEDRAMP_HEADER_NAME};
pub use auth::AgentIdentityAuth;
pub use credential::{AgentRecord, Credential, RecordKind};
pub use env::{
    ALGORITHMS_ENV_VAR, AUDIENCE_ENV_VAR, HOME_ENV_VAR, ISSUER_ENV_VAR, JWKS_BASE_URL_ENV_VAR,
    JWKS_FILE_ENV_VAR, JWKS_URL_ENV_VAR, JWT_ENV_VAR, JWT_ENV_VAR_COMPAT, SETUP_ENV_VARS,
    STORE_ENV_VAR, TOKEN_FILE_ENV_VAR,
};
pub use error::{AUTHAPI_BASE_URL_SETTING, AuthError, KEY_SET_SETTING};
pub use manager::{
    AuthManager, CredentialWatch, Degraded, MAX_RELOAD_FAILURE_COOLDOWN, RECOVERY_COOLDOWN,
    REGISTRATION_LOCK_WAIT, RELOAD_FAILURE_COOLDOWN, TaskReuse,
};
pub use setup::{AuthManagerBuilder, Setting, SettingSource, parse_algorithms};
pub use state::{AuthState, LogoutReason, ReloadOutcome};
pub use status::{Status, StatusState};
pub use store::{
    AUTH_FILE_NAME, ClearOutcome, CredentialStore, DEFAULT_LOCK_TIMEOUT, EnvOverride, FileStore,
    Insecurity, MemoryStore, RUNTIME_CACHE_FILE_NAME, RuntimeCache, StoreError, TokenFileStore,
    prepare_home, trust_problem,
};
#[cfg(feature = "keyring")]
pub use store::{
    DEFAULT_KEYRING_TIMEOUT, KEYRING_SERVICE, KeyringProblem, KeyringStore, keyring_account,
};
