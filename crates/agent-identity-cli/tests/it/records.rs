//! A home written by current Codex in its record form: `status`, `header` and `logout` with no
//! other step.

use serde_json::{Value, json};

use crate::support::{Fixture, echo};

/// A ChatGPT login with the record of an agent the emulator knows beside it (the managed form).
fn managed_home(fixture: &Fixture, task_id: Option<&str>) -> Value {
    let minted = fixture.mint();
    let mut record = json!({
        "agent_runtime_id": minted.runtime_id.as_str(),
        "agent_private_key": minted.key.to_pkcs8_base64().as_str(),
        "account_id": "account-emulator",
        "chatgpt_user_id": "user-emulator",
        "email": "",
        "plan_type": "prolite",
        "chatgpt_account_is_fedramp": false,
    });
    if let Some(task_id) = task_id {
        record["task_id"] = json!(task_id);
    }
    let document = json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {"id_token": "id-sentinel", "access_token": "access-sentinel", "refresh_token": "refresh-sentinel", "account_id": "account-emulator"},
        "last_refresh": "2026-08-20T10:00:00Z",
        "agent_identity": record,
    });
    std::fs::write(fixture.auth_file(), document.to_string()).expect("seed");
    document
}

fn on_disk(fixture: &Fixture) -> Value {
    serde_json::from_slice(&std::fs::read(fixture.auth_file()).expect("read")).expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn status_names_the_record_form_and_its_file() {
    let fixture = Fixture::new().await;
    managed_home(&fixture, Some("task-from-codex"));
    let run = fixture.cli().args(["status", "--json"]).run().await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["state"], "ready", "{json}");
    assert_eq!(json["form"], "record", "{json}");
    assert_eq!(json["record_file"], "managed", "{json}");
    assert_eq!(json["task_id"], "task-from-codex", "{json}");
    assert_eq!(json["plan"], "prolite", "{json}");
    assert_eq!(json["expires_at"], Value::Null, "{json}");
    let text = fixture.cli().arg("status").run().await;
    assert!(
        text.stdout.contains("record (managed file)"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("refresh-sentinel"));
}

#[tokio::test(flavor = "multi_thread")]
async fn header_from_a_record_without_a_task_registers_one_and_writes_it_back() {
    let fixture = Fixture::new().await;
    let seeded = managed_home(&fixture, None);
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json"])
        .run()
        .await;
    run.assert_code(0);
    let json = run.json();
    let task_id = json["task_id"].as_str().expect("task id").to_owned();
    let (status, body) = echo(&fixture, &json).await;
    assert_eq!(status, 200, "{body}");
    let mut expected = seeded;
    expected["agent_identity"]["task_id"] = json!(task_id);
    assert_eq!(on_disk(&fixture), expected);

    // The next process uses the record's task: the same one.
    let again = fixture
        .cli_with_emulator()
        .args(["header", "--json"])
        .run()
        .await;
    again.assert_code(0);
    assert_eq!(again.json()["task_id"], task_id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_of_a_managed_file_keeps_the_chatgpt_login() {
    let fixture = Fixture::new().await;
    let seeded = managed_home(&fixture, Some("task-1"));
    fixture.cli().arg("logout").run().await.assert_code(0);
    let mut expected = seeded;
    expected
        .as_object_mut()
        .expect("object")
        .remove("agent_identity");
    assert_eq!(on_disk(&fixture), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_april_shape_is_refused_by_name_and_left_as_it_is() {
    let fixture = Fixture::new().await;
    let april = json!({
        "OPENAI_API_KEY": null,
        "tokens": {"access_token": "access-sentinel", "refresh_token": "refresh-sentinel"},
        "agent_identity": {"workspace_id": "acct", "agent_runtime_id": "a", "agent_private_key": "k", "registered_at": "2026-04-16T18:03:11Z"},
    })
    .to_string();
    std::fs::write(fixture.auth_file(), &april).expect("seed");
    for command in ["status", "header"] {
        let run = fixture.cli_with_emulator().arg(command).run().await;
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains("workspace_id"), "{command}: {all}");
        assert!(!all.contains("refresh-sentinel"), "{command}: {all}");
        assert_ne!(run.code, Some(0), "{command}");
    }
    assert_eq!(
        std::fs::read_to_string(fixture.auth_file()).expect("read"),
        april
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_reads_a_record_home_as_a_record_not_an_unsupported_form() {
    let fixture = Fixture::new().await;
    managed_home(&fixture, Some("task-from-codex"));
    let run = fixture
        .cli_with_emulator()
        .args(["doctor", "--json"])
        .run()
        .await;
    let json = run.json();
    let checks = json["checks"].as_array().expect("checks");
    let line = |name: &str| {
        checks
            .iter()
            .find(|check| check["check"] == name)
            .unwrap_or_else(|| panic!("a {name} line: {json}"))
    };
    assert_eq!(line("store")["status"], "ok", "{json}");
    assert!(
        line("store")["detail"].as_str().is_some_and(
            |detail| detail.contains("managed record") && detail.contains("task-from-codex")
        ),
        "{json}"
    );
    assert_eq!(line("token")["status"], "skipped", "{json}");
    assert!(!run.stdout.contains("refresh-sentinel") && !run.stderr.contains("access-sentinel"));
}
