//! `status`: offline, from the store alone.

use std::time::{Duration, SystemTime};

use crate::support::{Fixture, assert_no_secrets, refusing_port};

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
    let dead = format!("http://127.0.0.1:{}", refusing_port().port());
    // `status` takes no key set or AuthAPI flag; their variables point nowhere.
    let run = fixture
        .cli()
        .args(["status", "--json"])
        .env("AGENT_IDENTITY_JWKS_URL", format!("{dead}/jwks"))
        .env("AGENT_IDENTITY_AUTHAPI_BASE_URL", &dead)
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
    assert_eq!(json["state"], "corrupt");
    assert_eq!(json["error"], "store_corrupt");

    let human = fixture.cli().arg("status").run().await;
    human.assert_code(1);
    assert!(human.stdout.starts_with("state:"), "{human:#?}");
    assert!(human.stdout.contains("corrupt"), "{human:#?}");
}

/// Another process's lock on the store, as a writer holds it: `flock` locks belong to an open
/// file description, and the CLI is another process.
fn hold_the_lock(fixture: &Fixture) -> std::fs::File {
    let lock = std::fs::File::open(fixture.home.path().join("auth.json.lock"))
        .expect("the lock file exists after a login");
    lock.lock().expect("lock");
    lock
}

#[tokio::test(flavor = "multi_thread")]
async fn status_does_not_wait_for_a_writers_lock() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let _held = hold_the_lock(&fixture);
    for json in [true, false] {
        let mut cli = fixture.cli().arg("status");
        if json {
            cli = cli.arg("--json");
        }
        // Waiting on the lock would hang until the run's timeout fails the test.
        let run = cli.run().await;
        run.assert_code(0);
        assert!(run.stdout.contains("ready"), "{run:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_refuses_a_home_others_may_write_with_the_fix() {
    use std::os::unix::fs::PermissionsExt as _;
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    std::fs::set_permissions(fixture.home.path(), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    let run = fixture.cli().args(["status", "--json"]).run().await;
    run.assert_code(1);
    let json = run.json();
    assert_eq!(json["state"], "unavailable");
    assert_eq!(json["error"], "store_insecure");
    let fix = format!("chmod 700 {}", fixture.home.path().display());
    assert!(
        json["message"]
            .as_str()
            .is_some_and(|message| message.contains(&fix)),
        "{json}"
    );
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn status_of_a_fifo_auth_json_does_not_hang() {
    let fixture = Fixture::new().await;
    let made = std::process::Command::new("mkfifo")
        .arg(fixture.auth_file())
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let run = fixture.cli().args(["status", "--json"]).run().await;
    run.assert_code(1);
    assert_eq!(run.json()["error"], "store_insecure");
    let logout = fixture.cli().args(["logout", "--json"]).run().await;
    assert_eq!(logout.assert_failure(1), "store_insecure");
}
