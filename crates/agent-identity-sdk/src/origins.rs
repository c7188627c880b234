//! [`Origins`]: the origins a signing client may send the agent's assertion to, checked by the
//! workspace's one URL rule. The middleware signs only for these; the Python binding uses the
//! same type.

use std::fmt;

use agent_identity_jwt::UrlRule;
use agent_identity_manager::AuthError;
use url::{Host, Url};

/// The origins (`scheme://host:port`) an agent's requests are signed for.
///
/// An assertion is a bearer credential for as long as its timestamp is fresh: a signing client
/// that also fetches other sites must not hand it to them. `Origins` names the sites that get it;
/// a request anywhere else gets no assertion.
///
/// # Examples
/// ```
/// use agent_identity_sdk::Origins;
/// let origins = Origins::new(["https://api.example.com", "http://127.0.0.1:8080/"])?;
/// assert!(origins.covers(&"https://api.example.com:443/v1/models".parse()?));
/// assert!(!origins.covers(&"https://elsewhere.example.com/".parse()?));
/// assert!(Origins::new(["http://api.example.com"]).is_err(), "plain http off loopback");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Origins {
    origins: Vec<Origin>,
}

/// One origin, normalised: the scheme, the host as `url` parses it, the port with the scheme's
/// default filled in.
#[derive(Clone, PartialEq, Eq)]
struct Origin {
    scheme: String,
    host: Host<String>,
    port: u16,
}

impl Origin {
    fn of(url: &Url) -> Option<Self> {
        Some(Self {
            scheme: url.scheme().to_owned(),
            host: url.host()?.to_owned(),
            port: url.port_or_known_default()?,
        })
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
    }
}

impl Origins {
    /// Each entry is an origin `scheme://host[:port]` (a trailing `/` allowed, no path, query,
    /// fragment or credentials); `https`, or `http` only on loopback (the workspace's one URL
    /// rule, [`UrlRule`]).
    ///
    /// # Errors
    /// [`AuthError::Config`] (setting `origin`) naming the first entry that is not such an
    /// origin, or when no origin is given: an empty scope would sign nothing, which is never
    /// what a caller means.
    pub fn new<I, S>(origins: I) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let origins = origins
            .into_iter()
            .map(|text| parse_origin(text.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if origins.is_empty() {
            return Err(config("no origin was given".to_owned()));
        }
        Ok(Self { origins })
    }

    /// Whether a request to `url` is one this scope signs for (scheme, host, port; default ports
    /// normalised). A URL with credentials is never covered.
    pub fn covers(&self, url: &Url) -> bool {
        if !url.username().is_empty() || url.password().is_some() {
            return false;
        }
        Origin::of(url).is_some_and(|origin| self.origins.contains(&origin))
    }
}

impl fmt::Debug for Origins {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.origins.iter().map(ToString::to_string))
            .finish()
    }
}

fn config(reason: String) -> AuthError {
    AuthError::Config {
        setting: "origin",
        reason,
    }
}

fn parse_origin(text: &str) -> Result<Origin, AuthError> {
    // The entry is not echoed: a mistyped one may hold credentials.
    let url = UrlRule::new()
        .parse(text)
        .map_err(|refusal| config(refusal.reason().to_owned()))?;
    if !matches!(url.path(), "" | "/") {
        return Err(config(
            "an origin has no path: give scheme://host[:port]".to_owned(),
        ));
    }
    Origin::of(&url).ok_or_else(|| config("the url has no host or port".to_owned()))
}

#[cfg(test)]
mod tests;
