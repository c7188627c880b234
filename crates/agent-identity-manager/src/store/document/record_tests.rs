//! Codex's record form of `agent_identity`, through the file store: both kinds of file, the task
//! write-back, logout, the refusals, and a mirror of Codex's serde shape checked both ways.

use super::*;
use crate::store::tests::*;

use std::os::unix::fs::PermissionsExt as _;

use agent_identity_jwt::PlanType;
use agent_identity_test_support::vectors::first_vector;
use proptest::prelude::*;
use serde::{Deserialize, Serialize};

use crate::credential::{AgentRecord, Credential, RecordKind};

fn key() -> &'static str {
    &first_vector().private_key_pkcs8_base64
}

fn record_json(task_id: Option<&str>) -> Value {
    let mut record = json!({
        "agent_runtime_id": "agent-runtime-1",
        "agent_private_key": key(),
        "account_id": "acct-123",
        "chatgpt_user_id": "user-1",
        "email": "",
        "plan_type": "pro",
        "chatgpt_account_is_fedramp": false,
    });
    if let Some(task_id) = task_id {
        record["task_id"] = json!(task_id);
    }
    record
}

fn standalone(task_id: Option<&str>) -> Value {
    json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": record_json(task_id)})
}

fn managed(task_id: Option<&str>) -> Value {
    json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {"id_token": "id-sentinel", "access_token": "access-sentinel", "refresh_token": "refresh-sentinel", "account_id": "acct-123"},
        "last_refresh": "2026-08-20T10:00:00Z",
        "agent_identity": record_json(task_id),
    })
}

fn seeded(document: &Value) -> (tempfile::TempDir, FileStore) {
    let (dir, store) = home();
    fs::write(store.path(), document.to_string()).expect("seed");
    (dir, store)
}

fn record_of(store: &dyn CredentialStore) -> AgentRecord {
    match store.load_credential().expect("load") {
        Some(Credential::Record(record)) => record,
        other => panic!("not a record: {other:?}"),
    }
}

#[test]
fn a_standalone_record_loads_with_its_task() {
    let (_dir, store) = seeded(&standalone(Some("task-run-1")));
    let record = record_of(&store);
    assert_eq!(record.kind(), RecordKind::Standalone);
    assert_eq!(
        record.task_id().map(|task| task.as_str()),
        Some("task-run-1")
    );
    let identity = record.identity();
    assert_eq!(identity.runtime_id().as_str(), "agent-runtime-1");
    assert_eq!(identity.account_id().as_str(), "acct-123");
    assert_eq!(identity.email(), None);
    assert_eq!(identity.expiry(), None, "a record has no expiry");
    assert!(identity.is_stored());
}

#[test]
fn a_managed_record_without_a_task_loads_beside_the_chatgpt_login() {
    let (_dir, store) = seeded(&managed(None));
    let record = record_of(&store);
    assert_eq!(record.kind(), RecordKind::Managed);
    assert_eq!(record.task_id(), None);
    // A document without auth_mode but with tokens is a ChatGPT login too, as Codex resolves it.
    let mut implicit = managed(None);
    implicit
        .as_object_mut()
        .expect("object")
        .remove("auth_mode");
    let (_dir, store) = seeded(&implicit);
    assert_eq!(record_of(&store).kind(), RecordKind::Managed);
}

#[test]
fn the_token_api_refuses_a_record_rather_than_reading_it_as_logged_out() {
    let (_dir, store) = seeded(&standalone(None));
    assert!(matches!(store.load(), Err(StoreError::Unsupported { .. })));
}

#[test]
fn an_unknown_plan_type_loads_and_is_kept() {
    let mut document = standalone(None);
    document["agent_identity"]["plan_type"] = json!("self_serve_business_usage_based");
    let (_dir, store) = seeded(&document);
    let record = record_of(&store);
    assert_eq!(
        record.identity().plan().map(|plan| plan.as_str()),
        Some("self_serve_business_usage_based")
    );
    store
        .save_record_task(record.identity().runtime_id(), &TaskId::new("task-2"))
        .expect("write back");
    assert_eq!(
        raw_document(&store)["agent_identity"]["plan_type"],
        json!("self_serve_business_usage_based")
    );
}

#[test]
fn writing_a_task_back_keeps_every_other_field_and_unknown_key() {
    for mut document in [standalone(None), managed(None)] {
        document["keep_me"] = json!({"nested": [1, 2, {"deep": true}]});
        document["agent_identity"]["future_field"] = json!("kept");
        let (_dir, store) = seeded(&document);
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).expect("chmod");
        let record = record_of(&store);

        let written = store
            .save_record_task(record.identity().runtime_id(), &TaskId::new("task-new"))
            .expect("write back");
        assert!(written);
        let mut expected = document.clone();
        expected["agent_identity"]["task_id"] = json!("task-new");
        assert_eq!(raw_document(&store), expected);
        assert_eq!(mode_of(store.path()), 0o600);
        assert_eq!(
            record_of(&store).task_id().map(|task| task.as_str()),
            Some("task-new")
        );
    }
}

#[test]
fn a_task_is_not_written_into_another_agents_record() {
    let (_dir, store) = seeded(&standalone(Some("task-1")));
    let before = fs::read(store.path()).expect("read");
    let written = store
        .save_record_task(
            &agent_identity_jwt::AgentRuntimeId::new("someone-else"),
            &TaskId::new("task-2"),
        )
        .expect("write back");
    assert!(!written);
    assert_eq!(fs::read(store.path()).expect("read"), before);
}

#[test]
fn logout_on_a_managed_file_removes_only_the_agent_identity() {
    let document = managed(Some("task-1"));
    let (_dir, store) = seeded(&document);
    assert_eq!(store.clear().expect("clear"), ClearOutcome::Removed);
    let mut expected = document;
    expected
        .as_object_mut()
        .expect("object")
        .remove("agent_identity");
    assert_eq!(raw_document(&store), expected);
    // What is left is a ChatGPT login, not ours: a second logout leaves it as it is.
    assert_eq!(
        store.clear().expect("clear"),
        ClearOutcome::KeptOtherLogin("chatgpt".into())
    );
    assert_eq!(raw_document(&store), expected);
}

#[test]
fn logout_on_a_standalone_record_removes_the_identity() {
    let (_dir, store) = seeded(&standalone(Some("task-1")));
    assert_eq!(store.clear().expect("clear"), ClearOutcome::Removed);
    assert!(!store.path().exists());

    let mut document = standalone(None);
    document["keep_me"] = json!(1);
    let (_dir, store) = seeded(&document);
    assert_eq!(store.clear().expect("clear"), ClearOutcome::Removed);
    assert_eq!(
        raw_document(&store),
        json!({"OPENAI_API_KEY": null, "keep_me": 1})
    );
}

/// The reverted form of April 2026 Codex builds.
fn april_document() -> Value {
    json!({
        "OPENAI_API_KEY": null,
        "tokens": {"id_token": "id-sentinel", "access_token": "access-sentinel", "refresh_token": "refresh-sentinel"},
        "last_refresh": "2026-04-16T18:03:11Z",
        "agent_identity": {
            "workspace_id": "acct-123",
            "chatgpt_user_id": "user-1",
            "agent_runtime_id": "agent-runtime-1",
            "agent_private_key": key(),
            "registered_at": "2026-04-16T18:03:11Z",
            "background_task_id": "task-old",
        },
    })
}

#[test]
fn the_april_shape_is_refused_by_name_and_its_file_is_unchanged() {
    let (_dir, store) = home();
    let bytes = format!("{:#}\n", april_document()).into_bytes();
    fs::write(store.path(), &bytes).expect("seed");
    let error = store.load_credential().expect_err("refused");
    let message = error.to_string();
    assert!(matches!(error, StoreError::Unsupported { .. }), "{error:?}");
    assert!(message.contains("workspace_id"), "{message}");
    assert!(message.contains("April 2026"), "{message}");
    assert!(message.contains("register"), "{message}");
    assert!(!message.contains(key()), "{message}");
    assert!(!error.is_transient());
    assert_eq!(fs::read(store.path()).expect("read"), bytes);
}

#[test]
fn other_shapes_are_refused_and_named_never_read_as_logged_out() {
    let mut missing_account = record_json(None);
    missing_account
        .as_object_mut()
        .expect("object")
        .remove("account_id");
    let cases = [
        (json!({"jwt": "a.b.c"}), "agent_runtime_id"),
        (missing_account, "account_id"),
        (json!({}), "agent_runtime_id"),
    ];
    for (identity, named) in cases {
        let document = json!({"auth_mode": "agentIdentity", "agent_identity": identity});
        let (_dir, store) = seeded(&document);
        let before = fs::read(store.path()).expect("read");
        let error = store.load_credential().expect_err("refused");
        assert!(matches!(error, StoreError::Unsupported { .. }), "{error:?}");
        assert!(error.to_string().contains(named), "{error}");
        assert_eq!(fs::read(store.path()).expect("read"), before);
    }
    // A value that is no object at all is a mistyped field: corrupt, and named.
    let (_dir, store) = seeded(&json!({"auth_mode": "agentIdentity", "agent_identity": 42}));
    let error = store.load_credential().expect_err("corrupt");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("neither a token string nor a record"),
        "{error}"
    );
}

#[test]
fn a_key_that_does_not_parse_is_corrupt_and_named() {
    let mut document = standalone(None);
    document["agent_identity"]["agent_private_key"] = json!("bm90IGEga2V5");
    let (_dir, store) = seeded(&document);
    let error = store.load_credential().expect_err("corrupt");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("agent_private_key"), "{error}");
}

#[test]
fn debug_of_a_record_never_shows_its_key() {
    let (_dir, store) = seeded(&standalone(Some("task-1")));
    let record = record_of(&store);
    let shown = format!("{record:?} {:?}", Credential::Record(record.clone()));
    assert!(!shown.contains(key()), "{shown}");
    assert!(shown.contains("agent-runtime-1"), "{shown}");
}

#[test]
fn a_saved_record_takes_the_form_its_kind_names() {
    let (_dir, store) = seeded(&managed(Some("task-1")));
    let record = record_of(&store);
    // Managed: into the ChatGPT login's file, which keeps its mode and tokens.
    let (_dir, other) = seeded(&json!({"auth_mode": "chatgpt", "tokens": {"access_token": "a"}}));
    other.save_record(&record).expect("save");
    let written = raw_document(&other);
    assert_eq!(written["auth_mode"], json!("chatgpt"));
    assert_eq!(written["tokens"], json!({"access_token": "a"}));
    assert_eq!(written["agent_identity"], record_json(Some("task-1")));
    // Standalone: alone, in Codex's standalone mode.
    let standalone_record = AgentRecord::new(
        record.identity().clone(),
        record.task_id().cloned(),
        RecordKind::Standalone,
    );
    let (_dir, fresh) = home();
    fresh.save_record(&standalone_record).expect("save");
    assert_eq!(raw_document(&fresh), standalone(Some("task-1")));
    assert_eq!(mode_of(fresh.path()), 0o600);
}

/// A mirror of Codex's serde shape of `auth.json`, written from the field list of wire-format
/// §6 (no `flatten`: Codex drops unknown keys, and reads with serde's defaults).
mod codex {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub(super) struct AuthDotJson {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub auth_mode: Option<String>,
        #[serde(rename = "OPENAI_API_KEY")]
        pub openai_api_key: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub tokens: Option<Value>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub last_refresh: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub agent_identity: Option<Storage>,
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    #[serde(untagged)]
    pub(super) enum Storage {
        Jwt(String),
        Record(Record),
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    pub(super) struct Record {
        pub agent_runtime_id: String,
        pub agent_private_key: String,
        pub account_id: String,
        pub chatgpt_user_id: String,
        #[serde(default, deserialize_with = "non_empty", serialize_with = "as_empty")]
        pub email: Option<String>,
        pub plan_type: String,
        pub chatgpt_account_is_fedramp: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub task_id: Option<String>,
    }

    fn non_empty<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.filter(|email| !email.is_empty()))
    }

    fn as_empty<S: serde::Serializer>(email: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(email.as_deref().unwrap_or_default())
    }
}

fn id_text() -> impl Strategy<Value = String> {
    "[a-z0-9-]{1,16}"
}

fn codex_record() -> impl Strategy<Value = codex::Record> {
    (
        id_text(),
        id_text(),
        id_text(),
        prop::option::of("[a-z]{1,8}@[a-z]{1,8}\\.test"),
        prop_oneof![
            Just("pro".to_owned()),
            Just("plus".to_owned()),
            "[a-z_]{1,24}"
        ],
        any::<bool>(),
        prop::option::of(id_text()),
    )
        .prop_map(
            |(runtime, account, user, email, plan_type, fedramp, task_id)| codex::Record {
                agent_runtime_id: runtime,
                agent_private_key: key().to_owned(),
                account_id: account,
                chatgpt_user_id: user,
                email,
                plan_type,
                chatgpt_account_is_fedramp: fedramp,
                task_id,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every document Codex's shape serializes loads for us, with the same fields.
    #[test]
    fn every_document_codex_writes_loads(record in codex_record(), chatgpt in any::<bool>()) {
        let document = codex::AuthDotJson {
            auth_mode: Some(if chatgpt { "chatgpt" } else { "agentIdentity" }.to_owned()),
            openai_api_key: None,
            tokens: chatgpt.then(|| json!({"access_token": "a", "refresh_token": "r"})),
            last_refresh: chatgpt.then(|| "2026-08-20T10:00:00Z".to_owned()),
            agent_identity: Some(codex::Storage::Record(record.clone())),
        };
        let (_dir, store) = home();
        fs::write(store.path(), serde_json::to_string_pretty(&document).expect("json")).expect("seed");
        let loaded = record_of(&store);
        let identity = loaded.identity();
        prop_assert_eq!(identity.runtime_id().as_str(), record.agent_runtime_id.as_str());
        prop_assert_eq!(identity.account_id().as_str(), record.account_id.as_str());
        prop_assert_eq!(identity.chatgpt_user_id(), record.chatgpt_user_id.as_str());
        prop_assert_eq!(identity.email(), record.email.as_deref());
        // Aliases (`hc`, `education`) read as their canonical plan; anything else as it is.
        prop_assert_eq!(identity.plan(), Some(&PlanType::parse(&record.plan_type)));
        prop_assert_eq!(identity.is_fedramp(), record.chatgpt_account_is_fedramp);
        prop_assert_eq!(loaded.task_id().map(|task| task.as_str().to_owned()), record.task_id.clone());
        prop_assert_eq!(loaded.kind(), if chatgpt { RecordKind::Managed } else { RecordKind::Standalone });
    }

    /// Every file we write (a record saved, a task written back, whatever unknown keys are
    /// there) deserializes under Codex's shape, with the record we meant.
    #[test]
    fn every_file_we_write_reads_under_codex_shape(
        record in codex_record(),
        task in id_text(),
        unknown in prop::collection::btree_map("[a-z_]{1,12}", "[a-z0-9 ]{0,12}", 0..4),
    ) {
        let mut document = json!({
            "auth_mode": "agentIdentity",
            "agent_identity": serde_json::to_value(&record).expect("json"),
        });
        for (name, value) in &unknown {
            if !matches!(name.as_str(), "auth_mode" | "agent_identity" | "tokens" | "last_refresh" | "OPENAI_API_KEY") {
                document[name] = json!(value);
            }
        }
        let (_dir, store) = seeded(&document);
        let loaded = record_of(&store);
        store.save_record(&loaded).expect("save");
        store
            .save_record_task(loaded.identity().runtime_id(), &TaskId::new(task.as_str()))
            .expect("write back");
        let text = fs::read_to_string(store.path()).expect("read");
        let parsed: codex::AuthDotJson = serde_json::from_str(&text).expect("Codex reads our file");
        let mut expected = record.clone();
        expected.task_id = Some(task);
        expected.plan_type = PlanType::parse(&record.plan_type).as_str().to_owned();
        prop_assert_eq!(parsed.agent_identity, Some(codex::Storage::Record(expected)));
        prop_assert_eq!(parsed.auth_mode.as_deref(), Some("agentIdentity"));
    }
}
