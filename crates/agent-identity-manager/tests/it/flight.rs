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

use crate::support::{TestClock, jwks_with_kids, tasks, valid_token, verifier};

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

    fn clear(&self) -> Result<(), StoreError> {
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
    let manager = AuthManager::logged_out(
        static_verifier(),
        tasks(&server.url(), None),
        Arc::clone(&store) as Arc<dyn CredentialStore>,
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
        let manager = AuthManager::logged_out(
            Verifier::builder_from_arc(Arc::clone(&source) as Arc<dyn JwksSource + Send + Sync>)
                .clock(TestClock::new())
                .build(),
            tasks(&server.url(), None),
            Arc::clone(&store) as Arc<dyn CredentialStore>,
        );
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
