//! The whole flow through the facade: mint, log in, sign, persist, reload, recover, log out.

use std::sync::Arc;
use std::time::Duration;

use agent_identity_sdk::emulator::Emulator;
use agent_identity_sdk::{
    AuthState, CredentialStore, FileStore, ReloadOutcome, Status, SystemClock,
};

use crate::support::{echo, manager};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_flow_from_login_to_logout() {
    let emulator = Emulator::start().await.expect("emulator");
    let home = tempfile::tempdir().expect("home");
    let store = Arc::new(FileStore::new(home.path()));
    let manager = manager(&emulator, Arc::clone(&store) as Arc<dyn CredentialStore>).await;
    assert_eq!(manager.state().name(), "logged_out");

    // Log in: verify, register eagerly, then persist.
    let minted = emulator
        .mint()
        .account_id("acct-e2e")
        .fedramp(true)
        .issue()
        .expect("mint");
    let auth = manager.login(minted.token.clone()).await.expect("login");
    assert_eq!(auth.record().runtime_id(), &minted.runtime_id);
    assert_eq!(emulator.registrations(), 1);
    let document: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(store.path()).expect("auth.json"))
            .expect("JSON");
    assert_eq!(document["auth_mode"], "agentIdentity");
    assert_eq!(document["agent_identity"], minted.token.expose_secret());

    // Sign a request: the protected endpoint accepts it, FedRAMP header and all.
    let (status, body) = echo(&emulator, &auth).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["task_id"], auth.task_id().as_str());
    assert_eq!(body["account_id"], "acct-e2e");
    assert_eq!(emulator.assertions_accepted(), 1);

    // Offline status, as another process would read it.
    let status = Status::read(&*store, &SystemClock, Duration::from_secs(60));
    assert_eq!(status.state(), "ready");

    // A second process on the same home loads the identity with the home's task: no round trip.
    let jwks_fetches = emulator.jwks_fetches();
    let other = manager_for_home(&emulator, home.path()).await;
    let other_auth = other.auth().expect("ready");
    assert_eq!(other_auth.task_id(), auth.task_id());
    assert_eq!(echo(&emulator, &other_auth).await.0, 200);
    assert_eq!(emulator.registrations(), 1);
    assert_eq!(
        emulator.jwks_fetches(),
        jwks_fetches,
        "the cached key set served"
    );

    // Reload with nothing changed registers nothing.
    assert!(matches!(manager.reload().await, ReloadOutcome::Unchanged));
    assert_eq!(emulator.registrations(), 1);

    // After a resource server's 401, a fresh task.
    let recovered = manager.recover_unauthorized().await.expect("recovered");
    assert_ne!(recovered.task_id(), auth.task_id());
    assert_eq!(echo(&emulator, &recovered).await.0, 200);

    // The other process logs out; this one follows on its next reload.
    other.logout().await.expect("logout");
    assert!(!store.path().exists());
    assert!(matches!(
        manager.reload().await,
        ReloadOutcome::LoggedOut { .. }
    ));
    assert!(matches!(*manager.state(), AuthState::LoggedOut));
}

async fn manager_for_home(
    emulator: &Emulator,
    home: &std::path::Path,
) -> agent_identity_sdk::AuthManager {
    manager(emulator, Arc::new(FileStore::new(home))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_or_foreign_assertions_are_rejected() {
    let emulator = Emulator::start().await.expect("emulator");
    let store = Arc::new(agent_identity_sdk::MemoryStore::with_token(
        emulator.mint().issue().expect("mint").token,
    ));
    let manager = manager(&emulator, store).await;
    let auth = manager.auth().expect("ready");
    let headers = auth.headers().expect("headers");
    let tampered = format!("{}x", headers.authorization());
    let response = reqwest::Client::new()
        .get(emulator.echo_url())
        .header("authorization", tampered)
        .header("chatgpt-account-id", headers.chatgpt_account_id())
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(emulator.assertions_rejected(), 1);
    assert_eq!(emulator.assertions_accepted(), 0);
}
