//! Single flight: a thousand concurrent first uses cost one key set fetch and one registration,
//! and a flight that panics or is cancelled costs only itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use agent_identity_jwt::{IdentityJwt, JwksSource, StaticJwksSource, Verifier};
use agent_identity_manager::{
    AuthError, AuthManager, CredentialStore, MemoryStore, ReloadOutcome, StoreError,
};
use async_trait::async_trait;
use jwks_client_rs::{JsonWebKeySet, JwksClientError};
use tokio::sync::Notify;

use crate::support::{TestClock, jwks_with_kids, now_secs, tasks, token, valid_token, verifier};
use agent_identity_test_support::{Answer, FakeService};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_callers_share_one_fetch_and_one_registration() {
    let mut server = mockito::Server::new_async().await;
    let jwks = server
        .mock("GET", "/jwks")
        .with_header("content-type", "application/json")
        .with_body(jwks_with_kids(&["shared-key-1"]))
        .expect(1)
        .create_async()
        .await;
    let register = server
        .mock("POST", "/v1/agent/agent-123/task/register")
        .with_header("content-type", "application/json")
        .with_body(r#"{"task_id":"task-shared"}"#)
        .expect(1)
        .create_async()
        .await;
    let store = Arc::new(MemoryStore::new());
    let manager = AuthManager::new(
        verifier(&format!("{}/jwks", server.url()), TestClock::new()),
        tasks(&server.url(), Some(std::time::Duration::from_secs(30))),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
    )
    .await
    .expect("an empty store loads as logged out");
    assert_eq!(manager.state().name(), "logged_out");
    store.save(&valid_token()).expect("save");

    let callers: Vec<_> = (0..1000)
        .map(|index| {
            let manager = manager.clone();
            tokio::spawn(async move {
                if index % 2 == 0 {
                    manager
                        .auth_or_reload()
                        .await
                        .map(|auth| auth.task_id().as_str().to_owned())
                } else {
                    match manager.reload().await {
                        ReloadOutcome::Updated | ReloadOutcome::Unchanged => manager
                            .auth()
                            .map(|auth| auth.task_id().as_str().to_owned()),
                        other => panic!("unexpected reload outcome {other:?}"),
                    }
                }
            })
        })
        .collect();
    for caller in callers {
        assert_eq!(caller.await.expect("task").expect("ready"), "task-shared");
    }
    jwks.assert_async().await;
    register.assert_async().await;
}

/// A memory store whose next `load` panics while armed, counting loads.
#[derive(Debug, Default)]
struct PanickyStore {
    inner: MemoryStore,
    armed: AtomicBool,
    loads: AtomicUsize,
}

impl CredentialStore for PanickyStore {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        assert!(
            !self.armed.swap(false, Ordering::SeqCst),
            "the store exploded"
        );
        self.inner.load()
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        self.inner.save(token)
    }

    fn clear(&self) -> Result<agent_identity_manager::ClearOutcome, StoreError> {
        self.inner.clear()
    }

    fn describe(&self) -> String {
        "panicky".to_owned()
    }
}

async fn registering_server() -> (mockito::ServerGuard, mockito::Mock) {
    let mut server = mockito::Server::new_async().await;
    let register = server
        .mock("POST", "/v1/agent/agent-123/task/register")
        .with_header("content-type", "application/json")
        .with_body(r#"{"task_id":"task-after"}"#)
        .create_async()
        .await;
    (server, register)
}

fn static_verifier() -> Verifier {
    let keys = StaticJwksSource::from_json(jwks_with_kids(&["shared-key-1"])).expect("JWKS");
    Verifier::builder(keys).clock(TestClock::new()).build()
}

#[tokio::test]
async fn a_panicking_store_call_costs_one_reload() {
    let (server, _register) = registering_server().await;
    let store = Arc::new(PanickyStore::default());
    store.inner.save(&valid_token()).expect("save");
    let manager = AuthManager::without_credentials(
        static_verifier(),
        tasks(&server.url(), None),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
        agent_identity_manager::TaskReuse::default(),
    );
    store.armed.store(true, Ordering::SeqCst);
    match manager.reload().await {
        ReloadOutcome::KeptCached {
            error: error @ AuthError::Interrupted { panicked: true, .. },
        } => assert!(error.is_transient()),
        other => panic!("expected an interrupted reload, got {other:?}"),
    }
    assert_eq!(
        manager.state().name(),
        "logged_out",
        "nothing was published"
    );
    // The next reload reads the store afresh and loads the identity.
    assert!(matches!(manager.reload().await, ReloadOutcome::Updated));
    assert_eq!(store.loads.load(Ordering::SeqCst), 2);
    let auth = manager.auth_or_reload().await.expect("ready");
    assert_eq!(auth.task_id().as_str(), "task-after");
}

/// A key source that announces each fetch and hangs until it is opened.
struct GatedSource {
    keys: StaticJwksSource,
    open: AtomicBool,
    fetching: Notify,
}

#[async_trait]
impl JwksSource for GatedSource {
    async fn fetch_keys(&self) -> Result<JsonWebKeySet, JwksClientError> {
        self.fetching.notify_one();
        if !self.open.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.keys.fetch_keys().await
    }
}

#[test]
fn a_reload_cut_short_by_runtime_shutdown_costs_one_call() {
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let source = Arc::new(GatedSource {
        keys: StaticJwksSource::from_json(jwks_with_kids(&["shared-key-1"])).expect("JWKS"),
        open: AtomicBool::new(false),
        fetching: Notify::new(),
    });
    let store = Arc::new(MemoryStore::with_token(valid_token()));
    let first = runtime();
    let (server, manager) = first.block_on(async {
        let (server, register) = registering_server().await;
        let manager = AuthManager::without_credentials(
            Verifier::builder_from_arc(Arc::clone(&source) as Arc<dyn JwksSource + Send + Sync>)
                .clock(TestClock::new())
                .build(),
            tasks(&server.url(), None),
            Arc::clone(&store) as Arc<dyn CredentialStore>, agent_identity_manager::TaskReuse::default());
        // The reload reaches the key fetch, which hangs; then the runtime goes away under it.
        tokio::select! {
            outcome = manager.reload() => panic!("the fetch hangs, yet the reload ended: {outcome:?}"),
            () = source.fetching.notified() => {}
        }
        drop(register);
        (server, manager)
    });
    drop(first);
    source.open.store(true, Ordering::SeqCst);
    runtime().block_on(async {
        let _register = server;
        assert!(
            matches!(manager.reload().await, ReloadOutcome::Updated),
            "the next reload ran afresh instead of reporting the cancelled one"
        );
        assert_eq!(
            manager.auth().expect("ready").task_id().as_str(),
            "task-after"
        );
    });
}

#[tokio::test(start_paused = true)]
async fn a_cold_start_registers_only_once_the_key_set_has_vouched_for_the_token() {
    let delay = std::time::Duration::from_secs(2);
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    service.answer_jwks([Answer::Delay(delay)]);
    service.answer_register([Answer::Delay(delay)]);
    let started = tokio::time::Instant::now();
    let manager = AuthManager::new(
        verifier(&service.jwks_url(), TestClock::new()),
        tasks(&service.authapi_base(), None),
        Arc::new(MemoryStore::with_token(valid_token())),
    )
    .await
    .expect("loads");
    let took = started.elapsed();
    assert_eq!(manager.state().name(), "ready");
    assert_eq!((service.jwks_hits(), service.register_hits()), (1, 1));
    assert!(
        took >= delay * 2,
        "the registration waited for the key set: {took:?}"
    );
}

/// `token` with one character of its signature changed: well-formed, unexpired, a known kid and
/// a usable key, and a signature that does not verify.
fn with_corrupted_signature(token: &IdentityJwt) -> IdentityJwt {
    let text = token.expose_secret();
    let at = text.rfind('.').expect("three segments") + 5;
    let mut bytes = text.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    IdentityJwt::new(String::from_utf8(bytes).expect("ascii"))
}

#[tokio::test(start_paused = true)]
async fn a_token_with_a_corrupted_signature_registers_nothing_and_caches_no_task() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let home = tempfile::tempdir().expect("tempdir");
    let store = agent_identity_manager::FileStore::new(home.path());
    let corrupted = with_corrupted_signature(&valid_token());
    store.save(&corrupted).expect("plant");
    // A cold start: the key set is fetched, the signature fails, and no task is sought.
    let manager = AuthManager::new(
        verifier(&service.jwks_url(), TestClock::new()),
        tasks(&service.authapi_base(), None),
        Arc::new(store.clone()),
    )
    .await
    .expect("the store is readable");
    let error = manager.auth().expect_err("not verified");
    assert_eq!(error.kind(), "bad_signature", "{error:?}");
    assert_eq!(service.jwks_hits(), 1);
    assert_eq!(service.register_hits(), 0, "no registration went out");
    // A login with it, the key set now cached: the same.
    let error = manager.login(corrupted.clone()).await.expect_err("forged");
    assert_eq!(error.kind(), "bad_signature");
    assert_eq!(service.register_hits(), 0, "no registration went out");
    // The offline status reads the task the home's runtime cache holds for the stored token.
    let status = agent_identity_manager::Status::read(
        &store,
        &agent_identity_jwt::SystemClock,
        std::time::Duration::from_secs(60),
    );
    assert!(
        status.identity().is_some() && status.task_id().is_none(),
        "no task was cached for it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_under_an_unknown_kid_leaves_no_trace() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let home = tempfile::tempdir().expect("tempdir");
    let store = agent_identity_manager::FileStore::new(home.path());
    let manager = AuthManager::without_credentials(
        verifier(&service.jwks_url(), TestClock::new()),
        tasks(&service.authapi_base(), None),
        Arc::new(store.clone()),
        agent_identity_manager::TaskReuse::default(),
    );
    let trusted = valid_token();
    manager.login(trusted.clone()).await.expect("login");
    let before = std::fs::read(store.path()).expect("auth.json");
    let mut updates = manager.subscribe();
    updates.mark_unchanged();
    // Well-formed, unexpired, with a usable key: it passes every local check, and is signed
    // under a kid the key set does not hold.
    let forged = token("agent-123", "rogue-kid", now_secs() + 3600);
    // Past the refetch interval, so the unknown kid is looked up afresh: a verdict.
    tokio::time::advance(agent_identity_jwt::DEFAULT_REFETCH_INTERVAL).await;
    let error = manager.login(forged.clone()).await.expect_err("forged");
    assert_eq!(error.kind(), "untrusted_kid");
    assert_eq!(
        service.register_hits(),
        1,
        "only the trusted login registered"
    );
    assert!(
        !updates.has_changed().expect("alive"),
        "nothing was published"
    );
    assert_eq!(std::fs::read(store.path()).expect("auth.json"), before);
    assert_eq!(
        manager
            .auth()
            .expect("the trusted identity")
            .task_id()
            .as_str(),
        "task-1"
    );
    // The same token reached through a reload: a verdict, never `Ready`.
    store.save(&forged).expect("plant");
    tokio::time::advance(agent_identity_jwt::DEFAULT_REFETCH_INTERVAL).await;
    match manager.reload().await {
        ReloadOutcome::LoggedOut { .. } => {}
        other => panic!("expected a logout, got {other:?}"),
    }
    let error = manager.auth().expect_err("logged out");
    assert!(
        matches!(error, AuthError::Token(_)) && !error.is_transient(),
        "the verdict: {error:?}"
    );
}

#[tokio::test]
async fn a_panic_in_the_first_load_is_an_interrupted_load_not_the_callers() {
    // The constructor's load runs without a flight (nobody else holds the manager yet), but a
    // panic in it still ends as any interrupted load does: the manager exists, nothing published.
    let (server, _register) = registering_server().await;
    let store = Arc::new(PanickyStore::default());
    store.inner.save(&valid_token()).expect("save");
    store.armed.store(true, Ordering::SeqCst);
    let manager = AuthManager::new(
        static_verifier(),
        tasks(&server.url(), None),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
    )
    .await
    .expect("a panic is not the caller's error");
    assert_eq!(
        manager.state().name(),
        "logged_out",
        "nothing was published"
    );
    assert!(matches!(manager.reload().await, ReloadOutcome::Updated));
    assert_eq!(
        manager.auth().expect("ready").task_id().as_str(),
        "task-after"
    );
}
