//! Codex's record form in the keyring entry: the same document rules as the file, read and
//! written through the entry.

use super::*;

use agent_identity_test_support::vectors::first_vector;

use crate::credential::{Credential as Stored, RecordKind};

fn document(mode: &str, task_id: Option<&str>) -> Value {
    let mut record = json!({
        "agent_runtime_id": "agent-runtime-1",
        "agent_private_key": first_vector().private_key_pkcs8_base64,
        "account_id": "acct-123",
        "chatgpt_user_id": "user-1",
        "email": "someone@example.test",
        "plan_type": "edu_plus",
        "chatgpt_account_is_fedramp": false,
    });
    if let Some(task_id) = task_id {
        record["task_id"] = json!(task_id);
    }
    let mut document = json!({"auth_mode": mode, "OPENAI_API_KEY": null, "agent_identity": record});
    if mode == "chatgpt" {
        document["tokens"] =
            json!({"access_token": "access-sentinel", "refresh_token": "refresh-sentinel"});
    }
    document
}

fn value(keyring: &MockKeyring, home: &Path) -> Value {
    serde_json::from_str(&keyring.codex_value(home).expect("entry")).expect("json")
}

#[test]
fn both_record_forms_load_from_the_keyring_entry() {
    for (mode, kind, task) in [
        ("agentIdentity", RecordKind::Standalone, Some("task-run-1")),
        ("chatgpt", RecordKind::Managed, None),
    ] {
        let (home, keyring, store) = setup();
        keyring.set_codex_value(home.path(), &document(mode, task).to_string());
        let Some(Stored::Record(record)) = store.load_credential().expect("load") else {
            panic!("{mode}: not a record");
        };
        assert_eq!(record.kind(), kind);
        assert_eq!(record.task_id().map(|task| task.as_str()), task);
        assert_eq!(record.identity().email(), Some("someone@example.test"));
        assert_eq!(
            record.identity().plan().map(|plan| plan.as_str()),
            Some("edu_plus")
        );
    }
}

#[test]
fn a_task_written_back_to_the_entry_keeps_the_rest() {
    let (home, keyring, store) = setup();
    let mut seeded = document("chatgpt", None);
    seeded["keep_me"] = json!({"nested": true});
    keyring.set_codex_value(home.path(), &seeded.to_string());
    let written = store
        .save_record_task(
            &agent_identity_jwt::AgentRuntimeId::new("agent-runtime-1"),
            &agent_identity_task::TaskId::new("task-9"),
        )
        .expect("write back");
    assert!(written);
    seeded["agent_identity"]["task_id"] = json!("task-9");
    assert_eq!(value(&keyring, home.path()), seeded);
}

#[test]
fn logout_on_a_managed_entry_keeps_the_chatgpt_login() {
    let (home, keyring, store) = setup();
    let seeded = document("chatgpt", Some("task-1"));
    keyring.set_codex_value(home.path(), &seeded.to_string());
    assert_eq!(store.clear().expect("clear"), ClearOutcome::Removed);
    let mut expected = seeded;
    expected
        .as_object_mut()
        .expect("object")
        .remove("agent_identity");
    assert_eq!(value(&keyring, home.path()), expected);
}

#[test]
fn the_april_shape_in_the_entry_is_refused_and_left_as_it_is() {
    let (home, keyring, store) = setup();
    let april = json!({
        "OPENAI_API_KEY": null,
        "agent_identity": {"workspace_id": "acct-123", "agent_runtime_id": "a", "agent_private_key": "k", "registered_at": "2026-04-16T18:03:11Z"},
    })
    .to_string();
    keyring.set_codex_value(home.path(), &april);
    let error = store.load_credential().expect_err("refused");
    assert!(matches!(error, StoreError::Unsupported { .. }), "{error:?}");
    assert!(error.to_string().contains("workspace_id"), "{error}");
    assert!(error.to_string().contains("Codex Auth"), "{error}");
    assert_eq!(
        keyring.codex_value(home.path()).as_deref(),
        Some(april.as_str())
    );
}
