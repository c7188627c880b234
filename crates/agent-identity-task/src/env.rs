//! The environment variables the task crate reads: where the AuthAPI is.

/// The environment variables consulted, in order, after explicit configuration (wire-format §4).
/// The last two are read for compatibility with Codex.
pub const AUTHAPI_BASE_URL_ENV_VARS: [&str; 3] = [
    "AGENT_IDENTITY_AUTHAPI_BASE_URL",
    "CODEX_AUTHAPI_BASE_URL",
    "CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL",
];
