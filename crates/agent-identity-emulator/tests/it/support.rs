//! Shared helpers: HTTP clients without connection reuse, fast task clients, and minting a
//! verified record in one step.

use std::time::Duration;

use agent_identity_emulator::{Emulator, MintedIdentity};
use agent_identity_jwt::AgentIdentityRecord;
use agent_identity_task::TaskClient;

/// A plain HTTP client that opens a new connection for every request, so a dropped connection or
/// a stopped server is seen by the next request, and no idle-pool timer runs under a paused clock.
pub(crate) fn fresh_connections() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a reqwest client builds")
}

/// A task client that fails fast: one attempt, no timers, so the fault a test injects is the
/// error it sees, and paused-clock tests never race a timeout.
pub(crate) fn one_shot_task_client(emulator: &Emulator) -> TaskClient {
    emulator
        .task_client_builder()
        .client(fresh_connections())
        .max_attempts(1)
        .attempt_timeout(None)
        .total_deadline(None)
        .build()
}

/// A task client that retries quickly.
pub(crate) fn quick_retry_task_client(emulator: &Emulator) -> TaskClient {
    emulator
        .task_client_builder()
        .initial_backoff(Duration::from_millis(1))
        .max_backoff(Duration::from_millis(5))
        .build()
}

/// Mints a default identity and verifies it with the emulator's verifier.
pub(crate) async fn minted_record(emulator: &Emulator) -> (MintedIdentity, AgentIdentityRecord) {
    let minted = emulator.mint().issue().expect("mint");
    let record = emulator
        .verifier()
        .verify(&minted.token)
        .await
        .expect("a freshly minted token verifies");
    (minted, record)
}

/// GETs `url` and returns the status and the JSON body.
pub(crate) async fn get_json(client: &reqwest::Client, url: &str) -> (u16, serde_json::Value) {
    let response = client.get(url).send().await.expect("request");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).expect("a JSON body"))
}

/// POSTs `body` as JSON to `url` and returns the status and the JSON body.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> (u16, serde_json::Value) {
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).expect("a JSON body"))
}
