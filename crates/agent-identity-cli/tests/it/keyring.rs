//! `--store keyring`: the OS keyring, explicit, never a file. These run without a Secret
//! Service (the session bus address points at nothing), so every keyring call fails fast with a
//! typed transient error; the real-keyring round trip is the manager's test that `cargo xtask
//! ci` runs inside its own D-Bus session.

use crate::support::{Cli, Fixture};

/// A session bus address where nothing listens: libdbus fails to connect at once.
fn without_secret_service(cli: Cli, fixture: &Fixture) -> Cli {
    let address = format!(
        "unix:path={}",
        fixture.scratch.path().join("no-bus").display()
    );
    cli.env("DBUS_SESSION_BUS_ADDRESS", address)
}

fn assert_home_holds_no_credentials(fixture: &Fixture) {
    assert!(!fixture.auth_file().exists(), "no auth.json fallback");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_names_the_keyring_entry_and_an_absent_service_is_transient() {
    let fixture = Fixture::new().await;
    let run = without_secret_service(fixture.cli(), &fixture)
        .args(["status", "--json", "--store", "keyring"])
        .run()
        .await;
    run.assert_code(75);
    let json = run.json();
    assert_eq!(json["state"], "unavailable", "{json}");
    let store = json["store"].as_str().expect("store");
    assert!(
        store.contains("keyring") && store.contains("Codex Auth"),
        "{store}"
    );
    assert!(store.contains("cli|"), "{store}");
    assert_home_holds_no_credentials(&fixture);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_variable_selects_the_keyring_too() {
    let fixture = Fixture::new().await;
    let run = without_secret_service(fixture.cli(), &fixture)
        .env("AGENT_IDENTITY_STORE", "keyring")
        .args(["status", "--json"])
        .run()
        .await;
    run.assert_code(75);
    assert!(
        run.json()["store"]
            .as_str()
            .is_some_and(|store| store.contains("Codex Auth")),
        "{run:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_store_flag_beats_the_variable_and_a_token_file_beats_the_keyring() {
    let fixture = Fixture::new().await;
    let run = without_secret_service(fixture.cli(), &fixture)
        .env("AGENT_IDENTITY_STORE", "keyring")
        .args(["status", "--json", "--store", "file"])
        .run()
        .await;
    let json = run.json();
    assert!(
        json["store"]
            .as_str()
            .is_some_and(|store| store.ends_with("auth.json")),
        "{json}"
    );
    // A token file is read before the durable store, whichever it is: no keyring call at all.
    let minted = fixture.mint();
    let token_file = fixture.scratch.path().join("token");
    std::fs::write(&token_file, minted.token.expose_secret()).expect("token file");
    let run = without_secret_service(fixture.cli(), &fixture)
        .args(["status", "--json", "--store", "keyring", "--jwt-file"])
        .arg(&token_file)
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(run.json()["state"], "ready", "{run:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn login_to_an_unavailable_keyring_fails_before_registering_and_writes_no_file() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let before = fixture.emulator.registrations();
    let run = without_secret_service(fixture.cli_with_emulator(), &fixture)
        .args(["login", "--store", "keyring", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    run.assert_failure(75);
    let message = &run.stderr;
    assert!(message.contains("keyring"), "{message}");
    assert!(!message.contains(minted.token.expose_secret()), "{message}");
    assert_eq!(
        fixture.emulator.registrations(),
        before,
        "no task registered"
    );
    assert_home_holds_no_credentials(&fixture);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_from_an_unavailable_keyring_is_a_transient_failure_not_a_silent_success() {
    let fixture = Fixture::new().await;
    let run = without_secret_service(fixture.cli(), &fixture)
        .args(["logout", "--store", "keyring"])
        .run()
        .await;
    run.assert_failure(75);
    let message = &run.stderr;
    assert!(message.contains("Codex Auth"), "{message}");
    assert_home_holds_no_credentials(&fixture);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_store_is_a_usage_error_listing_the_choices() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli()
        .args(["status", "--store", "vault"])
        .run()
        .await;
    run.assert_code(2);
    let message = &run.stderr;
    assert!(
        message.contains("file") && message.contains("keyring"),
        "{message}"
    );
}
