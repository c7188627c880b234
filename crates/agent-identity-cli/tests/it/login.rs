//! `login` and `logout`: verify, register eagerly, persist; nothing written on failure.

use std::time::{Duration, SystemTime};

use crate::support::{Fixture, assert_no_secrets, closed_port};

#[tokio::test(flavor = "multi_thread")]
async fn login_registers_a_task_and_stores_the_token() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let before = fixture.emulator.registrations();
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--json", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["state"], "ready");
    assert_eq!(json["runtime_id"], minted.runtime_id.as_str());
    assert!(
        json["task_id"].as_str().is_some_and(|id| !id.is_empty()),
        "{json}"
    );
    assert_eq!(fixture.emulator.registrations(), before + 1);
    assert_no_secrets(&run, &minted);

    let stored: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.auth_file()).expect("auth.json written"))
            .expect("auth.json is JSON");
    assert_eq!(stored["auth_mode"], "agentIdentity");
    assert_eq!(stored["agent_identity"], minted.token.expose_secret());
}

#[tokio::test(flavor = "multi_thread")]
async fn login_prints_a_human_summary() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--jwt-file", "-"])
        .stdin(minted.token.expose_secret())
        .run()
        .await;
    run.assert_code(0);
    assert!(run.stdout.starts_with("logged in"), "{run:#?}");
    assert!(run.stdout.contains(minted.runtime_id.as_str()), "{run:#?}");
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_login_writes_nothing() {
    let fixture = Fixture::new().await;
    let expired = fixture
        .emulator
        .mint()
        .expires_at(SystemTime::now() - Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--json", "--jwt-file"])
        .arg(fixture.token_file(&expired))
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "expired");
    assert!(!fixture.auth_file().exists());
    assert_eq!(fixture.emulator.registrations(), 0);
    assert_no_secrets(&run, &expired);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_refused_by_the_authapi_exits_1_and_writes_nothing() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.emulator.fail_next_registrations(1, 403);
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--json", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "task_registration_failed");
    assert!(!fixture.auth_file().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_with_the_authapi_unreachable_exits_75_and_writes_nothing() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli()
        .args(["login", "--json", "--max-attempts", "2", "--jwks-url"])
        .arg(fixture.emulator.jwks_url())
        .arg("--authapi-base-url")
        .arg(format!("http://127.0.0.1:{}/api/accounts", closed_port()))
        .arg("--jwt-file")
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    assert_eq!(run.assert_failure(75), "authapi_unavailable");
    assert!(!fixture.auth_file().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_login_keeps_the_previous_identity() {
    let fixture = Fixture::new().await;
    let first = fixture.mint();
    fixture.login(&first).await;
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--jwt-file", "-"])
        .stdin("garbage")
        .run()
        .await;
    run.assert_failure(1);
    let status = fixture.cli().args(["status", "--json"]).run().await;
    status.assert_code(0);
    assert_eq!(status.json()["runtime_id"], first.runtime_id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_removes_the_credentials() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let run = fixture.cli().args(["logout", "--json"]).run().await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["state"], "logged_out");
    assert_eq!(json["removed"], true);
    assert!(!fixture.auth_file().exists());

    let status = fixture.cli().args(["status", "--json"]).run().await;
    status.assert_code(1);
    assert_eq!(status.json()["state"], "logged_out");

    // Logging out twice is not an error.
    let again = fixture.cli().arg("logout").run().await;
    again.assert_code(0);
    assert!(again.stdout.contains("nothing was stored"), "{again:#?}");
}
