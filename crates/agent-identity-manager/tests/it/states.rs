//! The state machine under faults: transient failures keep the cached identity, permanent
//! verdicts log out, and the store's changes are followed.

use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::{HttpJwksSource, JwtError, SigningAlgorithm, Verifier};
use agent_identity_manager::{
    AuthError, AuthManager, AuthState, CredentialStore, FileStore, LogoutReason, MemoryStore,
    ReloadOutcome,
};
use agent_identity_task::TaskErrorKind;

use crate::support::{
    TestClock, jwks_with_kids, manager, now_secs, tasks, token, valid_token, verifier,
};
use agent_identity_test_support::{Answer, FakeService};

struct Loaded {
    service: FakeService,
    store: Arc<MemoryStore>,
    clock: Arc<TestClock>,
    manager: AuthManager,
}

/// A manager that loaded `valid_token()` and registered `task-1`.
async fn loaded(attempt_timeout: Option<Duration>) -> Loaded {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let store = Arc::new(MemoryStore::with_token(valid_token()));
    let clock = TestClock::new();
    let manager = AuthManager::new(
        verifier(&service.jwks_url(), Arc::clone(&clock)),
        tasks(&service.authapi_base(), attempt_timeout),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
    )
    .await
    .expect("loads");
    assert_eq!(manager.auth().expect("ready").task_id().as_str(), "task-1");
    Loaded {
        service,
        store,
        clock,
        manager,
    }
}

fn task_id(manager: &AuthManager) -> String {
    manager
        .auth()
        .expect("still ready")
        .task_id()
        .as_str()
        .to_owned()
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    JwksAnswers500,
    RegistrationAnswers503,
    ConnectionRefused,
    RegistrationTimesOut,
}

#[tokio::test(start_paused = true)]
async fn reload_keeps_cached_auth_through_every_transient_fault() {
    for fault in [
        Fault::JwksAnswers500,
        Fault::RegistrationAnswers503,
        Fault::ConnectionRefused,
        Fault::RegistrationTimesOut,
    ] {
        let loaded = loaded(Some(Duration::from_secs(30))).await;
        let mut updates = loaded.manager.subscribe();
        updates.mark_unchanged();
        // Another writer stores a new token; setting it up then meets the fault.
        let replacement = match fault {
            // A token under a rotated kid forces a key set refetch, which fails.
            Fault::JwksAnswers500 => {
                loaded.service.answer_jwks([Answer::Status(500)]);
                tokio::time::advance(agent_identity_jwt::DEFAULT_REFETCH_INTERVAL).await;
                token("agent-123", "rotated-kid", now_secs() + 7200)
            }
            Fault::RegistrationAnswers503 => {
                loaded.service.answer_register([Answer::Status(503); 3]);
                token("agent-123", "shared-key-1", now_secs() + 7200)
            }
            Fault::ConnectionRefused => {
                loaded.service.stop().await;
                token("agent-123", "shared-key-1", now_secs() + 7200)
            }
            Fault::RegistrationTimesOut => {
                loaded
                    .service
                    .answer_register([Answer::Hang, Answer::Hang, Answer::Hang]);
                token("agent-123", "shared-key-1", now_secs() + 7200)
            }
        };
        loaded.store.save(&replacement).expect("memory store");
        let outcome = loaded.manager.reload().await;
        let ReloadOutcome::KeptCached { error } = &outcome else {
            panic!("{fault:?}: expected KeptCached, got {outcome:?}");
        };
        assert!(error.is_transient(), "{fault:?}: {error}");
        match fault {
            Fault::JwksAnswers500 => assert!(
                matches!(error, AuthError::Token(JwtError::KeySourceUnavailable(_))),
                "{fault:?}: {error:?}"
            ),
            Fault::RegistrationAnswers503 => {
                assert!(
                    matches!(error, AuthError::Task(e) if e.status() == Some(503)),
                    "{fault:?}"
                );
                assert_eq!(
                    loaded.service.register_hits(),
                    1 + 3,
                    "{fault:?}: retried up to the attempt limit"
                );
            }
            Fault::ConnectionRefused => {
                assert!(
                    matches!(error, AuthError::Task(e) if e.reason() == TaskErrorKind::Connect),
                    "{fault:?}"
                );
            }
            Fault::RegistrationTimesOut => {
                assert!(
                    matches!(error, AuthError::Task(e) if e.reason() == TaskErrorKind::Timeout),
                    "{fault:?}"
                );
            }
        }
        assert_eq!(
            task_id(&loaded.manager),
            "task-1",
            "{fault:?}: same identity, same task"
        );
        assert_eq!(loaded.manager.state().name(), "ready", "{fault:?}");
        assert!(
            !updates.has_changed().expect("sender alive"),
            "{fault:?}: no state change was published"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn registration_401_logs_out() {
    for status in [401, 403] {
        let loaded = loaded(None).await;
        loaded.service.answer_register([Answer::Status(status)]);
        loaded
            .store
            .save(&token("agent-123", "shared-key-1", now_secs() + 7200))
            .expect("save");
        let outcome = loaded.manager.reload().await;
        assert!(
            matches!(&outcome, ReloadOutcome::LoggedOut { reason: LogoutReason::Revoked(AuthError::Task(e)) } if e.status() == Some(status)),
            "{status}: {outcome:?}"
        );
        assert_eq!(loaded.service.register_hits(), 2, "{status} is not retried");
        assert!(
            matches!(loaded.manager.auth(), Err(AuthError::Task(e)) if e.status() == Some(status)),
            "{status}: auth() gives the verdict, not a bare not-logged-in"
        );
        assert!(
            matches!(loaded.manager.logout_reason(), Some(LogoutReason::Revoked(AuthError::Task(e))) if e.status() == Some(status)),
            "the verdict is kept for status and diagnostics"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_token_rejected_at_load_is_what_auth_returns() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let source = HttpJwksSource::builder(service.jwks_url().parse().expect("url"))
        .expect("loopback url")
        .build();
    // The vectors' tokens are RS256; this verifier accepts EdDSA alone.
    let verifier = Verifier::builder(source)
        .clock(TestClock::new())
        .algorithms([SigningAlgorithm::EdDsa])
        .build();
    let store = Arc::new(MemoryStore::with_token(valid_token()));
    let manager = AuthManager::new(verifier, tasks(&service.authapi_base(), None), store)
        .await
        .expect("loads");
    assert_eq!(manager.state().name(), "logged_out");
    let error = manager.auth().expect_err("rejected");
    assert!(
        matches!(&error, AuthError::Token(JwtError::AlgorithmNotAllowed { alg, .. }) if alg == "RS256"),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "token algorithm \"RS256\" is not among the accepted algorithms [EdDSA]"
    );
    assert_eq!(
        service.register_hits(),
        0,
        "nothing registered for a rejected token"
    );
}

#[tokio::test(start_paused = true)]
async fn status_of_a_rejected_identity_carries_the_verdict() {
    let loaded = loaded(None).await;
    loaded.service.answer_register([Answer::Status(401)]);
    loaded
        .store
        .save(&token("agent-123", "shared-key-1", now_secs() + 7200))
        .expect("save");
    loaded.manager.reload().await;
    let status = loaded.manager.status();
    assert_eq!(status.state(), "logged_out");
    let error = status.error().expect("the verdict");
    assert!(
        matches!(error, AuthError::Task(e) if e.status() == Some(401)),
        "{error:?}"
    );
    // After an explicit logout there is nothing to explain.
    loaded.manager.logout().await.expect("logout");
    assert!(matches!(loaded.manager.auth(), Err(AuthError::NotLoggedIn)));
    assert!(loaded.manager.status().error().is_none());
}

#[tokio::test(start_paused = true)]
async fn other_permanent_registration_errors_keep_the_cached_identity() {
    let loaded = loaded(None).await;
    loaded.service.answer_register([Answer::Status(404)]);
    loaded
        .store
        .save(&token("agent-123", "shared-key-1", now_secs() + 7200))
        .expect("save");
    let outcome = loaded.manager.reload().await;
    assert!(
        matches!(outcome, ReloadOutcome::KeptCached { .. }),
        "{outcome:?}"
    );
    assert_eq!(task_id(&loaded.manager), "task-1");
}

#[tokio::test(start_paused = true)]
async fn emptied_store_logs_out() {
    let loaded = loaded(None).await;
    loaded.store.clear().expect("clear");
    let outcome = loaded.manager.reload().await;
    assert!(
        matches!(
            outcome,
            ReloadOutcome::LoggedOut {
                reason: LogoutReason::StoreEmptied
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(loaded.manager.state().name(), "logged_out");
    assert!(matches!(
        loaded.manager.logout_reason(),
        Some(LogoutReason::StoreEmptied)
    ));
    assert!(matches!(
        loaded.manager.reload().await,
        ReloadOutcome::Unchanged
    ));
}

#[tokio::test(start_paused = true)]
async fn replaced_token_is_loaded_with_a_new_task() {
    let loaded = loaded(None).await;
    loaded
        .store
        .save(&token("agent-456", "shared-key-1", now_secs() + 7200))
        .expect("save");
    let outcome = loaded.manager.reload().await;
    assert!(matches!(outcome, ReloadOutcome::Updated), "{outcome:?}");
    let auth = loaded.manager.auth().expect("ready");
    assert_eq!(auth.task_id().as_str(), "task-2");
    assert_eq!(auth.record().runtime_id().as_str(), "agent-456");
}

#[tokio::test(start_paused = true)]
async fn unchanged_token_registers_no_new_task() {
    let loaded = loaded(None).await;
    for _ in 0..5 {
        assert!(matches!(
            loaded.manager.reload().await,
            ReloadOutcome::Unchanged
        ));
    }
    assert_eq!(loaded.service.register_hits(), 1);
    assert_eq!(task_id(&loaded.manager), "task-1");
}

#[tokio::test(start_paused = true)]
async fn invalid_replacement_token_logs_out() {
    let loaded = loaded(None).await;
    // Signed under a kid the key set does not have, even after the refetch it earns.
    tokio::time::advance(agent_identity_jwt::DEFAULT_REFETCH_INTERVAL).await;
    loaded
        .store
        .save(&token("agent-123", "unknown-kid", now_secs() + 7200))
        .expect("save");
    let outcome = loaded.manager.reload().await;
    assert!(
        matches!(
            &outcome,
            ReloadOutcome::LoggedOut {
                reason: LogoutReason::Revoked(AuthError::Token(JwtError::UntrustedKid { .. }))
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(loaded.manager.state().name(), "logged_out");
}

#[tokio::test(start_paused = true)]
async fn corrupt_file_is_reported_and_the_cached_identity_kept() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let home = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(home.path());
    store.save(&valid_token()).expect("save");
    let clock = TestClock::new();
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(store.clone()),
        clock,
    )
    .await;
    assert_eq!(task_id(&manager), "task-1");
    // A torn write by a foreign tool: half a document.
    let text = std::fs::read_to_string(store.path()).expect("read");
    std::fs::write(store.path(), &text[..text.len() / 2]).expect("tear");
    let outcome = manager.reload().await;
    assert!(
        matches!(
            &outcome,
            ReloadOutcome::KeptCached {
                error: AuthError::Store(agent_identity_manager::StoreError::Corrupt { .. })
            }
        ),
        "{outcome:?}"
    );
    assert_eq!(task_id(&manager), "task-1");
    let status = manager.status();
    assert_eq!(status.state(), "ready");
    assert_eq!(status.error().map(AuthError::kind), Some("store_corrupt"));
}

#[tokio::test(start_paused = true)]
async fn corrupt_file_at_startup_is_an_error_not_a_logout() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let home = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        home.path().join("auth.json"),
        "{\"auth_mode\": \"agentIdent",
    )
    .expect("write");
    let error = AuthManager::new(
        verifier(&service.jwks_url(), TestClock::new()),
        tasks(&service.authapi_base(), None),
        Arc::new(FileStore::new(home.path())),
    )
    .await
    .expect_err("corrupt store");
    assert_eq!(error.kind(), "store_corrupt");
}

#[tokio::test(start_paused = true)]
async fn passing_expiry_moves_ready_to_expired() {
    let loaded = loaded(None).await;
    let mut updates = loaded.manager.subscribe();
    updates.mark_unchanged();
    // Within the leeway after exp, still ready; past it, never.
    loaded.clock.advance(Duration::from_secs(3600 + 30));
    assert!(loaded.manager.auth().is_ok());
    loaded.clock.advance(Duration::from_secs(31));
    assert!(matches!(loaded.manager.auth(), Err(AuthError::Expired)));
    assert!(matches!(
        &*loaded.manager.state(),
        AuthState::Expired { .. }
    ));
    assert!(
        updates.has_changed().expect("alive"),
        "subscribers hear of the expiry"
    );
    assert_eq!(updates.borrow_and_update().name(), "expired");
    assert_eq!(loaded.manager.status().state(), "expired");
}

#[tokio::test(start_paused = true)]
async fn expiry_is_published_without_a_reader() {
    let loaded = loaded(None).await;
    let mut updates = loaded.manager.subscribe();
    updates.mark_unchanged();
    loaded.clock.advance(Duration::from_secs(2 * 3600));
    // The watchdog wakes within the hour it sleeps at most, and finds the identity expired.
    tokio::time::advance(Duration::from_secs(3600)).await;
    tokio::time::timeout(Duration::from_secs(1), updates.changed())
        .await
        .expect("notified")
        .expect("alive");
    assert_eq!(updates.borrow().name(), "expired");
}

#[tokio::test(start_paused = true)]
async fn unreachable_authapi_at_startup_is_unavailable_then_recovers() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    service.answer_register([Answer::Status(503); 3]);
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(MemoryStore::with_token(valid_token())),
        TestClock::new(),
    )
    .await;
    match &*manager.state() {
        AuthState::Unavailable { identity, error } => {
            assert_eq!(identity.runtime_id().as_str(), "agent-123");
            assert!(error.is_transient());
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let error = manager
        .auth()
        .expect_err("request paths get the transient error");
    assert!(error.is_transient());
    // Right after the failed load, first use does not hammer the AuthAPI again.
    let error = manager
        .auth_or_reload()
        .await
        .expect_err("still cooling down");
    assert!(error.is_transient());
    assert_eq!(service.register_hits(), 3, "no reload during the cooldown");
    tokio::time::advance(agent_identity_manager::RELOAD_FAILURE_COOLDOWN).await;
    let auth = manager.auth_or_reload().await.expect("the AuthAPI is back");
    assert_eq!(auth.task_id().as_str(), "task-4");
}

#[tokio::test(start_paused = true)]
async fn a_token_under_a_newly_rotated_kid_keeps_the_cached_identity_until_the_refetch() {
    let loaded = loaded(None).await;
    // The issuer rotates its key; a token signed under the new kid is stored right away, before
    // the key set may be fetched again.
    loaded
        .service
        .set_jwks_body(jwks_with_kids(&["shared-key-1", "rotated-kid"]));
    loaded
        .store
        .save(&token("agent-456", "rotated-kid", now_secs() + 7200))
        .expect("save");
    let outcome = loaded.manager.reload().await;
    assert!(
        matches!(
            &outcome,
            ReloadOutcome::KeptCached {
                error: AuthError::Token(JwtError::KidNotYetKnown { .. })
            }
        ),
        "an unknown kid is not a verdict while the refetch is deferred: {outcome:?}"
    );
    assert_eq!(task_id(&loaded.manager), "task-1");
    tokio::time::advance(agent_identity_jwt::DEFAULT_REFETCH_INTERVAL).await;
    assert!(matches!(
        loaded.manager.reload().await,
        ReloadOutcome::Updated
    ));
    assert_eq!(
        loaded
            .manager
            .auth()
            .expect("ready")
            .record()
            .runtime_id()
            .as_str(),
        "agent-456"
    );
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_reload_does_not_block_logout() {
    let loaded = loaded(Some(Duration::from_secs(30))).await;
    loaded
        .service
        .answer_register([Answer::Hang, Answer::Hang, Answer::Hang]);
    loaded
        .store
        .save(&token("agent-123", "shared-key-1", now_secs() + 7200))
        .expect("save");
    // The caller gives up on a reload stuck in registration.
    let gave_up = tokio::time::timeout(Duration::from_secs(1), loaded.manager.reload()).await;
    assert!(gave_up.is_err(), "the registration hangs");
    // The flight goes on by itself (its attempts time out), and releases the operations lock.
    let logout = tokio::time::timeout(Duration::from_secs(600), loaded.manager.logout()).await;
    logout
        .expect("logout is not blocked forever")
        .expect("logout");
    assert_eq!(loaded.manager.state().name(), "logged_out");
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_while_ready_is_reported_as_serving_the_cached_identity() {
    let loaded = loaded(None).await;
    assert!(loaded.manager.degraded().is_none());
    loaded
        .store
        .save(&token("agent-123", "shared-key-1", now_secs() + 7200))
        .expect("save");
    loaded.service.answer_register([Answer::Status(503); 6]);
    let before = agent_identity_jwt::Clock::now(&*loaded.clock);
    loaded.manager.reload().await;
    let degraded = loaded.manager.degraded().expect("degraded");
    assert_eq!(degraded.since(), before);
    assert!(degraded.error().is_transient());
    let text = degraded.to_string();
    assert!(
        text.starts_with("serving the cached identity since ") && text.contains(" because "),
        "{text}"
    );
    let status = loaded.manager.status();
    assert_eq!(status.state(), "ready");
    assert_eq!(status.degraded().map(|d| d.since()), Some(before));
    // Another failure later keeps the first one's time.
    loaded.clock.advance(Duration::from_secs(60));
    loaded.manager.reload().await;
    assert_eq!(loaded.manager.degraded().map(|d| d.since()), Some(before));
    // Once a reload gets through, the degradation is over.
    assert!(matches!(
        loaded.manager.reload().await,
        ReloadOutcome::Updated
    ));
    assert!(loaded.manager.degraded().is_none());
    assert!(loaded.manager.status().degraded().is_none());
}
