//! Errors say what was expected, what was found, where a bad value came from, and what to do
//! next — and never quote the token.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_identity_emulator::MintedIdentity;

use crate::support::{Fixture, Run, assert_no_secrets, refusing_port};

/// The one error line, after checking that no part of the token or key was printed.
#[track_caller]
fn error_line(run: &Run, code: i32, minted: &MintedIdentity) -> String {
    assert_no_secrets(run, minted);
    run.assert_failure(code);
    run.stderr.trim_end().to_owned()
}

/// `unix` seconds as RFC 3339, as the CLI prints times.
fn rfc3339(at: SystemTime) -> String {
    let unix = at
        .duration_since(UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs();
    agent_identity_task::Timestamp::from_unix_seconds(i64::try_from(unix).expect("fits"))
        .expect("a four-digit year")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_audience_names_the_expected_and_the_found_audiences() {
    let fixture = Fixture::new().await;
    let minted = fixture
        .emulator
        .mint()
        .claim("aud", serde_json::json!(["other-service", "third-service"]))
        .issue()
        .expect("mint");
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    let line = error_line(&run, 1, &minted);
    assert!(line.contains(r#""codex-app-server""#), "{line}");
    assert!(
        line.contains(r#"["other-service", "third-service"]"#),
        "{line}"
    );
    // Where the expectation came from, and what to do.
    assert!(line.contains("the default"), "{line}");
    assert!(line.contains("--audience"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_issuer_names_the_expected_issuer_its_flag_and_the_found_one() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli_with_emulator()
        .args([
            "verify",
            "--issuer",
            "https://another.example/issuer",
            "--jwt-file",
        ])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    let line = error_line(&run, 1, &minted);
    assert!(
        line.contains(r#"expected "https://another.example/issuer""#),
        "{line}"
    );
    assert!(
        line.contains(r#""https://chatgpt.com/codex-backend/agent-identity""#),
        "{line}"
    );
    assert!(line.contains("from --issuer"), "{line}");

    // From the variable, the variable is named.
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .env("AGENT_IDENTITY_ISSUER", "https://third.example/issuer")
        .run()
        .await;
    let line = error_line(&run, 1, &minted);
    assert!(
        line.contains(r#"expected "https://third.example/issuer""#),
        "{line}"
    );
    assert!(line.contains("from AGENT_IDENTITY_ISSUER"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_token_says_when_in_rfc_3339_and_how_long_ago() {
    let fixture = Fixture::new().await;
    let expired_at = SystemTime::now() - Duration::from_secs(3 * 3600 + 5 * 60);
    let minted = fixture
        .emulator
        .mint()
        .expires_at(expired_at)
        .issue()
        .expect("mint");
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    let line = error_line(&run, 1, &minted);
    let seconds = expired_at
        .duration_since(UNIX_EPOCH)
        .expect("after")
        .as_secs();
    assert!(
        line.contains(&format!("token expired at {}", rfc3339(expired_at))),
        "{line}"
    );
    assert!(line.contains("(3 h 5 min ago)"), "{line}");
    assert!(!line.contains(&seconds.to_string()), "{line}");
    assert!(line.contains("login"), "what to do next: {line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_not_yet_valid_says_from_when_and_to_check_the_clock() {
    let fixture = Fixture::new().await;
    let not_before = SystemTime::now() + Duration::from_secs(2 * 3600 + 10 * 60);
    let minted = fixture
        .emulator
        .mint()
        .not_before(not_before)
        .lifetime(Duration::from_secs(6 * 3600))
        .issue()
        .expect("mint");
    let run = fixture
        .cli_with_emulator()
        .args(["verify", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    let line = error_line(&run, 1, &minted);
    assert!(
        line.contains(&format!(
            "token is not valid before {}",
            rfc3339(not_before)
        )),
        "{line}"
    );
    // The test may start within a second of a minute's turn.
    assert!(
        line.contains("(in 2 h 9 min)") || line.contains("(in 2 h 10 min)"),
        "{line}"
    );
    assert!(line.contains("clock"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_authapi_url_names_its_flag_or_variable_and_its_value() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let bad = "http://authapi.example/api/accounts";
    let run = fixture
        .cli()
        .args(["login", "--jwks-url"])
        .arg(fixture.emulator.jwks_url().to_string())
        .args(["--authapi-base-url", bad, "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    let line = error_line(&run, 2, &minted);
    assert!(
        line.contains(&format!("{bad:?} from --authapi-base-url")),
        "{line}"
    );
    assert!(
        line.contains("https is required for a non-loopback host"),
        "{line}"
    );
    assert!(line.contains("use https"), "{line}");
    for variable in [
        "AGENT_IDENTITY_AUTHAPI_BASE_URL",
        "CODEX_AUTHAPI_BASE_URL",
        "CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL",
    ] {
        let run = fixture
            .cli()
            .args(["login", "--jwks-url"])
            .arg(fixture.emulator.jwks_url().to_string())
            .arg("--jwt-file")
            .arg(fixture.token_file(&minted))
            .env(variable, bad)
            .run()
            .await;
        let line = error_line(&run, 2, &minted);
        assert!(line.contains(&format!("{bad:?} from {variable}")), "{line}");
    }
    // Credentials in the URL are never repeated.
    let run = fixture
        .cli()
        .args(["login", "--jwks-url"])
        .arg(fixture.emulator.jwks_url().to_string())
        .args([
            "--authapi-base-url",
            "https://user:hunter2@auth.example/api",
            "--jwt-file",
        ])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    let line = error_line(&run, 2, &minted);
    assert!(line.contains("--authapi-base-url"), "{line}");
    assert!(!line.contains("hunter2"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_jwks_url_names_its_flag_or_variable_and_its_value() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let bad = "http://keys.example/jwks";
    let run = fixture
        .cli()
        .args(["verify", "--jwks-url", bad, "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    let line = error_line(&run, 2, &minted);
    assert!(line.contains(&format!("{bad:?} from --jwks-url")), "{line}");
    assert!(
        line.contains("https is required for a non-loopback host"),
        "{line}"
    );
    let run = fixture
        .cli()
        .args(["verify", "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .env("AGENT_IDENTITY_JWKS_URL", bad)
        .run()
        .await;
    let line = error_line(&run, 2, &minted);
    assert!(
        line.contains(&format!("{bad:?} from AGENT_IDENTITY_JWKS_URL")),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_name_given_to_jwt_points_at_jwt_file() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.write("tok.jwt", minted.token.expose_secret());
    for command in ["login", "verify"] {
        let run = fixture
            .cli_with_emulator()
            .current_dir(fixture.scratch.path())
            .args([command, "--jwt", "tok.jwt"])
            .run()
            .await;
        let line = error_line(&run, 1, &minted);
        assert!(line.contains("malformed token"), "{line}");
        assert!(
            line.contains("to read the token from a file, use --jwt-file tok.jwt"),
            "{line}"
        );
    }
    // A path that does not exist still looks like one.
    let run = fixture
        .cli_with_emulator()
        .args(["login", "--jwt", "./secrets/agent.jwt"])
        .run()
        .await;
    let line = error_line(&run, 1, &minted);
    assert!(
        line.contains("use --jwt-file ./secrets/agent.jwt"),
        "{line}"
    );
    // Nothing was stored.
    assert!(!fixture.auth_file().exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_authapi_is_named_in_plain_words() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let port = refusing_port().port();
    let dead = format!("http://127.0.0.1:{port}/api/accounts");
    let run = fixture
        .cli()
        .args(["login", "--max-attempts", "1", "--jwks-url"])
        .arg(fixture.emulator.jwks_url().to_string())
        .args(["--authapi-base-url", &dead, "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    let line = error_line(&run, 75, &minted);
    assert_refused_in_plain_words(&line, port);
    assert!(
        line.contains(&format!("is the AuthAPI at {dead} running?")),
        "{line}"
    );
    assert!(!line.contains("client error"), "{line}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_key_set_is_named_in_plain_words() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let port = refusing_port().port();
    let dead = format!("http://127.0.0.1:{port}/jwks");
    let run = fixture
        .cli()
        .args(["verify", "--jwks-url", &dead, "--jwt-file"])
        .arg(fixture.token_file(&minted))
        .run()
        .await;
    let line = error_line(&run, 75, &minted);
    assert_refused_in_plain_words(&line, port);
    assert!(
        line.contains(&format!("is the key set at {dead} reachable?")),
        "{line}"
    );
}

/// A refused connection to `port`, said in plain words rather than as the HTTP stack's chain.
fn assert_refused_in_plain_words(line: &str, port: u16) {
    assert!(
        line.contains(&format!(
            "could not connect to 127.0.0.1:{port} (connection refused)"
        )),
        "{line}"
    );
    assert!(!line.contains("tcp connect error"), "{line}");
}
