//! A manager started from Codex's record form: no key set fetch, the record's task used as it
//! is, a task registered and written back when the record has none, and the reload rule.

use std::sync::Arc;

use agent_identity_manager::{CredentialStore, FileStore, ReloadOutcome, Status};
use agent_identity_test_support::vectors::first_vector;
use agent_identity_test_support::{Answer, FakeService};
use serde_json::{Value, json};

use crate::support::{TestClock, jwks_with_kids, manager};

fn record_file(task_id: Option<&str>) -> Value {
    let mut record = json!({
        "agent_runtime_id": "agent-runtime-1",
        "agent_private_key": first_vector().private_key_pkcs8_base64,
        "account_id": "acct-123",
        "chatgpt_user_id": "user-1",
        "email": "",
        "plan_type": "pro",
        "chatgpt_account_is_fedramp": true,
        "future_field": "kept",
    });
    if let Some(task_id) = task_id {
        record["task_id"] = json!(task_id);
    }
    json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {"access_token": "access-sentinel", "refresh_token": "refresh-sentinel"},
        "last_refresh": "2026-08-20T10:00:00Z",
        "agent_identity": record,
        "keep_me": [1, 2],
    })
}

async fn started(
    document: &Value,
) -> (
    FakeService,
    tempfile::TempDir,
    FileStore,
    agent_identity_manager::AuthManager,
) {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    let home = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(home.path());
    std::fs::write(store.path(), document.to_string()).expect("seed");
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(store.clone()),
        TestClock::new(),
    )
    .await;
    (service, home, store, manager)
}

fn on_disk(store: &FileStore) -> Value {
    serde_json::from_slice(&std::fs::read(store.path()).expect("read")).expect("json")
}

#[tokio::test(start_paused = true)]
async fn a_start_from_a_record_with_a_task_makes_no_request() {
    let (service, _home, store, manager) = started(&record_file(Some("task-run-1"))).await;
    let auth = manager.auth().expect("ready");
    assert_eq!(auth.task_id().as_str(), "task-run-1");
    assert_eq!(service.jwks_hits(), 0, "a record fetches no key set");
    assert_eq!(service.register_hits(), 0, "the record's task is the task");
    let headers = auth.headers().expect("headers");
    assert_eq!(headers.chatgpt_account_id(), "acct-123");
    assert!(headers.fedramp());
    assert!(headers.authorization().starts_with("AgentAssertion "));
    assert!(matches!(manager.reload().await, ReloadOutcome::Unchanged));
    assert_eq!(service.register_hits(), 0);
    assert_eq!(on_disk(&store), record_file(Some("task-run-1")));
}

#[tokio::test(start_paused = true)]
async fn a_record_without_a_task_registers_one_and_writes_it_back() {
    let (service, _home, store, manager) = started(&record_file(None)).await;
    let auth = manager.auth().expect("ready");
    assert_eq!(auth.task_id().as_str(), "task-1");
    assert_eq!(service.jwks_hits(), 0);
    assert_eq!(service.register_hits(), 1);
    // Every other field and unknown key kept; the ChatGPT login untouched.
    assert_eq!(on_disk(&store), record_file(Some("task-1")));
    // The next start reuses it, as Codex would.
    assert!(matches!(manager.reload().await, ReloadOutcome::Unchanged));
    assert_eq!(service.register_hits(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_recovery_from_a_401_writes_the_new_task_into_the_record() {
    let (service, _home, store, manager) = started(&record_file(Some("task-run-1"))).await;
    let auth = manager.recover_unauthorized().await.expect("recovered");
    assert_eq!(auth.task_id().as_str(), "task-1");
    assert_eq!(on_disk(&store), record_file(Some("task-1")));
    assert_eq!(service.jwks_hits(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_record_whose_registration_is_down_is_unavailable_and_refused_is_logged_out() {
    let service = FakeService::start(jwks_with_kids(&["shared-key-1"])).await;
    service.answer_register([
        Answer::Status(503),
        Answer::Status(503),
        Answer::Status(503),
    ]);
    let home = tempfile::tempdir().expect("tempdir");
    let store = FileStore::new(home.path());
    std::fs::write(store.path(), record_file(None).to_string()).expect("seed");
    let manager = manager(
        &service.jwks_url(),
        &service.authapi_base(),
        Arc::new(store.clone()),
        TestClock::new(),
    )
    .await;
    assert_eq!(manager.state().name(), "unavailable");
    assert_eq!(on_disk(&store), record_file(None), "nothing written");

    service.answer_register([Answer::Status(401)]);
    assert!(matches!(
        manager.reload().await,
        ReloadOutcome::LoggedOut { .. }
    ));
    assert_eq!(manager.state().name(), "logged_out");
    assert!(manager.auth().is_err());
    // A verdict is not a logout of the file: the record is still there for the user to see.
    assert_eq!(on_disk(&store), record_file(None));
}

#[tokio::test(start_paused = true)]
async fn status_says_which_form_and_where() {
    let (_service, _home, store, _manager) = started(&record_file(Some("task-run-1"))).await;
    let status = Status::read(
        &store,
        &agent_identity_jwt::SystemClock,
        std::time::Duration::ZERO,
    );
    assert_eq!(status.state(), "ready");
    assert_eq!(status.form(), Some("record"));
    assert_eq!(
        status.record_kind().map(|kind| kind.name()),
        Some("managed")
    );
    assert_eq!(
        status.task_id().map(|task| task.as_str()),
        Some("task-run-1")
    );
    assert_eq!(
        status.identity().and_then(|identity| identity.expiry()),
        None
    );
    assert!(matches!(store.load_credential(), Ok(Some(_))));
}
