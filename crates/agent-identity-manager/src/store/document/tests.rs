//! Codex's `auth.json` document, through the file store: what a save writes, what reads as
//! an identity, and what a logout keeps.

use super::*;
use crate::store::tests::*;

use std::os::unix::fs::PermissionsExt as _;

#[test]
fn saved_file_is_exactly_the_codex_document() {
    let (_dir, store) = home();
    store.save(&jwt(TOKEN)).expect("save");
    assert_eq!(
        raw_document(&store),
        json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": TOKEN})
    );
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
}

#[test]
fn a_file_written_by_codex_reads_back_its_token() {
    let (_dir, store) = home();
    let codex = format!(
        r#"{{"auth_mode":"agentIdentity","OPENAI_API_KEY":null,"agent_identity":"{TOKEN}"}}"#
    );
    fs::write(store.path(), codex).expect("seed");
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
}

#[test]
fn a_token_without_auth_mode_is_read() {
    let (_dir, store) = home();
    fs::write(store.path(), json!({"agent_identity": TOKEN}).to_string()).expect("seed");
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
}

#[test]
fn unknown_fields_survive_every_rewrite() {
    let (_dir, store) = home();
    let unknown = json!({
        "tokens": {"id_token": "x", "refresh_token": "y", "account_id": null},
        "last_refresh": "2025-01-01T00:00:00Z",
        "keep_me": {"nested": [1, 2, {"deep": true}]},
    });
    let mut seeded = unknown.as_object().expect("object").clone();
    seeded.insert("auth_mode".into(), json!("agentIdentity"));
    seeded.insert("OPENAI_API_KEY".into(), Value::Null);
    seeded.insert("agent_identity".into(), json!(TOKEN));
    fs::write(store.path(), Value::Object(seeded).to_string()).expect("seed");

    for token in [OTHER_TOKEN, TOKEN, OTHER_TOKEN] {
        store.save(&jwt(token)).expect("save");
        let document = raw_document(&store);
        for (key, value) in unknown.as_object().expect("object") {
            assert_eq!(document.get(key), Some(value), "{key} lost on rewrite");
        }
        assert_eq!(document["agent_identity"], json!(token));
        assert_eq!(document["auth_mode"], json!("agentIdentity"));
        assert_eq!(loaded(&store).as_deref(), Some(token));
    }
}

#[test]
fn a_file_in_another_auth_mode_reads_as_logged_out() {
    let documents = [
        json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "tokens": {"id_token": "x"}}),
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-ours"}),
        // Another mode wins even over a stray agent identity: that login is not active.
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-ours", "agent_identity": TOKEN}),
    ];
    for document in documents {
        let (_dir, store) = home();
        fs::write(store.path(), document.to_string()).expect("seed");
        assert_eq!(loaded(&store), None, "{document}");
    }
}

#[test]
fn an_empty_or_null_identity_reads_as_logged_out() {
    for value in [json!(null), json!(""), json!("  \n")] {
        let (_dir, store) = home();
        fs::write(
            store.path(),
            json!({"auth_mode": "agentIdentity", "agent_identity": value}).to_string(),
        )
        .expect("seed");
        assert_eq!(loaded(&store), None, "{value}");
    }
}

#[test]
fn clear_leaves_a_file_in_another_auth_mode_untouched() {
    let documents = [
        json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "tokens": {"id_token": "x"}}),
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-ours"}),
        // A stray identity under another mode is not an active login, and not ours to remove.
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-ours", "agent_identity": TOKEN}),
    ];
    for document in documents {
        let (_dir, store) = home();
        // Codex's own formatting, which a rewrite would not reproduce.
        let bytes = format!("{document:#}\n\n").into_bytes();
        fs::write(store.path(), &bytes).expect("seed");
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o640)).expect("chmod");

        store.clear().expect("clear");
        assert_eq!(
            fs::read(store.path()).expect("still there"),
            bytes,
            "{document}"
        );
        assert_eq!(mode_of(store.path()), 0o640, "{document}");
    }
}

#[test]
fn clear_removes_only_the_agent_identity_and_keeps_unknown_fields() {
    let (_dir, store) = home();
    let unknown = json!({
        "tokens": {"id_token": "x", "refresh_token": "y", "account_id": null},
        "last_refresh": "2025-01-01T00:00:00Z",
        "keep_me": {"nested": [1, 2, {"deep": true}]},
    });
    let mut seeded = unknown.as_object().expect("object").clone();
    seeded.insert("auth_mode".into(), json!("agentIdentity"));
    seeded.insert("OPENAI_API_KEY".into(), Value::Null);
    seeded.insert("agent_identity".into(), json!(TOKEN));
    fs::write(store.path(), Value::Object(seeded).to_string()).expect("seed");
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).expect("chmod");

    store.clear().expect("clear");
    let mut expected = unknown.as_object().expect("object").clone();
    expected.insert("OPENAI_API_KEY".into(), Value::Null);
    assert_eq!(raw_document(&store), Value::Object(expected));
    assert_eq!(mode_of(store.path()), 0o600);
    assert_eq!(loaded(&store), None);
    store.clear().expect("clearing twice");
    assert!(store.path().exists(), "the other fields were deleted");
}

#[test]
fn clear_of_a_codex_agent_identity_file_keeps_its_extra_field() {
    let (dir, store) = home();
    let codex = format!(
        r#"{{"auth_mode":"agentIdentity","OPENAI_API_KEY":null,"agent_identity":"{TOKEN}","last_refresh":"2026-04-27T18:03:11Z"}}"#
    );
    fs::write(store.path(), codex).expect("seed");

    store.clear().expect("clear");
    assert_eq!(
        raw_document(&store),
        json!({"OPENAI_API_KEY": null, "last_refresh": "2026-04-27T18:03:11Z"})
    );
    assert_eq!(loaded(&store), None);
    assert_eq!(temp_files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn clear_deletes_a_file_holding_only_the_agent_identity() {
    for document in [
        json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": TOKEN}),
        json!({"agent_identity": TOKEN}),
        json!({"auth_mode": null, "agent_identity": TOKEN}),
        json!({"auth_mode": "agentIdentity", "agent_identity": null}),
        json!({}),
    ] {
        let (_dir, store) = home();
        fs::write(store.path(), document.to_string()).expect("seed");
        store.clear().expect("clear");
        assert!(!store.path().exists(), "{document}");
    }
}

#[test]
fn clear_reports_what_it_did() {
    let cases: [(Option<Value>, ClearOutcome); 7] = [
        (None, ClearOutcome::NothingStored),
        (
            Some(
                json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": TOKEN}),
            ),
            ClearOutcome::Removed,
        ),
        (
            Some(json!({"agent_identity": TOKEN, "keep_me": 1})),
            ClearOutcome::Removed,
        ),
        (
            Some(json!({"auth_mode": "agentIdentity", "agent_identity": null})),
            ClearOutcome::NothingStored,
        ),
        (
            Some(json!({"auth_mode": "chatgpt", "tokens": {"id_token": "x"}})),
            ClearOutcome::KeptOtherLogin("chatgpt".into()),
        ),
        // A mode name that is not a plain word is not repeated to the user.
        (
            Some(json!({"auth_mode": format!("x {TOKEN}"), "OPENAI_API_KEY": "sk-x"})),
            ClearOutcome::KeptOtherLogin("unknown".into()),
        ),
        (
            Some(json!(["not", "an", "object"])),
            ClearOutcome::RemovedCorrupt,
        ),
    ];
    for (document, expected) in cases {
        let (_dir, store) = home();
        if let Some(document) = &document {
            fs::write(store.path(), document.to_string()).expect("seed");
        }
        let outcome = store.clear().expect("clear");
        assert_eq!(outcome, expected, "{document:?}");
        assert_eq!(
            outcome.removed(),
            matches!(
                expected,
                ClearOutcome::Removed | ClearOutcome::RemovedCorrupt
            )
        );
    }

    let memory = MemoryStore::with_token(jwt(TOKEN));
    assert_eq!(memory.clear().expect("clear"), ClearOutcome::Removed);
    assert_eq!(memory.clear().expect("clear"), ClearOutcome::NothingStored);
    assert_eq!(
        ClearOutcome::KeptOtherLogin("apikey".into()).name(),
        "kept_other_login"
    );
}
