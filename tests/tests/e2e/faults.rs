//! Every fault knob of the emulator, seen through the manager: what fails, what is kept, and
//! how it recovers.

use std::sync::Arc;
use std::time::Duration;

use agent_identity_sdk::emulator::{Emulator, RegistrationForm};
use agent_identity_sdk::{
    AuthError, AuthState, CredentialStore, MemoryStore, ReloadOutcome, TaskErrorKind,
};

use crate::support::{echo, manager, quick_tasks};

fn store_with(emulator: &Emulator) -> Arc<MemoryStore> {
    Arc::new(MemoryStore::with_token(
        emulator.mint().issue().expect("mint").token,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_registrations_are_retried_through() {
    let emulator = Emulator::start().await.expect("emulator");
    emulator.fail_next_registrations(3, 503);
    let manager = manager(&emulator, store_with(&emulator)).await;
    assert_eq!(
        manager.state().name(),
        "ready",
        "three 503s fit in four attempts"
    );
    assert_eq!(emulator.registrations(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_outage_during_reload_keeps_the_identity() {
    let emulator = Emulator::start().await.expect("emulator");
    let store = store_with(&emulator);
    let manager = manager(&emulator, Arc::clone(&store) as Arc<dyn CredentialStore>).await;
    let task = manager.auth().expect("ready").task_id().clone();
    emulator.fail_next_registrations(100, 503);
    store
        .save(&emulator.mint().issue().expect("mint").token)
        .expect("save");
    let outcome = manager.reload().await;
    assert!(
        matches!(outcome, ReloadOutcome::KeptCached { ref error } if error.is_transient()),
        "{outcome:?}"
    );
    assert_eq!(manager.auth().expect("kept").task_id(), &task);
    assert_eq!(echo(&emulator, &manager.auth().expect("kept")).await.0, 200);
    emulator.fail_next_registrations(0, 503);
    assert!(matches!(manager.reload().await, ReloadOutcome::Updated));
    assert_ne!(manager.auth().expect("updated").task_id(), &task);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_registration_logs_out() {
    let emulator = Emulator::start().await.expect("emulator");
    let store = store_with(&emulator);
    let manager = manager(&emulator, Arc::clone(&store) as Arc<dyn CredentialStore>).await;
    emulator.fail_next_registrations(1, 401);
    store
        .save(&emulator.mint().issue().expect("mint").token)
        .expect("save");
    assert!(matches!(
        manager.reload().await,
        ReloadOutcome::LoggedOut { .. }
    ));
    // The verdict itself, not a bare "not logged in".
    assert!(matches!(manager.auth(), Err(AuthError::Task(e)) if e.status() == Some(401)));
}

#[tokio::test(start_paused = true)]
async fn key_set_outage_at_start_is_unavailable_until_it_returns() {
    let emulator = Emulator::start().await.expect("emulator");
    emulator.fail_next_jwks(1, 500);
    let manager = manager(&emulator, store_with(&emulator)).await;
    match &*manager.state() {
        AuthState::Unavailable { error, .. } => assert_eq!(error.kind(), "key_source_unavailable"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let error = manager.auth().expect_err("not ready");
    assert!(error.is_transient());
    // Once the failure's cooldown is over, first use reloads and finds the key set back.
    tokio::time::advance(agent_identity_sdk::manager::RELOAD_FAILURE_COOLDOWN).await;
    manager.auth_or_reload().await.expect("the key set is back");
    assert_eq!(emulator.jwks_fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn slow_authapi_times_out_and_recovers() {
    let emulator = Emulator::start().await.expect("emulator");
    emulator.set_latency(Duration::from_secs(5));
    let tasks = emulator
        .task_client_builder()
        .attempt_timeout(Duration::from_secs(2))
        .max_attempts(2)
        .build();
    let manager =
        agent_identity_sdk::AuthManager::new(emulator.verifier(), tasks, store_with(&emulator))
            .await
            .expect("loads");
    match &*manager.state() {
        AuthState::Unavailable {
            error: AuthError::Task(error),
            ..
        } => {
            assert_eq!(error.reason(), TaskErrorKind::Timeout);
        }
        other => panic!("expected a registration timeout, got {other:?}"),
    }
    emulator.set_latency(Duration::ZERO);
    assert!(matches!(manager.reload().await, ReloadOutcome::Updated));
}

#[tokio::test(start_paused = true)]
async fn dropped_connection_during_the_key_fetch_is_transient() {
    let emulator = Emulator::start().await.expect("emulator");
    let store = store_with(&emulator);
    let token = store.load().expect("memory").expect("a token");
    // The verifier alone, so that the dropped connection is the key fetch's and no other.
    let verifier = emulator.verifier();
    emulator.drop_next_connections(1);
    let error = verifier
        .verify(&token)
        .await
        .expect_err("the fetch was cut");
    assert!(error.is_transient(), "{error}");
    // A manager over the same verifier gets that failure until its cooldown is over, as an
    // `unavailable` state, then loads.
    let early = agent_identity_sdk::AuthManager::new(
        verifier.clone(),
        quick_tasks(&emulator),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
    )
    .await
    .expect("loads");
    assert_eq!(early.state().name(), "unavailable");
    tokio::time::advance(agent_identity_sdk::jwt::FETCH_FAILURE_COOLDOWN).await;
    let manager = agent_identity_sdk::AuthManager::new(verifier, quick_tasks(&emulator), store)
        .await
        .expect("loads");
    assert_eq!(manager.state().name(), "ready");
}

#[tokio::test(start_paused = true)]
async fn rotated_signing_key_is_picked_up_without_dropping_old_tokens() {
    let emulator = Emulator::start().await.expect("emulator");
    let store = store_with(&emulator);
    let manager = manager(&emulator, Arc::clone(&store) as Arc<dyn CredentialStore>).await;
    let old_kid = emulator.current_kid();
    let before_rotation = emulator.mint().issue().expect("mint under the old key");
    let new_kid = emulator.rotate_signing_key();
    assert_ne!(old_kid, new_kid);
    let rotated = emulator.mint().issue().expect("mint");
    assert_eq!(rotated.kid, new_kid);
    // Right after the load's fetch, the new kid is not a verdict: the identity is kept...
    store.save(&rotated.token).expect("save");
    let outcome = manager.reload().await;
    assert!(
        matches!(outcome, ReloadOutcome::KeptCached { ref error } if error.is_transient()),
        "{outcome:?}"
    );
    // ...and once the refetch interval has passed, the rotated key is fetched and the token loads.
    tokio::time::advance(agent_identity_sdk::jwt::DEFAULT_REFETCH_INTERVAL).await;
    assert!(matches!(manager.reload().await, ReloadOutcome::Updated));
    assert_eq!(
        manager.auth().expect("ready").record().runtime_id(),
        &rotated.runtime_id
    );
    // Tokens signed before the rotation still verify.
    assert_eq!(before_rotation.kid, old_kid);
    emulator
        .verifier()
        .verify(&before_rotation.token)
        .await
        .expect("the old key is still published");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_registration_form_yields_a_working_task() {
    for form in RegistrationForm::ALL {
        let emulator = Emulator::builder()
            .registration_form(form)
            .start()
            .await
            .expect("emulator");
        let manager = manager(&emulator, store_with(&emulator)).await;
        let auth = manager
            .auth()
            .unwrap_or_else(|error| panic!("{form:?}: {error}"));
        let (status, body) = echo(&emulator, &auth).await;
        assert_eq!(status, 200, "{form:?}: {body}");
        assert_eq!(body["task_id"], auth.task_id().as_str(), "{form:?}");
    }
}
