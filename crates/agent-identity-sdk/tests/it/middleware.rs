//! `AgentIdentityMiddleware` against the emulator's protected endpoint.

use std::sync::Arc;

use agent_identity_sdk::emulator::Emulator;
use agent_identity_sdk::{AuthError, MemoryStore, auth_error};

use crate::support::{builder, client, from_env, logged_in};

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_requests_are_all_accepted() {
    let emulator = Emulator::start().await.expect("emulator");
    let manager = logged_in(&emulator).await;
    let client = client(&manager);
    let requests = (0..50).map(|_| client.get(emulator.echo_url()).send());
    let responses = futures_util::future::join_all(requests).await;
    for response in responses {
        assert_eq!(response.expect("sent").status(), 200);
    }
    assert_eq!(emulator.assertions_accepted(), 50);
    assert_eq!(emulator.assertions_rejected(), 0);
    assert_eq!(emulator.registrations(), 1, "one task for all of them");
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_tasks_cost_one_recovery_and_the_request_succeeds() {
    let emulator = Emulator::start().await.expect("emulator");
    let token = emulator.mint().issue().expect("mint").token;
    let manager = from_env(&emulator, token.expose_secret())
        .build()
        .await
        .expect("loads");
    let first_task = manager.auth().expect("ready").task_id().clone();
    let client = client(&manager);
    assert_eq!(emulator.revoke_tasks(), 1);

    let response = client.get(emulator.echo_url()).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let task = manager.auth().expect("ready").task_id().clone();
    assert_ne!(task, first_task, "a new task was registered");
    assert_eq!(body["task_id"], task.as_str());
    assert_eq!(emulator.registrations(), 2, "exactly one recovery");
    assert_eq!(emulator.assertions_rejected(), 1, "the one 401");
    assert_eq!(emulator.assertions_accepted(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logged_out_manager_fails_with_a_typed_error_and_sends_nothing() {
    let emulator = Emulator::start().await.expect("emulator");
    let manager = builder(&emulator)
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .expect("an empty store is not an error");
    let error = client(&manager)
        .get(emulator.echo_url())
        .send()
        .await
        .expect_err("not logged in");
    assert!(
        matches!(auth_error(&error), Some(AuthError::NotLoggedIn)),
        "{error:?}"
    );
    assert_eq!(
        emulator.assertions_accepted() + emulator.assertions_rejected(),
        0,
        "the emulator saw no request"
    );
    assert_eq!(emulator.registrations(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_fails_with_its_verdict() {
    let emulator = Emulator::builder()
        .algorithm(agent_identity_sdk::SigningAlgorithm::EdDsa)
        .start()
        .await
        .expect("emulator");
    let token = emulator.mint().issue().expect("mint").token;
    // The default algorithms (RS256 alone) reject an EdDSA token.
    let manager = from_env(&emulator, token.expose_secret())
        .algorithms([agent_identity_sdk::SigningAlgorithm::Rs256])
        .build()
        .await
        .expect("loads, logged out");
    let error = client(&manager)
        .get(emulator.echo_url())
        .send()
        .await
        .expect_err("rejected");
    let cause = auth_error(&error).expect("an AuthError");
    assert_eq!(cause.kind(), "algorithm_not_allowed", "{cause}");
    assert!(cause.to_string().contains("EdDSA"), "{cause}");
    assert_eq!(
        manager.status().error().map(AuthError::kind),
        Some("algorithm_not_allowed")
    );
}
