//! Login, logout, recovery, subscriptions and offline status.

use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::{IdentityJwt, SystemClock};
use agent_identity_manager::{AuthError, CredentialStore, FileStore, MemoryStore, Status};

use crate::support::{TestClock, jwks_with_kids, manager, now_secs, token, valid_token, vectors};
use agent_identity_test_support::{Answer, FakeService};

async fn service() -> FakeService {
    FakeService::start(jwks_with_kids(&["shared-key-1"])).await
}

#[tokio::test(start_paused = true)]
async fn login_verifies_registers_then_stores() {
    let service = service().await;
    let home = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(home.path());
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(store.clone()),
        TestClock::new(),
    )
    .await;
    assert_eq!(manager.state().name(), "logged_out");
    // One token: `valid_token()` reads the clock, and two calls can straddle a second.
    let token = valid_token();
    let auth = manager.login(token.clone()).await.expect("login");
    assert_eq!(auth.task_id().as_str(), "task-1");
    assert_eq!(store.load().expect("readable"), Some(token));
    assert_eq!(manager.auth().expect("ready").task_id().as_str(), "task-1");
}

#[tokio::test(start_paused = true)]
async fn failed_login_leaves_the_file_byte_for_byte_intact() {
    let service = service().await;
    let home = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(home.path());
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(store.clone()),
        TestClock::new(),
    )
    .await;
    manager.login(valid_token()).await.expect("first login");
    let before = std::fs::read(store.path()).expect("read");

    // A token that does not verify, then a valid one whose registration is refused.
    let expired = token("agent-123", "shared-key-1", now_secs() - 3600);
    assert_eq!(
        manager.login(expired).await.expect_err("expired").kind(),
        "expired"
    );
    service.answer_register([Answer::Status(403)]);
    let refused = token("agent-999", "shared-key-1", now_secs() + 7200);
    assert!(manager.login(refused).await.is_err());
    assert_eq!(std::fs::read(store.path()).expect("read"), before);
    assert_eq!(
        manager.auth().expect("still ready").task_id().as_str(),
        "task-1"
    );
}

#[tokio::test(start_paused = true)]
async fn logout_deletes_credentials_and_publishes_logged_out() {
    let service = service().await;
    let home = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(home.path());
    store.save(&valid_token()).expect("save");
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(store.clone()),
        TestClock::new(),
    )
    .await;
    let mut updates = manager.subscribe();
    assert_eq!(updates.borrow_and_update().name(), "ready");
    manager.logout().await.expect("logout");
    assert!(!store.path().exists());
    assert!(updates.has_changed().expect("alive"));
    assert_eq!(updates.borrow_and_update().name(), "logged_out");
    assert!(matches!(manager.auth(), Err(AuthError::NotLoggedIn)));
    assert!(
        manager.logout_reason().is_none(),
        "an explicit logout is no verdict"
    );
}

#[tokio::test(start_paused = true)]
async fn recovery_after_401_registers_once_for_all_callers() {
    let service = service().await;
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(MemoryStore::with_token(valid_token())),
        TestClock::new(),
    )
    .await;
    assert_eq!(manager.auth().expect("ready").task_id().as_str(), "task-1");
    let recovered =
        futures_util::future::join_all((0..100).map(|_| manager.recover_unauthorized())).await;
    for auth in recovered {
        assert_eq!(auth.expect("recovered").task_id().as_str(), "task-2");
    }
    assert_eq!(service.register_hits(), 2);
    assert_eq!(manager.auth().expect("ready").task_id().as_str(), "task-2");
}

#[tokio::test(start_paused = true)]
async fn recovery_registers_at_most_once_per_cooldown() {
    let service = service().await;
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(MemoryStore::with_token(valid_token())),
        TestClock::new(),
    )
    .await;
    let recovered = manager.recover_unauthorized().await.expect("recovered");
    assert_eq!(recovered.task_id().as_str(), "task-2");
    // A resource server that answers 401 to everything: the retry loop keeps asking.
    for _ in 0..20 {
        let again = manager.recover_unauthorized().await.expect("current auth");
        assert_eq!(again.task_id().as_str(), "task-2");
    }
    assert_eq!(service.register_hits(), 2, "no registration per request");
    tokio::time::advance(agent_identity_manager::RECOVERY_COOLDOWN).await;
    let later = manager.recover_unauthorized().await.expect("recovered");
    assert_eq!(later.task_id().as_str(), "task-3");
}

#[tokio::test(start_paused = true)]
async fn failed_recovery_keeps_the_current_task() {
    let service = service().await;
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(MemoryStore::with_token(valid_token())),
        TestClock::new(),
    )
    .await;
    service.answer_register([Answer::Status(503); 3]);
    let error = manager
        .recover_unauthorized()
        .await
        .expect_err("AuthAPI down");
    assert!(error.is_transient());
    assert_eq!(manager.auth().expect("kept").task_id().as_str(), "task-1");
}

#[tokio::test(start_paused = true)]
async fn status_makes_no_network_call() {
    let service = service().await;
    let store = Arc::new(MemoryStore::with_token(valid_token()));
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
        TestClock::new(),
    )
    .await;
    let (jwks, registrations) = (service.jwks_hits(), service.register_hits());
    // Even with the stored token replaced, status reads but does not load it.
    store
        .save(&token("agent-456", "shared-key-1", now_secs() + 7200))
        .expect("save");
    service.stop().await;
    for _ in 0..10 {
        let status = manager.status();
        assert_eq!(status.state(), "ready");
        assert_eq!(status.task_id().map(|task| task.as_str()), Some("task-1"));
    }
    let offline = Status::read(&*store, &SystemClock, Duration::from_secs(60));
    assert_eq!(offline.state(), "ready");
    assert_eq!(
        offline.identity().map(|id| id.runtime_id().as_str()),
        Some("agent-456")
    );
    assert_eq!(
        (service.jwks_hits(), service.register_hits()),
        (jwks, registrations)
    );
}

#[test]
fn offline_status_reports_each_state() {
    let empty = MemoryStore::new();
    assert_eq!(
        Status::read(&empty, &SystemClock, Duration::from_secs(60)).state(),
        "logged_out"
    );
    let expired = MemoryStore::with_token(token("agent-123", "shared-key-1", now_secs() - 3600));
    let status = Status::read(&expired, &SystemClock, Duration::from_secs(60));
    assert_eq!(status.state(), "expired");
    assert!(status.identity().is_some());
    let garbage = MemoryStore::with_token(IdentityJwt::new("not.a.token"));
    let status = Status::read(&garbage, &SystemClock, Duration::from_secs(60));
    assert_eq!(status.state(), "logged_out");
    assert!(status.error().is_some());
}

#[tokio::test(start_paused = true)]
async fn traces_and_errors_never_contain_the_token_or_key() {
    let capture = crate::support::capture_traces();

    let service = service().await;
    let store = Arc::new(MemoryStore::with_token(valid_token()));
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
        TestClock::new(),
    )
    .await;
    let mut printed = format!(
        "{manager:?}\n{:?}\n{:?}\n",
        manager.state(),
        manager.status()
    );
    service.answer_register([Answer::Status(503); 3]);
    store
        .save(&token("agent-123", "shared-key-1", now_secs() + 7000))
        .expect("save");
    printed.push_str(&format!("{:?}\n", manager.reload().await));
    service.answer_register([Answer::Status(401)]);
    printed.push_str(&format!("{:?}\n", manager.reload().await));
    let expired = token("agent-123", "shared-key-1", now_secs() - 3600);
    let error = manager.login(expired.clone()).await.expect_err("expired");
    printed.push_str(&format!("{error}\n{error:?}\n"));
    printed.push_str(&format!("{:?}\n", manager.auth()));

    let traces = capture.text();
    assert!(
        traces.contains("agent_identity.reload"),
        "spans were captured: {traces}"
    );
    let key = vectors().ed25519[0].private_key_pkcs8_base64.as_str();
    for secret in [valid_token().expose_secret(), expired.expose_secret(), key] {
        assert!(!printed.contains(secret), "printed output leaked a secret");
        assert!(!traces.contains(secret), "traces leaked a secret");
    }
}

#[tokio::test(start_paused = true)]
async fn a_login_flow_starts_logged_out_without_touching_the_stored_identity() {
    let service = service().await;
    let store = Arc::new(MemoryStore::with_token(token(
        "agent-old",
        "shared-key-1",
        now_secs() + 3600,
    )));
    let manager = agent_identity_manager::AuthManager::without_credentials(
        crate::support::verifier(&service.jwks_url(), TestClock::new()),
        crate::support::tasks(&service.authapi_base(), None),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
        agent_identity_manager::TaskReuse::default(),
    );
    assert_eq!(manager.state().name(), "logged_out");
    assert_eq!(
        (service.jwks_hits(), service.register_hits()),
        (0, 0),
        "nothing was set up"
    );
    let token = valid_token();
    let auth = manager.login(token.clone()).await.expect("login");
    assert_eq!(auth.record().runtime_id().as_str(), "agent-123");
    assert_eq!(
        service.register_hits(),
        1,
        "only the new identity was registered"
    );
    assert_eq!(store.load().expect("memory"), Some(token));
}

#[tokio::test(start_paused = true)]
async fn a_key_that_cannot_sign_is_refused_as_an_invalid_token_before_registration() {
    let service = service().await;
    let store = Arc::new(MemoryStore::new());
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
        TestClock::new(),
    )
    .await;
    let error = manager
        .login(crate::support::token_with_inconsistent_key())
        .await
        .expect_err("unusable key");
    assert!(
        matches!(
            error,
            AuthError::Token(agent_identity_jwt::JwtError::InvalidPrivateKey(_))
        ),
        "{error:?}"
    );
    assert!(error.revokes_identity() && !error.is_transient());
    assert_eq!(service.register_hits(), 0, "nothing was registered with it");
    assert_eq!(store.load().expect("memory"), None);
}

#[test]
fn headers_within_one_second_are_exactly_what_a_fresh_signature_gives() {
    use agent_identity_manager::AgentIdentityAuth;
    use agent_identity_task::{TaskId, request_headers};
    use std::time::UNIX_EPOCH;

    let record = agent_identity_jwt::insecure_decode_unverified(&valid_token()).expect("decodes");
    let task = TaskId::new("task-1");
    let auth = AgentIdentityAuth::from_parts(record.clone(), task.clone());
    let fresh = |at| request_headers(&record, &task, at).expect("signs");
    let at = UNIX_EPOCH + Duration::from_millis(1_800_000_000_250);
    let first = auth.headers_at(at).expect("headers");
    assert_eq!(first.authorization(), fresh(at).authorization());
    let later_that_second = at + Duration::from_millis(700);
    assert_eq!(
        auth.headers_at(later_that_second)
            .expect("headers")
            .authorization(),
        fresh(later_that_second).authorization()
    );
    let next_second = at + Duration::from_secs(1);
    let next = auth.headers_at(next_second).expect("headers");
    assert_ne!(next.authorization(), first.authorization());
    assert_eq!(next.authorization(), fresh(next_second).authorization());
    // Going back a second is answered afresh too, never from the memo.
    assert_eq!(
        auth.headers_at(at).expect("headers").authorization(),
        first.authorization()
    );
}

#[tokio::test(start_paused = true)]
async fn the_expiry_watchdog_ends_with_a_newer_state_or_its_manager_not_an_hour_later() {
    let service = service().await;
    let alive = || {
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks()
    };
    let settle = || async {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    };
    settle().await;
    let before = alive();
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(MemoryStore::with_token(valid_token())),
        TestClock::new(),
    )
    .await;
    assert_eq!(manager.state().name(), "ready");
    settle().await;
    assert_eq!(alive(), before + 1, "one watchdog for the ready identity");
    // Each login publishes anew: the watchdog of the state it replaced ends at once.
    for _ in 0..3 {
        manager.login(valid_token()).await.expect("login");
    }
    settle().await;
    assert_eq!(alive(), before + 1, "still one watchdog");
    drop(manager);
    settle().await;
    assert_eq!(alive(), before, "no watchdog outlives its manager");
}
