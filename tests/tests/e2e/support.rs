//! Shared pieces of the end-to-end suites: an emulator-backed manager and signed requests.

use std::sync::Arc;
use std::time::Duration;

use agent_identity_sdk::emulator::Emulator;
use agent_identity_sdk::{AgentIdentityAuth, AuthManager, CredentialStore, TaskClient};

/// A task client for the emulator with quick retries, so fault tests stay fast in real time.
pub(crate) fn quick_tasks(emulator: &Emulator) -> TaskClient {
    emulator
        .task_client_builder()
        .max_attempts(4)
        .initial_backoff(Duration::from_millis(10))
        .max_backoff(Duration::from_millis(40))
        .build()
}

pub(crate) async fn manager(emulator: &Emulator, store: Arc<dyn CredentialStore>) -> AuthManager {
    AuthManager::new(emulator.verifier(), quick_tasks(emulator), store)
        .await
        .expect("the store is readable")
}

/// Sends a signed request to the emulator's protected endpoint; returns the status and body.
pub(crate) async fn echo(
    emulator: &Emulator,
    auth: &AgentIdentityAuth,
) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().get(emulator.echo_url());
    for (name, value) in auth.headers().expect("headers").iter() {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("the emulator answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON body"))
}
