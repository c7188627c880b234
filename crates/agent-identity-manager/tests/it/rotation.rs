//! Token files that rotate, watched by the manager: a rename, Kubernetes' `..data` symlink swap,
//! and a write caught half-way, each picked up once, and none of them ever a logout.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::IdentityJwt;
use agent_identity_manager::{AuthManager, AuthState, TokenFileStore};

use crate::support::{TestClock, jwks_with_kids, now_secs, tasks, token, verifier};
use agent_identity_test_support::FakeService;

const EVERY: Duration = Duration::from_secs(1);

fn write_atomically(path: &Path, token: &IdentityJwt) {
    let temp = path.with_extension("tmp");
    std::fs::write(&temp, token.expose_secret()).expect("write");
    std::fs::rename(&temp, path).expect("rename");
}

async fn manager_over(service: &FakeService, path: PathBuf) -> AuthManager {
    AuthManager::new(
        verifier(&service.jwks_url(), TestClock::new()),
        tasks(&service.authapi_base(), None),
        Arc::new(TokenFileStore::new(path)),
    )
    .await
    .expect("loads")
}

fn runtime(manager: &AuthManager) -> String {
    manager
        .auth()
        .expect("ready")
        .record()
        .runtime_id()
        .as_str()
        .to_owned()
}

/// Waits (on the paused clock) for the next published state.
async fn next_state(updates: &mut tokio::sync::watch::Receiver<Arc<AuthState>>) {
    tokio::time::timeout(Duration::from_secs(60), updates.changed())
        .await
        .expect("a reload within a minute")
        .expect("alive");
}

#[tokio::test(start_paused = true)]
async fn a_token_file_replaced_by_rename_is_picked_up_once() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("token");
    write_atomically(
        &path,
        &token("agent-123", "shared-key-1", now_secs() + 3600),
    );
    let manager = manager_over(&service, path.clone()).await;
    let _watch = manager.watch_credentials(EVERY);
    let mut updates = manager.subscribe();
    write_atomically(
        &path,
        &token("agent-456", "shared-key-1", now_secs() + 3600),
    );
    next_state(&mut updates).await;
    assert_eq!(runtime(&manager), "agent-456");
    // Nothing changes after: no further reload, no further registration.
    tokio::time::sleep(EVERY * 10).await;
    assert_eq!(service.register_hits(), 2);
    assert!(!updates.has_changed().expect("alive"));
}

#[tokio::test(start_paused = true)]
async fn a_kubernetes_style_data_symlink_swap_is_picked_up_once() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let version = |name: &str, token: &IdentityJwt| {
        let folder = dir.path().join(name);
        std::fs::create_dir(&folder).expect("mkdir");
        std::fs::write(folder.join("token"), token.expose_secret()).expect("write");
    };
    version(
        "..2026_01",
        &token("agent-123", "shared-key-1", now_secs() + 3600),
    );
    std::os::unix::fs::symlink("..2026_01", dir.path().join("..data")).expect("link");
    let mounted = dir.path().join("token");
    std::os::unix::fs::symlink("..data/token", &mounted).expect("link");
    let manager = manager_over(&service, mounted).await;
    let _watch = manager.watch_credentials(EVERY);
    let mut updates = manager.subscribe();
    // What the kubelet does: a new timestamped folder, a new link, renamed over `..data`.
    version(
        "..2026_02",
        &token("agent-456", "shared-key-1", now_secs() + 3600),
    );
    std::os::unix::fs::symlink("..2026_02", dir.path().join("..data_tmp")).expect("link");
    std::fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).expect("swap");
    next_state(&mut updates).await;
    assert_eq!(runtime(&manager), "agent-456");
    tokio::time::sleep(EVERY * 10).await;
    assert_eq!(service.register_hits(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_token_file_caught_half_written_never_logs_out() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("token");
    write_atomically(
        &path,
        &token("agent-123", "shared-key-1", now_secs() + 3600),
    );
    let manager = manager_over(&service, path.clone()).await;
    let _watch = manager.watch_credentials(EVERY);
    // A writer that truncates and writes in place, caught half-way through.
    let next = token("agent-456", "shared-key-1", now_secs() + 3600);
    let text = next.expose_secret();
    std::fs::write(&path, &text[..text.len() / 2]).expect("half");
    tokio::time::sleep(EVERY * 5).await;
    assert_eq!(
        runtime(&manager),
        "agent-123",
        "the identity it had still serves"
    );
    assert!(matches!(*manager.state(), AuthState::Ready(_)));
    assert!(manager.logout_reason().is_none());
    let mut updates = manager.subscribe();
    std::fs::write(&path, text).expect("finished");
    next_state(&mut updates).await;
    assert_eq!(runtime(&manager), "agent-456");
    assert_eq!(
        service.register_hits(),
        2,
        "one registration for the new token"
    );
}

#[tokio::test(start_paused = true)]
async fn a_deleted_token_file_keeps_the_identity_serving_and_says_so() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("token");
    write_atomically(
        &path,
        &token("agent-123", "shared-key-1", now_secs() + 3600),
    );
    let manager = manager_over(&service, path.clone()).await;
    let task = manager.auth().expect("ready").task_id().clone();
    assert!(manager.degraded().is_none());
    let _watch = manager.watch_credentials(EVERY);
    std::fs::remove_file(&path).expect("delete");
    // The watch sees the file gone, waits a look for it to hold still, and reloads.
    tokio::time::sleep(EVERY * 5).await;
    let auth = manager.auth().expect("the old identity keeps signing");
    assert_eq!(auth.task_id(), &task);
    assert_eq!(runtime(&manager), "agent-123");
    let degraded = manager.degraded().expect("degraded while the file is gone");
    assert!(
        matches!(
            degraded.error(),
            agent_identity_manager::AuthError::Store(
                agent_identity_manager::StoreError::TokenFileMissing { .. }
            )
        ),
        "{:?}",
        degraded.error()
    );
    let said = degraded.to_string();
    assert!(
        said.contains("serving the cached identity") && said.contains("does not exist"),
        "{said}"
    );
    let status = manager.status();
    assert_eq!(status.state(), "ready");
    assert!(status.degraded().is_some());
    assert!(
        status
            .error()
            .is_some_and(|error| error.to_string().contains("does not exist")),
        "{:?}",
        status.error()
    );
    // The file comes back (the rotation finished): no longer degraded.
    write_atomically(
        &path,
        &token("agent-123", "shared-key-1", now_secs() + 3600),
    );
    tokio::time::sleep(EVERY * 5).await;
    assert!(manager.degraded().is_none(), "{:?}", manager.degraded());
    assert!(manager.status().error().is_none());
}
