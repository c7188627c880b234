//! `doctor` names the right line and the right fix: one test per setup that used to be
//! reported on the wrong line, or with the wrong next step.

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::doctor::check;
use crate::support::{Fixture, assert_no_secrets};

fn detail<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["detail"].as_str().expect("detail")
}

fn next(report: &Value) -> &str {
    report["next"].as_str().expect("next")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_audience_fails_the_token_line_and_names_the_audience() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let run = fixture
        .cli_with_emulator()
        .args(["doctor", "--json", "--audience", "some-other-audience"])
        .run()
        .await;
    run.assert_code(1);
    assert_no_secrets(&run, &minted);
    let report = run.json();
    assert_eq!(check(&report, "token")["status"], "fail", "{report}");
    assert!(
        detail(&report, "token").contains("some-other-audience"),
        "{report}"
    );
    assert!(next(&report).contains("--audience"), "{report}");
    // The key set is not blamed for what the token says.
    assert_ne!(check(&report, "key set")["status"], "fail", "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_home_open_to_everyone_fails_the_store_line_and_the_token_is_not_checked() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    std::fs::set_permissions(fixture.home.path(), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    let run = fixture
        .cli_with_emulator()
        .args(["doctor", "--json"])
        .run()
        .await;
    std::fs::set_permissions(fixture.home.path(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod back");
    run.assert_code(1);
    let report = run.json();
    assert_eq!(check(&report, "store")["status"], "fail", "{report}");
    assert_eq!(check(&report, "token")["status"], "skipped", "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_token_file_is_a_configuration_error_naming_the_file() {
    let fixture = Fixture::new().await;
    let missing = fixture.scratch.path().join("not-yet-mounted.jwt");
    let run = fixture
        .cli_with_emulator()
        .env("AGENT_IDENTITY_JWT_FILE", &missing)
        .args(["doctor", "--json"])
        .run()
        .await;
    run.assert_code(1);
    let report = run.json();
    let shown = missing.display().to_string();
    assert_eq!(check(&report, "store")["status"], "fail", "{report}");
    assert!(detail(&report, "store").contains(&shown), "{report}");
    assert!(
        detail(&report, "store").contains("AGENT_IDENTITY_JWT_FILE"),
        "{report}"
    );
    assert!(!detail(&report, "store").contains("auth.json"), "{report}");
    assert!(next(&report).contains("check the path"), "{report}");
    assert!(
        next(&report).contains(&format!("meant to write {shown}")),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_file_says_its_writer_must_write_a_new_one() {
    let fixture = Fixture::new().await;
    let expired = fixture
        .emulator
        .mint()
        .expires_at(SystemTime::now() - Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let file = fixture.token_file(&expired);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let run = fixture
        .cli_with_emulator()
        .env("AGENT_IDENTITY_JWT_FILE", &file)
        .args(["doctor", "--json"])
        .run()
        .await;
    run.assert_code(1);
    assert_no_secrets(&run, &expired);
    let report = run.json();
    assert_eq!(check(&report, "token")["status"], "fail", "{report}");
    assert_eq!(
        next(&report),
        format!("whatever writes {} must write a new token", file.display()),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_authapi_is_reported_calmly() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let run = fixture
        .cli_with_emulator()
        .args(["doctor", "--json"])
        .run()
        .await;
    run.assert_code(0);
    let report = run.json();
    let authapi = detail(&report, "authapi");
    assert!(authapi.contains("is reachable"), "{report}");
    assert!(authapi.contains("no task"), "{report}");
    assert!(!authapi.contains("404"), "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_authapi_host_that_does_not_resolve_is_named() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    // `.invalid` never resolves (RFC 6761): the resolver answers at once, offline too.
    let run = fixture
        .cli()
        .args(["doctor", "--json", "--jwks-url"])
        .arg(fixture.emulator.jwks_url().as_str())
        .args([
            "--authapi-base-url",
            "https://authapi.doctor-test.invalid/api/accounts",
        ])
        .run()
        .await;
    run.assert_code(75);
    let report = run.json();
    assert_eq!(check(&report, "authapi")["status"], "transient", "{report}");
    assert_eq!(
        detail(&report, "authapi"),
        "cannot resolve authapi.doctor-test.invalid",
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_file_readable_by_others_is_a_warning() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let file = fixture.token_file(&minted);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let run = fixture
        .cli_with_emulator()
        .env("AGENT_IDENTITY_JWT_FILE", &file)
        .args(["doctor", "--json"])
        .run()
        .await;
    // A warning, not a failure: a Kubernetes secret is mounted 0644 by default.
    run.assert_code(0);
    assert_no_secrets(&run, &minted);
    let report = run.json();
    assert_eq!(check(&report, "store")["status"], "warn", "{report}");
    assert!(
        detail(&report, "store").contains("readable by others"),
        "{report}"
    );
    assert_eq!(check(&report, "token")["status"], "ok", "{report}");
    // The same file made private passes without a word.
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let private = fixture
        .cli_with_emulator()
        .env("AGENT_IDENTITY_JWT_FILE", &file)
        .args(["doctor", "--json"])
        .run()
        .await;
    private.assert_code(0);
    assert_eq!(check(&private.json(), "store")["status"], "ok");
}
