//! A local authenticating sidecar: a reverse proxy to one upstream that signs every request it
//! forwards as the agent, so that a program in any language becomes the agent by changing its
//! base URL.
//!
//! - Every forwarded request gets fresh headers from [`AuthManager::auth`]: `Authorization:
//!   AgentAssertion …`, `ChatGPT-Account-ID`, and `X-OpenAI-Fedramp` when set; whatever the client
//!   sent in those is removed. Hop-by-hop headers are dropped as RFC 9110 §7.6.1 says; `Host` is
//!   the upstream's; method, path and query pass through (the upstream URL's path prefixes the
//!   path).
//! - Bodies stream both ways. A request body of at most the replay limit (1 MiB by default, known
//!   from its `Content-Length`) is kept, so that after an upstream 401 the request is replayed
//!   once following one shared [`AuthManager::recover_unauthorized`]; a larger one streams and
//!   the 401 is passed on (the recovery still runs, for the next request).
//! - It is never an open proxy: `CONNECT` and absolute-form targets naming another host are
//!   refused. On TCP every request must carry `Authorization: Bearer <client token>`; a unix socket
//!   is `0600` and only its owner's uid is served.
//! - Not `Ready` → nothing is forwarded: 503 for a transient reason, 401 when logged out or
//!   expired, as JSON `{"error","message"}`. Upstream unreachable → 502, slow → 504; the
//!   identity is kept.
//! - A path with a `.` or `..` segment, in any spelling (`%2e`, `..;`, an encoded separator), is
//!   refused with 400; a request head larger than the header limit gets 431.
//! - `GET /_agent-identity/health` answers the state to anyone, and the detail (identity, task,
//!   last error, `degraded`) only with the client token; `GET /_agent-identity/headers` needs the
//!   token. Both answer only a loopback `Host` or the proxy's own address.
//! - At the connection limit, a connection that never showed the client token gives its place
//!   up to a new one, so another local user cannot keep the token's holder out. On a multi-user
//!   host, a unix socket (`0600`, owner only) is the stronger answer.
//! - Before there is a manager to sign with (a token file not mounted yet), [`Waiting`] holds
//!   the listener and answers 503 with the reason; [`serve_metrics`] serves `/metrics` without
//!   the token on a listener of its own.
//!
//! [`AuthManager::auth`]: agent_identity_manager::AuthManager::auth
//! [`AuthManager::recover_unauthorized`]: agent_identity_manager::AuthManager::recover_unauthorized

mod answer;
mod background;
mod body;
mod conn;
mod error;
mod forward;
#[doc(hidden)]
pub mod fuzzing;
mod headers;
mod listener;
mod local;
mod log;
pub mod metrics;
mod proxy;
mod standby;
mod target;
mod token;
mod upstream;

pub use error::ProxyError;
pub use listener::Listener;
pub use log::AccessRecord;
pub use proxy::{
    DEFAULT_CONNECT_TIMEOUT, DEFAULT_DRAIN_TIMEOUT, DEFAULT_HEADER_READ_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_HEADER_BYTES, DEFAULT_REPLAY_LIMIT,
    DEFAULT_RESPONSE_HEADER_TIMEOUT, Proxy, ProxyBuilder,
};
pub use standby::{METRICS_LISTENER_PATH, Waiting, check_upstream, serve_metrics};
pub use token::ClientToken;

/// The path prefix the proxy answers itself and never forwards.
pub const LOCAL_PREFIX: &str = "/_agent-identity/";

/// The data behind the proxy's mutexes stays consistent: the workspace's one rule for a poisoned
/// one.
pub(crate) use agent_identity_flight::lock;

#[cfg(test)]
mod tests;
