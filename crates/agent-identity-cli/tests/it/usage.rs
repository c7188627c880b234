//! Usage errors exit 2 with one line; help and version exit 0.

use crate::support::{Fixture, refusing_port};

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_flag_is_a_usage_error() {
    let fixture = Fixture::new().await;
    let run = fixture.cli().args(["status", "--no-such-flag"]).run().await;
    run.assert_failure(2);
    assert!(run.stderr.contains("--no-such-flag"), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_command_prints_the_usage_not_the_description_as_an_error() {
    let fixture = Fixture::new().await;
    // With the home from the environment, clap reports the missing command; with nothing at all,
    // it shows the usage. Either way the commands are named, and the tool's description is
    // never printed as if it were an error.
    for run in [
        fixture.cli().run().await,
        fixture.cli().without_home().run().await,
    ] {
        run.assert_code(2);
        assert!(run.stdout.is_empty(), "{run:#?}");
        assert!(
            !run.stderr.contains("error: Verify agent identity tokens"),
            "{run:#?}"
        );
        assert!(run.stderr.contains("status"), "{run:#?}");
    }
    fixture
        .cli()
        .arg("no-such-command")
        .run()
        .await
        .assert_failure(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misspelt_command_or_flag_gets_a_suggestion() {
    let fixture = Fixture::new().await;
    let run = fixture.cli().arg("statsu").run().await;
    run.assert_failure(2);
    assert!(
        run.stderr.contains("a similar subcommand exists: 'status'"),
        "{run:#?}"
    );
    // The help command's argument too, and nothing when nothing is close.
    let run = fixture.cli().args(["help", "statsu"]).run().await;
    run.assert_failure(2);
    assert!(
        run.stderr.contains("a similar subcommand exists: 'status'"),
        "{run:#?}"
    );
    let run = fixture.cli().args(["help", "zzz"]).run().await;
    run.assert_failure(2);
    assert!(!run.stderr.contains("similar"), "{run:#?}");
    let run = fixture.cli().args(["verify", "--jwks-ur", "x"]).run().await;
    run.assert_failure(2);
    assert!(
        run.stderr
            .contains("a similar argument exists: '--jwks-url'"),
        "{run:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_usage_error_with_json_prints_an_error_object() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli()
        .args(["verify", "--json", "--leeway", "soon"])
        .run()
        .await;
    assert_eq!(run.assert_failure(2), "usage");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_leeway_over_one_day_is_a_usage_error() {
    let fixture = Fixture::new().await;
    for leeway in ["86401", "18446744073709551615"] {
        let run = fixture
            .cli()
            .args(["status", "--json", "--leeway", leeway])
            .run()
            .await;
        assert_eq!(run.assert_failure(2), "usage", "--leeway {leeway}");
        assert!(run.stderr.contains("--leeway"), "{run:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_header_limit_under_8_kib_is_a_usage_error_not_silently_raised() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli()
        .args([
            "proxy",
            "--json",
            "--upstream",
            "http://127.0.0.1:9",
            "--max-header-bytes",
            "100",
        ])
        .run()
        .await;
    assert_eq!(run.assert_failure(2), "usage");
    assert!(run.stderr.contains("--max-header-bytes"), "{run:#?}");
    assert!(run.stderr.contains("8192"), "{run:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_file_and_jwks_url_together_are_a_usage_error() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli()
        .args([
            "verify",
            "--jwt-file",
            "-",
            "--jwks-file",
            "keys.json",
            "--jwks-url",
        ])
        .arg(fixture.emulator.jwks_url().to_string())
        .run()
        .await;
    run.assert_failure(2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_jwks_file_wins_over_a_jwks_url_from_the_environment() {
    let fixture = Fixture::new().await;
    let missing = fixture.scratch.path().join("missing.jwks.json");
    let run = fixture
        .cli()
        .args(["verify", "--json", "--jwt-file", "-", "--jwks-file"])
        .arg(&missing)
        .env(
            "AGENT_IDENTITY_JWKS_URL",
            fixture.emulator.jwks_url().to_string(),
        )
        .stdin("a.b.c")
        .run()
        .await;
    // Not a refusal of the flags: the file is used, and is a bad setting.
    assert_eq!(run.assert_failure(2), "config");
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_without_a_token_is_a_usage_error() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--json"])
        .run()
        .await;
    assert_eq!(run.assert_failure(2), "usage");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unacceptable_authapi_url_is_a_usage_error() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let run = fixture
        .cli()
        .args(["header", "--json", "--jwks-url"])
        .arg(fixture.emulator.jwks_url().to_string())
        .args(["--authapi-base-url", "http://example.com/api/accounts"])
        .run()
        .await;
    assert_eq!(run.assert_failure(2), "config");
    let run = fixture
        .cli()
        .args(["header", "--json"])
        .env("AGENT_IDENTITY_JWKS_URL", "http://example.com/jwks")
        .run()
        .await;
    assert_eq!(run.assert_failure(2), "usage");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_compatibility_authapi_variable_is_read() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli()
        .args(["login", "--json", "--jwks-url"])
        .arg(fixture.emulator.jwks_url().to_string())
        .arg("--jwt-file")
        .arg(fixture.token_file(&minted))
        .env(
            "CODEX_AUTHAPI_BASE_URL",
            fixture.emulator.authapi_base_url().to_string(),
        )
        .run()
        .await;
    run.assert_code(0);
    assert_eq!(fixture.emulator.registrations(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_authapi_flag_wins_over_the_environment() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--json", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .env(
            "AGENT_IDENTITY_AUTHAPI_BASE_URL",
            format!("http://127.0.0.1:{}", refusing_port().port()),
        )
        .run()
        .await;
    run.assert_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn help_and_version_exit_0() {
    let fixture = Fixture::new().await;
    let help = fixture.cli().arg("--help").run().await;
    help.assert_code(0);
    for command in [
        "demo", "emulator", "verify", "login", "status", "header", "logout", "doctor", "proxy",
        "exec",
    ] {
        assert!(help.stdout.contains(command), "{command} missing from help");
    }
    // The configuration flags are listed by the commands that take them.
    let help = fixture.cli().args(["header", "--help"]).run().await;
    help.assert_code(0);
    for variable in [
        "AGENT_IDENTITY_HOME",
        "AGENT_IDENTITY_JWKS_URL",
        "AGENT_IDENTITY_JWKS_FILE",
        "AGENT_IDENTITY_AUTHAPI_BASE_URL",
        "AGENT_IDENTITY_ISSUER",
        "AGENT_IDENTITY_AUDIENCE",
        "AGENT_IDENTITY_JWT",
    ] {
        assert!(
            help.stdout.contains(variable),
            "{variable} missing from help"
        );
    }
    let version = fixture.cli().arg("--version").run().await;
    version.assert_code(0);
    assert!(
        version.stdout.starts_with("agent-identity "),
        "{version:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_usage_error_is_one_line_pointing_at_the_command_s_help() {
    let fixture = Fixture::new().await;
    for command in [
        "demo", "emulator", "verify", "login", "status", "header", "logout", "doctor", "proxy",
        "exec",
    ] {
        let run = fixture.cli().args([command, "--bogus"]).run().await;
        run.assert_failure(2);
        assert!(
            run.stderr.contains("'--bogus'")
                && run
                    .stderr
                    .contains(&format!("(see agent-identity {command} --help)")),
            "{run:#?}"
        );
        // Neither the usage block nor a command's description is printed as the error.
        assert!(!run.stderr.contains("Usage:"), "{run:#?}");
        assert!(!run.stderr.contains("Run the local"), "{run:#?}");
    }
    // No command at all: one line naming the commands.
    let run = fixture.cli().run().await;
    run.assert_failure(2);
    assert!(
        run.stderr
            .starts_with("error: no command given: expected one of demo, emulator, verify"),
        "{run:#?}"
    );
    // A configuration flag belongs after the command: before it, it is unknown, and the error
    // points at the help of the command that takes it.
    for (flag, command) in [
        ("--jwks-url", "status"),
        ("--home", "status"),
        ("--issuer", "header"),
    ] {
        let run = fixture
            .cli()
            .args([flag, "value", command, "--json"])
            .run()
            .await;
        assert_eq!(run.assert_failure(2), "usage", "{flag} before {command}");
        assert!(
            run.stderr.contains(&format!("'{flag}'"))
                && run
                    .stderr
                    .contains(&format!("(see agent-identity {command} --help)")),
            "{run:#?}"
        );
    }
}
