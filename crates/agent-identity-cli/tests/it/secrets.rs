//! No output, at the most verbose logging, ever contains the token or the private key.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agent_identity_emulator::MintedIdentity;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::support::{Cli, Fixture, Run, assert_no_secrets, refusing_port};

#[tokio::test(flavor = "multi_thread")]
async fn no_command_prints_the_token_or_the_private_key_even_at_trace_level() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let token_file = fixture.token_file(&minted);
    let expired = fixture
        .emulator
        .mint()
        .runtime_id(minted.runtime_id.as_str())
        .expires_at(SystemTime::now() - Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let dead = format!("http://127.0.0.1:{}", refusing_port().port());
    let token = minted.token.expose_secret();

    let runs = vec![
        fixture
            .cli_with_emulator()
            .args(["-vvv", "verify", "--jwt-file"])
            .arg(&token_file)
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "verify", "--jwt-file", "-"])
            .stdin(token)
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "login", "--jwt-file"])
            .arg(&token_file)
            .run()
            .await,
        fixture.cli().args(["-vvv", "status"]).run().await,
        fixture.cli().args(["-vvv", "--json", "status"]).run().await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "header"])
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "header"])
            .run()
            .await,
        fixture
            .cli()
            .args([
                "-vvv",
                "--json",
                "--max-attempts",
                "2",
                "header",
                "--jwks-url",
            ])
            .arg(fixture.emulator.jwks_url().to_string())
            .arg("--authapi-base-url")
            .arg(&dead)
            .run()
            .await,
        fixture
            .cli()
            .args(["-vvv", "verify", "--jwt-file", "-", "--jwks-url"])
            .arg(format!("{dead}/jwks"))
            .stdin(token)
            .run()
            .await,
        // The token in the environment, with a key set that does not know it.
        fixture
            .cli()
            .args(["-vvv", "--json", "header", "--jwks-url"])
            .arg(format!("{dead}/jwks"))
            .env("AGENT_IDENTITY_JWT", token)
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "status"])
            .env("AGENT_IDENTITY_JWT", token)
            .run()
            .await,
        // The token given as a flag's value, and pasted where no argument belongs.
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "header", "--jwt", token])
            .run()
            .await,
        fixture.cli().args(["-vvv", "status", token]).run().await,
        fixture.cli().args(["--json", "verify", token]).run().await,
        fixture
            .cli()
            .args(["verify", "--jwt", token, "--leeway", "soon"])
            .run()
            .await,
        fixture
            .cli()
            .arg("--help")
            .env("AGENT_IDENTITY_JWT", token)
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "verify", "--jwt-file", "-"])
            .stdin(expired.token.expose_secret())
            .run()
            .await,
        fixture.cli().args(["-vvv", "logout"]).run().await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "doctor"])
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "doctor"])
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "doctor"])
            .env("AGENT_IDENTITY_JWT", token)
            .run()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "--json", "proxy", "--upstream"])
            .arg(fixture.emulator.base_url().as_str())
            .env("AGENT_IDENTITY_JWT", token)
            .run_until_first_line()
            .await,
        fixture
            .cli_with_emulator()
            .args(["-vvv", "exec", "--upstream"])
            .arg(fixture.emulator.base_url().as_str())
            .args(["--", "true"])
            .env("AGENT_IDENTITY_JWT", token)
            .run()
            .await,
        fixture
            .cli()
            .args(["-vvv", "emulator"])
            .run_until_first_line()
            .await,
        fixture.cli().args(["-vvv", "demo"]).run().await,
    ];
    for run in &runs {
        assert_no_secrets(run, &minted);
        assert_no_secrets(run, &expired);
    }
    // The trace-level runs did log: the check above looked at real output.
    assert!(
        runs.iter().any(|run| run.stderr.lines().count() > 5),
        "expected verbose logs on stderr"
    );
    // A token pasted as an argument is reported, redacted.
    let pasted = &runs[12];
    pasted.assert_failure(2);
    assert!(pasted.stderr.contains("<redacted>"), "{pasted:#?}");
}

/// Where a secret can land: every flag and variable that takes a value, and a stray argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    HomeFlag,
    HomeVariable,
    JwksFileFlag,
    JwksFileVariable,
    JwksUrlFlag,
    AuthapiFlag,
    IssuerFlag,
    IssuerVariable,
    AudienceFlag,
    Leeway,
    Stray,
    JwtFile,
    Listen,
}

const PLACES: [Place; 13] = [
    Place::HomeFlag,
    Place::HomeVariable,
    Place::JwksFileFlag,
    Place::JwksFileVariable,
    Place::JwksUrlFlag,
    Place::AuthapiFlag,
    Place::IssuerFlag,
    Place::IssuerVariable,
    Place::AudienceFlag,
    Place::Leeway,
    Place::Stray,
    Place::JwtFile,
    Place::Listen,
];

const COMMANDS: [&str; 10] = [
    "verify", "login", "status", "header", "logout", "doctor", "proxy", "exec", "demo", "emulator",
];

/// The commands that serve until stopped: run until their first line.
fn serves(command: &str) -> bool {
    matches!(command, "emulator" | "proxy")
}

/// The places where the value is quoted back whatever the secret (the store's path printed by
/// `login`, `status` and `logout`, a file that cannot be read, a usage error), so the run must
/// show the redaction marker: proof that the echo path itself was exercised.
fn echoes(command: &str, place: Place) -> bool {
    match place {
        // `doctor` shows every setting's value: each must come out redacted.
        _ if command == "doctor" => place != Place::Listen,
        Place::HomeFlag | Place::HomeVariable => matches!(command, "login" | "status" | "logout"),
        Place::JwksFileFlag | Place::JwksFileVariable => {
            matches!(command, "verify" | "login" | "header")
        }
        Place::JwtFile => matches!(command, "verify" | "login"),
        // A flag a command does not take is refused by name, before its value is read.
        Place::Leeway => matches!(
            command,
            "verify" | "login" | "status" | "header" | "proxy" | "exec"
        ),
        // After `exec`'s command, a stray argument is the child's.
        Place::Stray => command != "exec",
        Place::Listen => matches!(command, "emulator" | "proxy"),
        Place::JwksUrlFlag
        | Place::AuthapiFlag
        | Place::IssuerFlag
        | Place::IssuerVariable
        | Place::AudienceFlag => false,
    }
}

/// One invocation: `-vvv`, the command with what it needs, and `secret` at `place`.
fn invocation(
    fixture: &Fixture,
    token_file: &std::path::Path,
    command: &str,
    place: Place,
    json: bool,
    secret: &str,
) -> Cli {
    let mut cli = fixture
        .cli()
        .current_dir(fixture.scratch.path())
        .arg("-vvv");
    if json {
        cli = cli.arg("--json");
    }
    cli = cli.arg(command);
    match command {
        "verify" | "login" if place != Place::JwtFile => {
            cli = cli.arg("--jwt-file").arg(token_file);
        }
        "emulator" if place != Place::Listen => cli = cli.args(["--listen", "127.0.0.1:0"]),
        "proxy" | "exec" => {
            cli = cli
                .arg("--upstream")
                .arg(fixture.emulator.base_url().to_string());
        }
        _ => {}
    }
    // The emulator's URLs, to the commands that take them.
    if matches!(
        command,
        "verify" | "login" | "header" | "doctor" | "proxy" | "exec"
    ) && !matches!(
        place,
        Place::JwksFileFlag | Place::JwksFileVariable | Place::JwksUrlFlag
    ) {
        cli = cli
            .arg("--jwks-url")
            .arg(fixture.emulator.jwks_url().to_string());
    }
    if matches!(command, "login" | "header" | "doctor" | "proxy" | "exec")
        && place != Place::AuthapiFlag
    {
        cli = cli
            .arg("--authapi-base-url")
            .arg(fixture.emulator.authapi_base_url().to_string());
    }
    let cli = match place {
        Place::HomeFlag => cli.arg("--home").arg(secret),
        Place::HomeVariable => cli.env("AGENT_IDENTITY_HOME", secret),
        Place::JwksFileFlag => cli.arg("--jwks-file").arg(secret),
        Place::JwksFileVariable => cli.env("AGENT_IDENTITY_JWKS_FILE", secret),
        Place::JwksUrlFlag => cli.arg("--jwks-url").arg(secret),
        Place::AuthapiFlag => cli.arg("--authapi-base-url").arg(secret),
        Place::IssuerFlag => cli.arg("--issuer").arg(secret),
        Place::IssuerVariable => cli.env("AGENT_IDENTITY_ISSUER", secret),
        Place::AudienceFlag => cli.arg("--audience").arg(secret),
        Place::Leeway => cli.arg("--leeway").arg(secret),
        Place::Stray => cli.arg(secret),
        Place::JwtFile => cli.arg("--jwt-file").arg(secret),
        Place::Listen => cli.arg("--listen").arg(secret),
    };
    if command == "exec" {
        cli.args(["--", "true"])
    } else {
        cli
    }
}

#[track_caller]
fn assert_secret_not_printed(run: &Run, minted: &MintedIdentity, extra: &str) {
    assert_no_secrets(run, minted);
    assert!(
        !run.stdout.contains(extra) && !run.stderr.contains(extra),
        "a secret was printed by {:?}",
        run.args
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_or_key_given_as_any_argument_is_never_echoed_by_any_command() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let token_file = fixture.token_file(&minted);
    // Logged in, so that the commands that read the home do their full work and log it.
    fixture.login(&minted).await;
    let token = minted.token.expose_secret().to_owned();
    let key = minted.key.to_pkcs8_base64().as_str().to_owned();
    let url_safe_key = key.replace('+', "-").replace('/', "_");

    // Two processes at a time: the machine is shared, and a demo takes a while.
    let permits = Arc::new(Semaphore::new(2));
    let mut runs = JoinSet::new();
    for command in COMMANDS {
        for place in PLACES {
            // Keys in the places a path or a free value goes; the token everywhere.
            let key_place = matches!(
                place,
                Place::HomeFlag
                    | Place::JwksFileFlag
                    | Place::JwtFile
                    | Place::Leeway
                    | Place::Stray
            );
            let secrets = if key_place {
                vec![&token, &key, &url_safe_key]
            } else {
                vec![&token]
            };
            for secret in secrets {
                for json in [false, true] {
                    let cli = invocation(&fixture, &token_file, command, place, json, secret);
                    let permits = Arc::clone(&permits);
                    runs.spawn(async move {
                        let _permit = permits.acquire_owned().await.expect("semaphore");
                        let run = if serves(command) {
                            cli.run_until_first_line().await
                        } else {
                            cli.run().await
                        };
                        (command, place, run)
                    });
                }
            }
        }
    }
    let mut count = 0;
    while let Some(joined) = runs.join_next().await {
        let (command, place, run) = joined.expect("a run");
        count += 1;
        assert_secret_not_printed(&run, &minted, &url_safe_key);
        assert!(
            !run.stdout.is_empty() || !run.stderr.is_empty(),
            "{command} {place:?} printed nothing: {run:#?}"
        );
        if echoes(command, place) {
            assert!(
                run.stdout.contains("<redacted>") || run.stderr.contains("<redacted>"),
                "{command} {place:?} did not show the redaction: {run:#?}"
            );
        }
    }
    assert_eq!(count, COMMANDS.len() * (PLACES.len() + 5 * 2) * 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn help_never_shows_a_token_or_key_held_in_a_configuration_variable() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let key = minted.key.to_pkcs8_base64().as_str().to_owned();
    for args in [
        vec!["header", "--help"],
        vec!["status", "--help"],
        vec!["help", "login"],
    ] {
        let run = fixture
            .cli()
            .args(args.iter().copied())
            .env("AGENT_IDENTITY_HOME", minted.token.expose_secret())
            .env("AGENT_IDENTITY_JWKS_FILE", &key)
            .env("AGENT_IDENTITY_ISSUER", minted.token.expose_secret())
            .run()
            .await;
        run.assert_code(0);
        assert_no_secrets(&run, &minted);
        // clap shows the variables' values in help: here they are redacted, not dropped.
        assert!(
            run.stdout.contains("[env: AGENT_IDENTITY_HOME=<redacted>]"),
            "{args:?}: {run:#?}"
        );
    }
}

/// A record's private key and the ChatGPT tokens `register` reads are never printed either, by
/// `register` or by any command that then reads the record, at trace level.
#[tokio::test(flavor = "multi_thread")]
async fn no_command_prints_a_chatgpt_token_or_a_records_key_even_at_trace_level() {
    let fixture = Fixture::new().await;
    let login = fixture
        .emulator
        .chatgpt_login()
        .fedramp(true)
        .issue()
        .expect("login");
    let refresh = "refresh-sentinel-for-the-secrets-sweep";
    let document = serde_json::json!({
        "auth_mode": "chatgpt",
        "tokens": {"id_token": login.id_token(), "access_token": login.access_token(), "refresh_token": refresh},
    });
    std::fs::write(fixture.auth_file(), document.to_string()).expect("seed");
    let elsewhere = fixture.write("codex-auth.json", &document.to_string());
    let authapi = fixture.emulator.authapi_base_url().to_string();
    let mut runs = Vec::new();
    for args in [
        &["-vvv", "register", "--authapi-base-url", &authapi][..],
        &["-vvv", "--json", "status"],
        &["-vvv", "status"],
        &["-vvv", "--json", "header", "--authapi-base-url", &authapi],
        &["-vvv", "doctor", "--authapi-base-url", &authapi],
    ] {
        runs.push(fixture.cli().args(args.iter().copied()).run().await);
    }
    runs[0].assert_code(0);
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.auth_file()).expect("read")).expect("json");
    let key = written["agent_identity"]["agent_private_key"]
        .as_str()
        .expect("a record key")
        .to_owned();
    fixture.emulator.fail_next_agent_registrations(1, 401);
    runs.push(
        fixture
            .cli()
            .args([
                "-vvv",
                "--json",
                "register",
                "--authapi-base-url",
                &authapi,
                "--chatgpt-auth",
            ])
            .arg(&elsewhere)
            .run()
            .await,
    );
    runs.push(
        fixture
            .cli()
            .args([
                "-vvv",
                "register",
                "--authapi-base-url",
                &authapi,
                "--chatgpt-auth",
            ])
            .arg(&elsewhere)
            .run()
            .await,
    );
    runs.push(fixture.cli().args(["-vvv", "logout"]).run().await);
    let payload = |token: &str| token.split('.').nth(1).unwrap_or_default().to_owned();
    let secrets = [
        ("the access token", login.access_token().to_owned()),
        ("the access token's payload", payload(login.access_token())),
        ("the id token", login.id_token().to_owned()),
        ("the id token's payload", payload(login.id_token())),
        ("the refresh token", refresh.to_owned()),
        ("the record's private key", key),
    ];
    for run in &runs {
        for (name, secret) in &secrets {
            assert!(
                !run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()),
                "{name} was printed by {:?}",
                run.args
            );
        }
    }
    assert!(
        runs.iter().any(|run| run.stderr.lines().count() > 5),
        "expected verbose logs on stderr"
    );
}
