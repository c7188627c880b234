//! `login` and `logout`: verify, register eagerly, persist; nothing written on failure.

use std::time::{Duration, SystemTime};

use crate::support::{Fixture, assert_no_secrets, refusing_port};

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
        .arg(fixture.emulator.jwks_url().to_string())
        .arg("--authapi-base-url")
        .arg(format!(
            "http://127.0.0.1:{}/api/accounts",
            refusing_port().port()
        ))
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

#[tokio::test(flavor = "multi_thread")]
async fn login_into_a_store_that_cannot_be_written_exits_1_before_registering() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    // `auth.json` a directory.
    std::fs::create_dir(fixture.auth_file()).expect("directory in the file's place");
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--json", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "store_io");
    assert_no_secrets(&run, &minted);

    // `--home` a regular file, and a home whose name is too long.
    let home_file = fixture.write("not-a-directory", "x");
    let too_long = fixture.scratch.path().join("n".repeat(300));
    for home in [home_file, too_long] {
        let run = fixture
            .cli_with_emulator()
            .args(["login", "--json", "--home"])
            .arg(&home)
            .arg("--jwt-file")
            .arg(fixture.token_file(&minted))
            .run()
            .await;
        assert_eq!(run.assert_failure(1), "store_io", "{}", home.display());
    }
    assert_eq!(
        fixture.emulator.registrations(),
        0,
        "a task was registered for a store that cannot take the token"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_reports_what_happened() {
    let fixture = Fixture::new().await;
    let nothing = fixture.cli().args(["logout", "--json"]).run().await;
    nothing.assert_code(0);
    let json = nothing.json();
    assert_eq!(json["removed"], false);
    assert_eq!(json["outcome"], "nothing_stored");

    // Codex's ChatGPT login: left byte for byte, and said so.
    let chatgpt = "{\"auth_mode\":\"chatgpt\",\"OPENAI_API_KEY\":null,\"tokens\":{}}\n";
    std::fs::write(fixture.auth_file(), chatgpt).expect("seed");
    let kept = fixture.cli().args(["logout", "--json"]).run().await;
    kept.assert_code(0);
    let json = kept.json();
    assert_eq!(json["removed"], false);
    assert_eq!(json["kept"], "chatgpt");
    assert_eq!(json["outcome"], "kept_other_login");
    assert_eq!(
        std::fs::read_to_string(fixture.auth_file()).expect("still there"),
        chatgpt
    );
    let human = fixture.cli().arg("logout").run().await;
    human.assert_code(0);
    assert!(
        human.stdout.contains("chatgpt login was left untouched"),
        "{human:#?}"
    );

    std::fs::remove_file(fixture.auth_file()).expect("remove");
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let human = fixture.cli().arg("logout").run().await;
    human.assert_code(0);
    assert!(
        human.stdout.contains("removed the agent identity"),
        "{human:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_refuses_a_symlinked_auth_json_and_keeps_the_token() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let target = fixture.scratch.path().join("real-auth.json");
    std::fs::rename(fixture.auth_file(), &target).expect("move the file away");
    std::os::unix::fs::symlink(&target, fixture.auth_file()).expect("symlink");
    let before = std::fs::read(&target).expect("read");

    let run = fixture.cli().args(["logout", "--json"]).run().await;
    assert_eq!(run.assert_failure(1), "store_insecure");
    assert!(run.stdout.contains("symbolic link"), "{run:#?}");
    assert!(
        std::fs::symlink_metadata(fixture.auth_file())
            .expect("still there")
            .file_type()
            .is_symlink()
    );
    assert_eq!(std::fs::read(&target).expect("read"), before);
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_does_not_follow_a_dangling_lock_symlink() {
    let fixture = Fixture::new().await;
    let lock = fixture.home.path().join("auth.json.lock");
    let target = fixture.scratch.path().join("planted");
    std::os::unix::fs::symlink(&target, &lock).expect("symlink");
    let run = fixture.cli().args(["logout", "--json"]).run().await;
    assert_eq!(run.assert_failure(1), "store_insecure");
    assert!(
        !target.exists(),
        "logout created a file where the link points"
    );
}

/// Takes `DEFAULT_LOCK_TIMEOUT` (10 s) of wall time: the CLI has no knob for the bound, and a
/// test-only one would be a knob nonetheless. The bound itself is tested in the store's units.
#[tokio::test(flavor = "multi_thread")]
async fn logout_while_another_process_holds_the_lock_exits_75() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let held = std::fs::File::open(fixture.home.path().join("auth.json.lock")).expect("open");
    held.lock().expect("lock");

    let run = fixture.cli().args(["logout", "--json"]).run().await;
    assert_eq!(run.assert_failure(75), "store_locked");
    assert!(
        run.stdout
            .contains("credentials are locked by another process"),
        "{run:#?}"
    );
    assert!(fixture.auth_file().exists(), "logout got through the lock");
    drop(held);
    fixture.cli().arg("logout").run().await.assert_code(0);
    assert!(!fixture.auth_file().exists());
}
