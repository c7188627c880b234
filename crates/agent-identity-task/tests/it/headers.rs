//! Request headers built from verified identity records (wire-format §5).

use std::time::SystemTime;

use agent_identity_jwt::AgentRuntimeId;
use agent_identity_task::{
    AgentSigner, TaskErrorKind, TaskId, authorization_header_for, request_headers, verify_assertion,
};

use crate::support::{Identity, first_vector, record};

#[tokio::test]
async fn companion_headers_follow_the_record() {
    let vector = first_vector();
    let task = TaskId::new("task-123");
    let now = SystemTime::now();

    let (plain, _) = record(&Identity {
        account_id: "workspace-7",
        ..Identity::for_vector(vector)
    })
    .await;
    let headers = request_headers(&plain, &task, now).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = headers.iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["Authorization", "ChatGPT-Account-ID"]);
    assert_eq!(headers.chatgpt_account_id(), "workspace-7");
    assert!(!headers.fedramp());
    assert!(headers.authorization().starts_with("AgentAssertion "));

    let (fedramp, _) = record(&Identity {
        fedramp: true,
        ..Identity::for_vector(vector)
    })
    .await;
    let headers = request_headers(&fedramp, &task, now).unwrap_or_else(|e| panic!("{e}"));
    assert!(headers.fedramp());
    assert_eq!(headers.iter().last(), Some(("X-OpenAI-Fedramp", "true")));
}

#[tokio::test]
async fn an_assertion_for_another_runtime_is_refused() {
    let vector = first_vector();
    let (record, _) = record(&Identity::for_vector(vector)).await;
    let error = authorization_header_for(
        &record,
        &AgentRuntimeId::new("someone-else"),
        &TaskId::new("task-123"),
        SystemTime::now(),
    )
    .err()
    .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.reason(), TaskErrorKind::RuntimeMismatch);
    let signer = AgentSigner::from_record(&record);
    assert_eq!(signer.runtime_id(), record.runtime_id());
    let error = signer
        .authorization_header_for(
            &AgentRuntimeId::new("x"),
            &TaskId::new("t"),
            SystemTime::now(),
        )
        .err();
    assert_eq!(
        error.map(|e| e.reason()),
        Some(TaskErrorKind::RuntimeMismatch)
    );
}

#[tokio::test]
async fn fresh_headers_verify_on_the_server_side() {
    let vector = first_vector();
    let (record, _) = record(&Identity::for_vector(vector)).await;
    let public = record.key().public_key().unwrap_or_default();
    let task = TaskId::new("task-123");
    let headers =
        request_headers(&record, &task, SystemTime::now()).unwrap_or_else(|e| panic!("{e}"));
    let lookup = (
        move |runtime: &str| (runtime == "agent-123").then_some(public),
        |_: &str, task: &str| task == "task-123",
    );
    let verified = verify_assertion(
        headers.authorization(),
        &lookup,
        SystemTime::now(),
        agent_identity_task::DEFAULT_SKEW,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verified.task_id(), &task);
}
