//! `status`: offline, from the store alone.

use std::time::{Duration, SystemTime};

use crate::support::{Fixture, assert_no_secrets, closed_port};

#[tokio::test(flavor = "multi_thread")]
async fn status_when_logged_out_exits_1() {
    let fixture = Fixture::new().await;
    let run = fixture.cli().args(["status", "--json"]).run().await;
    run.assert_code(1);
    let json = run.json();
    assert_eq!(json["state"], "logged_out");
    assert!(
        json["store"]
            .as_str()
            .is_some_and(|store| store.ends_with("auth.json"))
    );
    assert!(run.stderr.is_empty(), "{run:#?}");

    let human = fixture.cli().arg("status").run().await;
    human.assert_code(1);
    assert!(human.stdout.starts_with("state:"), "{human:#?}");
    assert!(human.stdout.contains("logged_out"), "{human:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_after_login_is_ready_without_the_network() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let (fetches, registrations) = (
        fixture.emulator.jwks_fetches(),
        fixture.emulator.registrations(),
    );
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let run = fixture
        .cli()
        .args(["status", "--json", "--jwks-url"])
        .arg(format!("{dead}/jwks"))
        .arg("--authapi-base-url")
        .arg(&dead)
        .run()
        .await;
    run.assert_code(0);
    let json = run.json();
    assert_eq!(json["state"], "ready");
    assert_eq!(json["runtime_id"], minted.runtime_id.as_str());
    assert_eq!(json["account_id"], "account-emulator");
    assert_eq!(json["plan"], "pro");
    assert!(
        json["expires_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{json}"
    );
    assert!(json["expires_at_unix"].is_u64(), "{json}");
    assert_eq!(fixture.emulator.jwks_fetches(), fetches);
    assert_eq!(fixture.emulator.registrations(), registrations);
    assert_no_secrets(&run, &minted);

    let human = fixture.cli().arg("status").run().await;
    human.assert_code(0);
    assert!(
        human.stdout.contains(minted.runtime_id.as_str()),
        "{human:#?}"
    );
    assert_no_secrets(&human, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_of_an_expired_identity_exits_1() {
    let fixture = Fixture::new().await;
    let expired = fixture
        .emulator
        .mint()
        .expires_at(SystemTime::now() - Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let run = fixture
        .cli()
        .args(["status", "--json"])
        .env("AGENT_IDENTITY_JWT", expired.token.expose_secret())
        .run()
        .await;
    run.assert_code(1);
    let json = run.json();
    assert_eq!(json["state"], "expired");
    assert_eq!(json["runtime_id"], expired.runtime_id.as_str());
    assert!(
        json["store"]
            .as_str()
            .is_some_and(|store| store.contains("AGENT_IDENTITY_JWT"))
    );
    assert_no_secrets(&run, &expired);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_a_corrupt_store() {
    let fixture = Fixture::new().await;
    std::fs::write(fixture.auth_file(), "{ not json").expect("write");
    let run = fixture.cli().args(["status", "--json"]).run().await;
    run.assert_code(1);
    let json = run.json();
    assert_eq!(json["state"], "logged_out");
    assert_eq!(json["error"], "store_corrupt");
}
