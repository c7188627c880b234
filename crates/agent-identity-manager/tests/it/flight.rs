//! Single flight: a thousand concurrent first uses cost one key set fetch and one registration.

use std::sync::Arc;

use agent_identity_manager::{AuthManager, CredentialStore, MemoryStore, ReloadOutcome};

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
