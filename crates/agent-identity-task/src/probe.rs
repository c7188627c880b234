//! [`TaskClient::probe`]: whether the AuthAPI can be reached at all, for a diagnosis. It sends
//! nothing signed and registers nothing.

use std::time::{Duration, SystemTime};

use url::{Host, Url};

use crate::client::TaskClient;

/// 10 s: the longest a probe waits for an answer (a diagnosis should not stall).
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What [`TaskClient::probe`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthApiProbe {
    /// The AuthAPI answered. Any status counts: the probe asks for nothing (a 404 for the bare
    /// base URL is the usual answer).
    Answered {
        /// The HTTP status of the answer.
        status: u16,
        /// The server's `Date`, to compare clocks with, when it sent one.
        date: Option<SystemTime>,
    },
    /// The base URL's host name does not resolve to any address.
    Unresolved {
        /// The host name.
        host: String,
    },
    /// The host resolved, but no answer came: the connection was refused or failed, or the
    /// answer took longer than the probe waits.
    Unreachable {
        /// Whether the probe gave up waiting, rather than the connection failing.
        timed_out: bool,
    },
}

impl TaskClient {
    /// Sends one unsigned `GET` to the base URL, without retries, and reports whether the AuthAPI
    /// can be reached: its answer, a host name that does not resolve, or no answer. It registers
    /// nothing. Waits at most 10 s (or the attempt timeout, when shorter).
    pub async fn probe(&self) -> AuthApiProbe {
        let timeout = self
            .attempt_timeout()
            .map_or(PROBE_TIMEOUT, |attempt| attempt.min(PROBE_TIMEOUT));
        let base = self.base_url().as_str();
        let probe = async {
            if let Some(host) = unresolvable_host(base).await {
                return AuthApiProbe::Unresolved { host };
            }
            match self.http().get(base).send().await {
                Ok(response) => AuthApiProbe::Answered {
                    status: response.status().as_u16(),
                    date: response
                        .headers()
                        .get(reqwest::header::DATE)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|text| httpdate::parse_http_date(text).ok()),
                },
                Err(error) => AuthApiProbe::Unreachable {
                    timed_out: error.is_timeout(),
                },
            }
        };
        tokio::time::timeout(timeout, probe)
            .await
            .unwrap_or(AuthApiProbe::Unreachable { timed_out: true })
    }
}

/// The base URL's host name when it resolves to no address. An IP address needs no resolving.
async fn unresolvable_host(base: &str) -> Option<String> {
    let url = Url::parse(base).ok()?;
    let Some(Host::Domain(host)) = url.host() else {
        return None;
    };
    let port = url.port_or_known_default()?;
    let resolved = tokio::net::lookup_host((host, port))
        .await
        .is_ok_and(|mut addresses| addresses.next().is_some());
    (!resolved).then(|| host.to_owned())
}

#[cfg(test)]
mod tests;
