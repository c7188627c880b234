//! The environment variables this crate reads, by name: [`AuthManager::from_env`]'s settings
//! (the `agent-identity` CLI's), the JWT override, and the home. Every name is written here
//! and nowhere else in the crate.
//!
//! [`AuthManager::from_env`]: crate::AuthManager::from_env

use agent_identity_task::AUTHAPI_BASE_URL_ENV_VARS;

/// The environment variable holding a JWT that overrides any stored credentials.
pub const JWT_ENV_VAR: &str = "AGENT_IDENTITY_JWT";
/// Codex's name for the same, read when [`JWT_ENV_VAR`] is unset.
pub const JWT_ENV_VAR_COMPAT: &str = "CODEX_ACCESS_TOKEN";
/// The environment variable naming the home directory that holds `auth.json`.
pub const HOME_ENV_VAR: &str = "AGENT_IDENTITY_HOME";
/// The user's home directory, where the default home (`~/.agent-identity`) lives.
pub(crate) const SYSTEM_HOME_ENV_VAR: &str = "HOME";
/// The user's home directory on Windows, read when [`SYSTEM_HOME_ENV_VAR`] is unset.
pub(crate) const WINDOWS_HOME_ENV_VAR: &str = "USERPROFILE";

/// The JWK Set URL variable (the CLI's `--jwks-url`).
pub const JWKS_URL_ENV_VAR: &str = "AGENT_IDENTITY_JWKS_URL";
/// The JWK Set file variable (the CLI's `--jwks-file`); it wins over [`JWKS_URL_ENV_VAR`].
pub const JWKS_FILE_ENV_VAR: &str = "AGENT_IDENTITY_JWKS_FILE";
/// Codex's key set setting: a ChatGPT base URL, from which the key set URL follows by Codex's
/// rule ([`jwks_url_for_base`](agent_identity_jwt::jwks_url_for_base)). Read below
/// [`JWKS_FILE_ENV_VAR`] and [`JWKS_URL_ENV_VAR`].
pub const JWKS_BASE_URL_ENV_VAR: &str = "CODEX_AGENT_IDENTITY_JWKS_BASE_URL";
/// The expected issuer variable (the CLI's `--issuer`).
pub const ISSUER_ENV_VAR: &str = "AGENT_IDENTITY_ISSUER";
/// The expected audience variable (the CLI's `--audience`).
pub const AUDIENCE_ENV_VAR: &str = "AGENT_IDENTITY_AUDIENCE";

/// The accepted token signature algorithms (the CLI's `--algorithms`): JOSE names separated by
/// commas, such as `RS256,EdDSA`, any case.
pub const ALGORITHMS_ENV_VAR: &str = "AGENT_IDENTITY_ALGORITHMS";

/// The rotated token file variable: a read-only credential source in place of `auth.json`
/// ([`TokenFileStore`](crate::TokenFileStore)).
pub const TOKEN_FILE_ENV_VAR: &str = "AGENT_IDENTITY_JWT_FILE";
/// The durable store: `file` (the default, `auth.json` in the home) or, with the `keyring`
/// feature, `keyring` (`KeyringStore`, the OS keyring entry for the home).
pub const STORE_ENV_VAR: &str = "AGENT_IDENTITY_STORE";

/// Every variable [`AuthManager::from_env`](crate::AuthManager::from_env) reads, in the order the
/// README's configuration table lists them. Aliases follow their primary name.
pub const SETUP_ENV_VARS: [&str; 14] = [
    HOME_ENV_VAR,
    JWKS_URL_ENV_VAR,
    JWKS_FILE_ENV_VAR,
    JWKS_BASE_URL_ENV_VAR,
    AUTHAPI_BASE_URL_ENV_VARS[0],
    AUTHAPI_BASE_URL_ENV_VARS[1],
    AUTHAPI_BASE_URL_ENV_VARS[2],
    ISSUER_ENV_VAR,
    AUDIENCE_ENV_VAR,
    ALGORITHMS_ENV_VAR,
    JWT_ENV_VAR,
    JWT_ENV_VAR_COMPAT,
    TOKEN_FILE_ENV_VAR,
    STORE_ENV_VAR,
];
