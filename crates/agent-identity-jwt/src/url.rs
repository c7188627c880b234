//! URL helpers: the one rule for a URL that keys or credentials travel to ([`UrlRule`]), and,
//! from wire-format §2, normalising a ChatGPT base URL and finding its JWKS endpoint.

use std::net::Ipv6Addr;

use url::{Host, Url};

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

/// Why a URL was refused by a [`UrlRule`]. The message never shows the URL, which may hold
/// credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlRefusal {
    /// The text is not an absolute URL.
    #[error("not an absolute url")]
    NotAbsolute,
    /// The URL has no host.
    #[error("the url has no host")]
    NoHost,
    /// The scheme is neither `https` nor `http`.
    #[error("the scheme must be https")]
    Scheme,
    /// Plain `http` to a host that is not loopback.
    #[error("https is required for a non-loopback host")]
    PlainHttp,
    /// A user name or password in the URL.
    #[error("credentials are not allowed in the url")]
    Credentials,
    /// A query, where the rule allows none.
    #[error("a query is not allowed in the url")]
    Query,
    /// A fragment: never sent, so never meant.
    #[error("a fragment is not allowed in the url")]
    Fragment,
}

impl UrlRefusal {
    /// The reason as a static string, the same text as `Display`, for error types that hold one.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotAbsolute => "not an absolute url",
            Self::NoHost => "the url has no host",
            Self::Scheme => "the scheme must be https",
            Self::PlainHttp => "https is required for a non-loopback host",
            Self::Credentials => "credentials are not allowed in the url",
            Self::Query => "a query is not allowed in the url",
            Self::Fragment => "a fragment is not allowed in the url",
        }
    }
}

/// The one acceptance rule for a URL that an identity's secrets or trust decisions travel to:
/// the AuthAPI base URL, the key set URL, a proxy's upstream, the origins a middleware signs
/// for.
///
/// - `https`, or plain `http` only to a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`),
///   for emulators and tests. [`insecure_plain_http`](Self::insecure_plain_http) lifts this for
///   a caller whose name says so.
/// - No credentials (`user:password@`) and no fragment, ever.
/// - No query, unless [`allow_query`](Self::allow_query) (a key set URL may carry one; a base
///   URL that paths are appended to may not).
///
/// # Examples
/// ```
/// use agent_identity_jwt::{UrlRefusal, UrlRule};
/// let rule = UrlRule::new();
/// assert!(rule.parse("https://auth.example.com/api").is_ok());
/// assert!(rule.parse("http://127.0.0.1:8080/api").is_ok());
/// assert_eq!(rule.parse("http://auth.example.com/api").unwrap_err(), UrlRefusal::PlainHttp);
/// assert_eq!(rule.parse("https://user:pw@auth.example.com").unwrap_err(), UrlRefusal::Credentials);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UrlRule {
    query: bool,
    plain_http: bool,
}

impl UrlRule {
    /// The strict rule: `https` (or `http` to loopback), no credentials, query or fragment.
    pub const fn new() -> Self {
        Self {
            query: false,
            plain_http: false,
        }
    }

    /// Also accepts a query.
    pub const fn allow_query(mut self) -> Self {
        self.query = true;
        self
    }

    /// Also accepts plain `http` to any host. Anyone on the path then sees, and can change, what
    /// travels: only for callers that were told so by an `insecure_…` name.
    pub const fn insecure_plain_http(mut self) -> Self {
        self.plain_http = true;
        self
    }

    /// Checks a parsed URL.
    ///
    /// # Errors
    /// The first [`UrlRefusal`] that applies.
    pub fn check(&self, url: &Url) -> Result<(), UrlRefusal> {
        let loopback = is_loopback(url).ok_or(UrlRefusal::NoHost)?;
        match url.scheme() {
            "https" => {}
            "http" if loopback || self.plain_http => {}
            "http" => return Err(UrlRefusal::PlainHttp),
            _ => return Err(UrlRefusal::Scheme),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRefusal::Credentials);
        }
        if url.query().is_some() && !self.query {
            return Err(UrlRefusal::Query);
        }
        if url.fragment().is_some() {
            return Err(UrlRefusal::Fragment);
        }
        Ok(())
    }

    /// Parses `text` (trimmed) and [`check`](Self::check)s it.
    ///
    /// # Errors
    /// [`UrlRefusal::NotAbsolute`] for text that is not an absolute URL, else as for
    /// [`check`](Self::check).
    pub fn parse(&self, text: &str) -> Result<Url, UrlRefusal> {
        let url = Url::parse(text.trim()).map_err(|_| UrlRefusal::NotAbsolute)?;
        self.check(&url)?;
        Ok(url)
    }
}

/// Whether the URL's host is a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`); `None`
/// without a host.
fn is_loopback(url: &Url) -> Option<bool> {
    Some(match url.host()? {
        Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip == Ipv6Addr::LOCALHOST,
    })
}

#[cfg(test)]
mod tests;
