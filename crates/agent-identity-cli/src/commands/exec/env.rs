//! The environment variables `exec` sets for its child, and the ones it keeps from it.

use std::ffi::OsStr;

/// The proxy's URL, for the child.
pub(super) const PROXY_URL: &str = "AGENT_IDENTITY_PROXY_URL";
/// The proxy's client token, for the child.
pub(super) const PROXY_TOKEN: &str = "AGENT_IDENTITY_PROXY_TOKEN";
/// With `--openai-env`: the proxy's URL, where OpenAI's SDKs look for their base URL.
pub(super) const OPENAI_BASE_URL: &str = "OPENAI_BASE_URL";
/// With `--openai-env`: the client token, where OpenAI's SDKs look for their key.
pub(super) const OPENAI_API_KEY: &str = "OPENAI_API_KEY";

/// Every variable of ours starts so; the child gets none of them but the two set for it.
const OURS: &str = "AGENT_IDENTITY_";

/// Whether the child must not inherit the variable `name`: it is one of ours (the token, the
/// token file, the home holding `auth.json` and the runtime's private key, and every setting
/// beside them), or the token under Codex's name
/// ([`JWT_ENV_VAR_COMPAT`](agent_identity_manager::JWT_ENV_VAR_COMPAT)).
pub(super) fn withheld(name: &OsStr) -> bool {
    name.to_str().is_some_and(|name| {
        name.starts_with(OURS) || name == agent_identity_manager::JWT_ENV_VAR_COMPAT
    })
}
