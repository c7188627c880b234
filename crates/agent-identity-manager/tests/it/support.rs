//! Manager builders over the shared fixtures (vectors, minting, clocks and trace capture come
//! from agent-identity-test-support).

use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::{HttpJwksSource, Verifier};
use agent_identity_manager::{AuthManager, CredentialStore};
use agent_identity_task::{AuthApiBaseUrl, TaskClient};

pub(crate) use agent_identity_test_support::mint::{
    now_secs, token, token_with_inconsistent_key, valid_token,
};
pub(crate) use agent_identity_test_support::vectors::{jwks_with_kids, vectors};
pub(crate) use agent_identity_test_support::{TestClock, capture_traces};

/// A reqwest client without keep-alive, so a stopped server refuses the next request at once,
/// and without pool timers, which a paused test clock would otherwise race against.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

pub(crate) fn verifier(jwks_url: &str, clock: Arc<TestClock>) -> Verifier {
    let source = HttpJwksSource::builder(jwks_url.parse().expect("url"))
        .expect("loopback url")
        .client(http_client())
        .build();
    Verifier::builder(source).clock(clock).build()
}

/// A task client with few, fast retries and, by default, no per-attempt timeout.
pub(crate) fn tasks(base: &str, attempt_timeout: Option<Duration>) -> TaskClient {
    TaskClient::builder(AuthApiBaseUrl::parse(base).expect("loopback base"))
        .client(http_client())
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(100))
        .attempt_timeout(attempt_timeout)
        .total_deadline(None)
        .build()
}

pub(crate) async fn manager(
    jwks_url: &str,
    authapi: &str,
    store: Arc<dyn CredentialStore>,
    clock: Arc<TestClock>,
) -> AuthManager {
    AuthManager::new(verifier(jwks_url, clock), tasks(authapi, None), store)
        .await
        .expect("the store is readable")
}
