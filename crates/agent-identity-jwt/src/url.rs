//! URL helpers of wire-format §2: normalising a ChatGPT base URL and finding its JWKS endpoint.

/// The production JWKS endpoint.
pub const PRODUCTION_JWKS_URL: &str = "https://chatgpt.com/backend-api/wham/agent-identities/jwks";

/// Suffixes a pasted ChatGPT URL may carry that are not part of the base (wire-format §2).
const STRIPPED_SUFFIXES: [&str; 2] = [
    "/wham/remote/control/server/enroll",
    "/wham/remote/control/server",
];

/// Normalises a ChatGPT base URL: trims a trailing `/`; strips one remote-control suffix; strips a
/// final `/codex` unless it is `/api/codex`; and gives the public ChatGPT hosts their `/backend-api`.
///
/// # Examples
/// ```
/// use agent_identity_jwt::normalize_chatgpt_base_url;
/// assert_eq!(normalize_chatgpt_base_url("https://chatgpt.com/codex"), "https://chatgpt.com/backend-api");
/// assert_eq!(normalize_chatgpt_base_url("http://localhost:8080/api/codex"), "http://localhost:8080/api/codex");
/// ```
pub fn normalize_chatgpt_base_url(base: &str) -> String {
    let mut base = base.trim().trim_end_matches('/');
    if let Some(stripped) = STRIPPED_SUFFIXES
        .iter()
        .find_map(|suffix| base.strip_suffix(suffix))
    {
        base = stripped;
    }
    if let Some(stripped) = base.strip_suffix("/codex")
        && !base.ends_with("/api/codex")
    {
        base = stripped;
    }
    let base = base.trim_end_matches('/');
    let public_host = ["https://chatgpt.com", "https://chat.openai.com"]
        .iter()
        .any(|host| base == *host || base.starts_with(&format!("{host}/")));
    if public_host && !base.contains("/backend-api") && !base.contains("/api/codex") {
        format!("{base}/backend-api")
    } else {
        base.to_owned()
    }
}

/// The JWKS endpoint for a ChatGPT base URL (wire-format §2), by Codex's current rule (the one
/// it applies to `CODEX_AGENT_IDENTITY_JWKS_BASE_URL`): under `/backend-api` it is
/// `{base}/wham/agent-identities/jwks`, and under any other base `{base}/agent-identities/jwks`.
/// The base's trailing `/` is trimmed.
///
/// # Examples
/// ```
/// use agent_identity_jwt::jwks_url_for_base;
/// assert_eq!(
///     jwks_url_for_base("https://chatgpt.com/backend-api/"),
///     "https://chatgpt.com/backend-api/wham/agent-identities/jwks",
/// );
/// assert_eq!(
///     jwks_url_for_base("http://127.0.0.1:9000"),
///     "http://127.0.0.1:9000/agent-identities/jwks",
/// );
/// ```
pub fn jwks_url_for_base(base: &str) -> String {
    let base = base.trim().trim_end_matches('/');
    if base.contains("/backend-api") {
        format!("{base}/wham/agent-identities/jwks")
    } else {
        format!("{base}/agent-identities/jwks")
    }
}

#[cfg(test)]
mod tests;
