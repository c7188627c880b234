//! `register`: an agent identity created from a ChatGPT login against the emulator, written
//! managed or standalone, usable at once; and nothing written when any step fails.

use std::time::Duration;

use agent_identity_emulator::ChatGptLogin;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{Fixture, echo};

const REFRESH: &str = "refresh-token-sentinel-9f3a";

fn codex_login(login: &ChatGptLogin) -> Value {
    json!({
        "auth_mode": "chatgpt",
        "OPENAI_API_KEY": null,
        "tokens": {
            "id_token": login.id_token(),
            "access_token": login.access_token(),
            "refresh_token": REFRESH,
            "account_id": login.account_id(),
        },
        "last_refresh": "2026-08-20T10:00:00Z",
    })
}

fn on_disk(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

fn register(fixture: &Fixture) -> crate::support::Cli {
    fixture.cli().args([
        "register",
        "--authapi-base-url",
        fixture.emulator.authapi_base_url().as_str(),
    ])
}

fn assert_no_tokens(text: &str, login: &ChatGptLogin) {
    for secret in [login.access_token(), login.id_token(), REFRESH] {
        assert!(!text.contains(secret), "a chatgpt token leaked: {text}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_managed_registration_writes_the_record_beside_the_login_and_it_signs_at_once() {
    let fixture = Fixture::new().await;
    let login = fixture
        .emulator
        .chatgpt_login()
        .plan_type("go")
        .issue()
        .expect("login");
    let seeded = codex_login(&login);
    std::fs::write(fixture.auth_file(), seeded.to_string()).expect("seed");

    let run = register(&fixture).arg("--json").run().await;
    run.assert_code(0);
    assert_no_tokens(&format!("{}{}", run.stdout, run.stderr), &login);
    let report = run.json();
    assert_eq!(report["record_file"], "managed");
    let written = on_disk(&fixture.auth_file());
    for field in ["auth_mode", "tokens", "last_refresh", "OPENAI_API_KEY"] {
        assert_eq!(written[field], seeded[field], "{field} changed");
    }
    let record = &written["agent_identity"];
    assert_eq!(record["agent_runtime_id"], report["runtime_id"]);
    assert_eq!(record["account_id"], login.account_id());
    assert_eq!(record["plan_type"], "go");
    assert_eq!(record["task_id"], report["task_id"]);
    assert_eq!(fixture.emulator.agent_registrations(), 1);

    // A resource server accepts the new agent, with the record's task: no other step.
    let header = fixture
        .cli()
        .args(["header", "--json", "--authapi-base-url"])
        .arg(fixture.emulator.authapi_base_url().as_str())
        .run()
        .await;
    header.assert_code(0);
    let headers = header.json();
    assert_eq!(headers["task_id"], report["task_id"]);
    let (status, body) = echo(&fixture, &headers).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_standalone_registration_copies_no_token_into_the_home() {
    let fixture = Fixture::new().await;
    let login = fixture.emulator.chatgpt_login().issue().expect("login");
    let elsewhere = fixture.write("codex-auth.json", &codex_login(&login).to_string());

    let run = register(&fixture)
        .arg("--chatgpt-auth")
        .arg(&elsewhere)
        .run()
        .await;
    run.assert_code(0);
    assert_no_tokens(&format!("{}{}", run.stdout, run.stderr), &login);
    let home = std::fs::read_to_string(fixture.auth_file()).expect("written");
    assert_no_tokens(&home, &login);
    let written: Value = serde_json::from_str(&home).expect("json");
    assert_eq!(written["auth_mode"], "agentIdentity");
    assert!(written.get("tokens").is_none());
    assert!(written["agent_identity"]["task_id"].is_string());
    // The login's own file is not touched.
    assert_eq!(on_disk(&elsewhere), codex_login(&login));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fedramp_login_sends_the_fedramp_header() {
    let fixture = Fixture::new().await;
    // The emulator refuses a FedRAMP login's registration without the header (403).
    let login = fixture
        .emulator
        .chatgpt_login()
        .fedramp(true)
        .issue()
        .expect("login");
    std::fs::write(fixture.auth_file(), codex_login(&login).to_string()).expect("seed");
    register(&fixture).run().await.assert_code(0);
    assert_eq!(
        on_disk(&fixture.auth_file())["agent_identity"]["chatgpt_account_is_fedramp"],
        true
    );
}

/// Runs `register` on a home holding `login`, and asserts that it failed with `code` and wrote
/// nothing; returns its error line.
async fn nothing_written(fixture: &Fixture, login: &ChatGptLogin, base: &str, code: i32) -> String {
    let before = codex_login(login).to_string();
    std::fs::write(fixture.auth_file(), &before).expect("seed");
    let run = fixture
        .cli()
        .args(["register", "--authapi-base-url", base])
        .run()
        .await;
    run.assert_failure(code);
    let message = run.stderr.clone();
    assert_no_tokens(&format!("{}{}", run.stdout, run.stderr), login);
    assert_eq!(
        std::fs::read_to_string(fixture.auth_file()).expect("read"),
        before
    );
    let leftovers: Vec<_> = std::fs::read_dir(fixture.home.path())
        .expect("home")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    message
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_written_after_repeated_500s_or_a_401() {
    let fixture = Fixture::new().await;
    let login = fixture.emulator.chatgpt_login().issue().expect("login");
    let base = fixture.emulator.authapi_base_url().to_string();
    fixture.emulator.fail_next_agent_registrations(100, 500);
    nothing_written(&fixture, &login, &base, 75).await;
    fixture.emulator.fail_next_agent_registrations(0, 500);

    let fixture = Fixture::new().await;
    let login = fixture.emulator.chatgpt_login().issue().expect("login");
    let base = fixture.emulator.authapi_base_url().to_string();
    fixture.emulator.fail_next_agent_registrations(1, 401);
    nothing_written(&fixture, &login, &base, 1).await;
    assert_eq!(fixture.emulator.agent_registrations(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn nothing_is_written_after_a_malformed_answer() {
    let fixture = Fixture::new().await;
    let login = fixture.emulator.chatgpt_login().issue().expect("login");
    // An AuthAPI that answers every request with 200 and no runtime id.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!(
        "http://{}/api/accounts",
        listener.local_addr().expect("addr")
    );
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut buffer = [0u8; 8192];
            let _ = socket.read(&mut buffer).await;
            let body = r#"{"not_a_runtime_id":true}"#;
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
        }
    });
    nothing_written(&fixture, &login, &base, 1).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_or_absent_login_says_to_run_codex_login() {
    let fixture = Fixture::new().await;
    let login = fixture
        .emulator
        .chatgpt_login()
        .lifetime(Duration::ZERO)
        .issue()
        .expect("login");
    let base = fixture.emulator.authapi_base_url().to_string();
    let message = nothing_written(&fixture, &login, &base, 1).await;
    assert!(message.contains("expired"), "{message}");
    assert!(message.contains("codex login"), "{message}");
    assert_eq!(fixture.emulator.agent_registrations(), 0);

    let fixture = Fixture::new().await;
    let run = register(&fixture).run().await;
    run.assert_failure(1);
    assert!(run.stderr.contains("codex login"), "{}", run.stderr);
    assert!(!fixture.auth_file().exists());
}
