//! The variables the command line reads itself, beyond the configuration the library shares.

/// The upstream of `proxy` and `exec` (`--upstream`).
pub(crate) const UPSTREAM_ENV_VAR: &str = "AGENT_IDENTITY_UPSTREAM";
