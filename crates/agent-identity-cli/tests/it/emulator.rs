//! `emulator`: the first line names the URLs; the server runs until the process is stopped.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::support::Fixture;

/// Starts `emulator ARGS` as a process and returns it with its first stdout line.
async fn spawn(fixture: &Fixture, args: &[&str]) -> (tokio::process::Child, String) {
    let mut child = fixture
        .cli()
        .args(args)
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the first line arrives in time")
        .expect("read stdout")
        .expect("a first line");
    (child, first)
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_json_prints_its_urls_issuer_audience_and_algorithm_first_and_serves_until_killed()
{
    let fixture = Fixture::new().await;
    let (mut child, first) =
        spawn(&fixture, &["emulator", "--json", "--listen", "127.0.0.1:0"]).await;
    let urls: Value = serde_json::from_str(&first).expect("the first line is JSON");
    let base = urls["base_url"].as_str().expect("base_url");
    assert!(base.starts_with("http://127.0.0.1:"), "{urls}");
    let jwks_url = urls["jwks_url"].as_str().expect("jwks_url");
    assert_eq!(
        jwks_url,
        format!("{base}/backend-api/wham/agent-identities/jwks")
    );
    assert_eq!(urls["authapi_base_url"], format!("{base}/api/accounts"));
    assert_eq!(urls["chatgpt_base_url"], format!("{base}/backend-api"));
    assert_eq!(urls["echo_url"], format!("{base}/echo"));
    assert_eq!(urls["issuer"], agent_identity_jwt::DEFAULT_ISSUER);
    assert_eq!(urls["audience"], agent_identity_jwt::DEFAULT_AUDIENCE);
    assert_eq!(urls["algorithm"], "RS256");

    let jwks: Value = reqwest::get(jwks_url)
        .await
        .expect("the emulator serves")
        .json()
        .await
        .expect("a JWK Set");
    assert!(
        jwks["keys"].as_array().is_some_and(|keys| !keys.is_empty()),
        "{jwks}"
    );

    child.kill().await.expect("kill the emulator");
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_prints_human_lines_without_json() {
    let fixture = Fixture::new().await;
    let (mut child, first) = spawn(&fixture, &["emulator"]).await;
    assert!(
        first.starts_with("emulator listening on http://127.0.0.1:"),
        "{first}"
    );
    child.kill().await.expect("kill the emulator");
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_on_a_taken_address_exits_1() {
    let fixture = Fixture::new().await;
    let addr = fixture.emulator.local_addr().to_string();
    let run = fixture
        .cli()
        .args(["emulator", "--json", "--listen", &addr])
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "emulator");
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_on_localhost_reports_what_it_bound_and_stops_cleanly_on_sigterm() {
    let fixture = Fixture::new().await;
    let (mut child, first) =
        spawn(&fixture, &["emulator", "--json", "--listen", "localhost:0"]).await;
    let urls: Value = serde_json::from_str(&first).expect("the first line is JSON");
    let bound = urls["listening_on"].as_str().expect("listening_on");
    assert!(
        bound.starts_with("127.0.0.1:") && !bound.ends_with(":0"),
        "{urls}"
    );
    let port = bound.rsplit(':').next().expect("a port");
    assert_eq!(urls["base_url"], format!("http://127.0.0.1:{port}"));
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("it stops in time")
        .expect("wait");
    assert_eq!(
        status.code(),
        Some(0),
        "a clean stop, not a death by signal"
    );
}

/// Starts `emulator --env ARGS` and reads its stdout to the end: the emulator closes it after the
/// `export` lines and keeps serving, as `eval "$(agent-identity emulator --env &)"` needs.
pub(crate) async fn spawn_env(fixture: &Fixture, args: &[&str]) -> (tokio::process::Child, String) {
    use tokio::io::AsyncReadExt as _;
    let mut child = fixture
        .cli()
        .args(["emulator", "--env"])
        .args(args)
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator starts");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut exports = String::new();
    tokio::time::timeout(Duration::from_secs(30), stdout.read_to_string(&mut exports))
        .await
        .expect("stdout is closed while the emulator serves")
        .expect("read stdout");
    assert!(
        child.try_wait().expect("poll").is_none(),
        "the emulator still serves after closing stdout"
    );
    (child, exports)
}

/// The value `exports` gives `name`, read back from its `export NAME='value'` line.
pub(crate) fn exported(exports: &str, name: &str) -> String {
    let prefix = format!("export {name}='");
    let line = exports
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} is exported: {exports}"));
    line.strip_suffix('\'').expect("single-quoted").to_owned()
}

/// `sh -c SCRIPT` after `eval "$EXPORTS"`, with the home set and the test's own
/// `AGENT_IDENTITY_*` and `CODEX_*` variables removed; `$BIN` is the binary.
pub(crate) fn shell(fixture: &Fixture, exports: &str, script: &str) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("sh");
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("AGENT_IDENTITY_") || name.starts_with("CODEX_") {
            command.env_remove(name.as_ref());
        }
    }
    command
        .arg("-c")
        .arg(format!("eval \"$EXPORTS\" && {script}"))
        .env("EXPORTS", exports)
        .env("BIN", env!("CARGO_BIN_EXE_agent-identity"))
        .env("AGENT_IDENTITY_HOME", fixture.home.path())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Mints a token through the admin endpoint of the emulator at `base` and writes it to a file.
async fn mint_to_file(fixture: &Fixture, base: &str, body: Value) -> std::path::PathBuf {
    let minted: Value = reqwest::Client::new()
        .post(format!("{base}/_emulator/mint"))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("mint")
        .json()
        .await
        .expect("a JSON answer");
    fixture.write(
        "minted.jwt",
        minted["token"].as_str().expect("a minted token"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn emulator_env_evaluated_in_sh_points_login_and_status_at_it() {
    let fixture = Fixture::new().await;
    let (mut child, exports) = spawn_env(&fixture, &[]).await;
    assert!(
        exports.contains("export AGENT_IDENTITY_ALGORITHMS='RS256'"),
        "{exports}"
    );
    let base = exported(&exports, "AGENT_IDENTITY_EMULATOR_URL");
    let token = mint_to_file(
        &fixture,
        &base,
        serde_json::json!({ "account_id": "acct-env" }),
    )
    .await;
    let output = shell(
        &fixture,
        &exports,
        "\"$BIN\" login --jwt-file \"$TOKEN\" >/dev/null && \"$BIN\" status --json",
    )
    .env("TOKEN", &token)
    .output()
    .await
    .expect("sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status: Value = serde_json::from_str(stdout.trim()).expect("status --json");
    assert_eq!(status["state"], "ready", "{status}");
    assert_eq!(status["account_id"], "acct-env", "{status}");
    // The login verified against this emulator's key set and registered with its AuthAPI.
    let counters: Value = reqwest::get(format!("{base}/_emulator/counters"))
        .await
        .expect("counters")
        .json()
        .await
        .expect("json");
    assert_eq!(counters["registrations"], 1, "{counters}");
    child.kill().await.expect("kill the emulator");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_eddsa_emulator_is_trusted_only_through_the_algorithms_setting() {
    let fixture = Fixture::new().await;
    let (mut child, exports) = spawn_env(&fixture, &["--algorithm", "eddsa"]).await;
    assert_eq!(exported(&exports, "AGENT_IDENTITY_ALGORITHMS"), "EdDSA");
    let base = exported(&exports, "AGENT_IDENTITY_EMULATOR_URL");
    let token = mint_to_file(&fixture, &base, serde_json::json!({})).await;
    // Without the setting, the default (RS256 alone) refuses the token.
    let refused = shell(
        &fixture,
        &exports,
        "unset AGENT_IDENTITY_ALGORITHMS; \"$BIN\" verify --json --jwt-file \"$TOKEN\"",
    )
    .env("TOKEN", &token)
    .output()
    .await
    .expect("sh runs");
    assert_eq!(refused.status.code(), Some(1));
    let answer: Value =
        serde_json::from_slice(&refused.stdout).expect("verify --json prints one object");
    assert_eq!(answer["error"], "algorithm_not_allowed", "{answer}");
    let message = answer["message"].as_str().expect("a message");
    assert!(
        message.contains("EdDSA") && message.contains("--algorithms or AGENT_IDENTITY_ALGORITHMS"),
        "the refusal names the setting that fixes it: {message}"
    );
    // `doctor` names the setting and where it came from.
    let doctor = shell(&fixture, &exports, "\"$BIN\" doctor --json")
        .output()
        .await
        .expect("sh runs");
    let report: Value = serde_json::from_slice(&doctor.stdout).expect("doctor --json");
    let algorithms = report["settings"]
        .as_array()
        .and_then(|settings| settings.iter().find(|row| row["setting"] == "algorithms"))
        .unwrap_or_else(|| panic!("an algorithms setting: {report}"));
    assert_eq!(algorithms["value"], "EdDSA", "{report}");
    assert_eq!(algorithms["source"], "variable", "{report}");
    // With the exported variable, or the flag, it verifies.
    for script in [
        "\"$BIN\" verify --json --jwt-file \"$TOKEN\"",
        "unset AGENT_IDENTITY_ALGORITHMS; \"$BIN\" verify --json --algorithms rs256,eddsa --jwt-file \"$TOKEN\"",
    ] {
        let accepted = shell(&fixture, &exports, script)
            .env("TOKEN", &token)
            .output()
            .await
            .expect("sh runs");
        assert!(
            accepted.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&accepted.stderr)
        );
    }
    child.kill().await.expect("kill the emulator");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_algorithm_is_a_usage_error() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli()
        .args(["verify", "--algorithms", "HS256", "--jwt-file", "-"])
        .stdin("x")
        .run()
        .await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("unknown algorithm \"HS256\""),
        "{run:#?}"
    );
    let run = fixture
        .cli()
        .args(["verify", "--jwt-file", "-"])
        .env("AGENT_IDENTITY_ALGORITHMS", "none")
        .stdin("x")
        .run()
        .await;
    run.assert_code(2);
    assert!(
        run.stderr.contains("unknown algorithm \"none\""),
        "{run:#?}"
    );
}
