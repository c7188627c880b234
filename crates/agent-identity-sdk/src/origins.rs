//! `Origins`: the sites an integration signs requests for, and the one rule deciding whether a
//! URL is one of them.

use std::net::IpAddr;

use agent_identity_manager::AuthError;
use url::{Host, Url};

/// The origins (scheme, host and port) an integration may send the agent's assertion to.
///
/// An origin is `https`, or `http` on a loopback host (`localhost`, `127.0.0.0/8`, `[::1]`):
/// the assertion never travels in clear text off this machine. Entries are origins only: a path,
/// query, fragment or user info is refused rather than silently ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origins {
    allowed: Vec<url::Origin>,
}

impl Origins {
    /// The origins in `origins`, such as `https://api.openai.com` or `http://127.0.0.1:8080`.
    ///
    /// # Errors
    /// [`AuthError::Config`] for an entry that does not parse, is not an origin, or is plain
    /// `http` off loopback.
    pub fn new<I, S>(origins: I) -> Result<Self, AuthError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let allowed = origins
            .into_iter()
            .map(|origin| parse_origin(origin.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { allowed })
    }

    /// Whether a request to `url` may carry the assertion: its scheme, host and port are one of
    /// the origins, and it is `https` or loopback `http`.
    pub fn covers(&self, url: &Url) -> bool {
        allowed_in_clear(url) && self.allowed.contains(&url.origin())
    }
}

fn parse_origin(text: &str) -> Result<url::Origin, AuthError> {
    let config = |reason: &str| AuthError::Config {
        setting: "origins",
        reason: reason.to_owned(),
    };
    let url = Url::parse(text.trim()).map_err(|_| config("an origin is not a valid URL"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config("an origin cannot carry user info"));
    }
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(config(
            "an origin is a scheme, host and port only, without a path or query",
        ));
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(config("an origin is https, or http on a loopback host"));
    }
    if !allowed_in_clear(&url) {
        return Err(config("https is required for a non-loopback host"));
    }
    Ok(url.origin())
}

/// `https`, or `http` to a loopback host.
fn allowed_in_clear(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
            None => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).expect("test url")
    }

    #[test]
    fn only_listed_origins_are_covered() {
        let origins = Origins::new(["https://api.example.com", "http://127.0.0.1:8080"])
            .expect("valid origins");
        assert!(origins.covers(&url("https://api.example.com/v1/responses")));
        assert!(origins.covers(&url("http://127.0.0.1:8080/echo")));
        assert!(!origins.covers(&url("http://api.example.com/v1")));
        assert!(!origins.covers(&url("https://api.example.com:8443/v1")));
        assert!(!origins.covers(&url("https://evil.example.com/")));
        assert!(!origins.covers(&url("http://127.0.0.1:8081/echo")));
    }

    #[test]
    fn clear_text_off_loopback_and_non_origins_are_refused() {
        for bad in [
            "http://api.example.com",
            "https://api.example.com/v1",
            "https://user@api.example.com",
            "ftp://api.example.com",
            "not a url",
        ] {
            let error = Origins::new([bad]).expect_err(bad);
            assert_eq!(error.kind(), "config", "{bad}");
        }
    }
}
