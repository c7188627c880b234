//! Shared fixtures: identities minted and verified as real JWTs, and mock-server clients (the
//! vectors and minting themselves come from agent-identity-test-support).

use std::time::Duration;

use agent_identity_jwt::{AgentIdentityRecord, StaticJwksSource, Verifier};
use agent_identity_task::{AuthApiBaseUrl, TaskClient, TaskClientBuilder};
use agent_identity_test_support::mint::mint_identity;
use agent_identity_test_support::vectors::jwks_json;

pub(crate) use agent_identity_test_support::mint::Identity;
pub(crate) use agent_identity_test_support::refusing_port;
pub(crate) use agent_identity_test_support::vectors::{Ed25519Vector, first_vector, vectors};

/// Mints a token and verifies it against the vectors' JWKS, as a real caller would get a record.
pub(crate) async fn record(identity: &Identity<'_>) -> (AgentIdentityRecord, String) {
    let token = mint_identity(identity);
    let jwks = jwks_json();
    let source = StaticJwksSource::from_json(jwks).unwrap_or_else(|e| panic!("jwks: {e}"));
    let verifier = Verifier::builder(source).build();
    let record = verifier
        .verify_str(&token)
        .await
        .unwrap_or_else(|e| panic!("minted token must verify: {e}"));
    (record, token)
}

pub(crate) async fn vector_record() -> AgentIdentityRecord {
    record(&Identity::for_vector(first_vector())).await.0
}

/// An HTTP client that keeps no idle connections: the pool's idle-reaper timer would otherwise
/// let paused tokio time jump while a test waits on socket I/O.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_else(|e| panic!("reqwest client: {e}"))
}

/// A client builder for a mock server, with no timers armed during I/O: under paused time, tokio
/// advances the clock to the next timer whenever the runtime idles, socket waits included.
pub(crate) fn builder(base: &str) -> TaskClientBuilder {
    let base = AuthApiBaseUrl::parse(base).unwrap_or_else(|e| panic!("base url: {e}"));
    TaskClient::builder(base)
        .client(http_client())
        .attempt_timeout(None)
        .total_deadline(None)
}

pub(crate) fn client(base: &str) -> TaskClient {
    builder(base).build()
}

/// The registration path of the first vector's runtime.
pub(crate) const VECTOR_PATH: &str = "/v1/agent/agent-123/task/register";

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}
