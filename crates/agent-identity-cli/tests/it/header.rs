//! `header`: load (verify, register) and print an `Authorization` value the server accepts.

use std::time::{Duration, SystemTime};

use crate::support::{Fixture, assert_no_secrets, echo, refusing_port};

#[tokio::test(flavor = "multi_thread")]
async fn header_prints_an_assertion_the_protected_endpoint_accepts() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json"])
        .run()
        .await;
    run.assert_code(0);
    let json = run.json();
    assert!(
        json["authorization"]
            .as_str()
            .is_some_and(|value| value.starts_with("AgentAssertion ")),
        "{json}"
    );
    assert_eq!(json["chatgpt_account_id"], "account-emulator");
    assert_eq!(json["fedramp"], false);
    let task_id = json["task_id"].as_str().expect("task id");
    assert_no_secrets(&run, &minted);

    let accepted = fixture.emulator.assertions_accepted();
    let (status, body) = echo(&fixture, &json).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["task_id"], task_id);
    assert_eq!(body["runtime_id"], minted.runtime_id.as_str());
    assert_eq!(body["account_id"], "account-emulator");
    assert_eq!(fixture.emulator.assertions_accepted(), accepted + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn header_prints_only_the_authorization_value() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let run = fixture.cli_with_emulator().arg("header").run().await;
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{run:#?}");
    assert!(lines[0].starts_with("AgentAssertion "), "{run:#?}");
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn header_uses_the_token_from_the_environment() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json"])
        .env("AGENT_IDENTITY_JWT", minted.token.expose_secret())
        .run()
        .await;
    run.assert_code(0);
    let (status, _) = echo(&fixture, &run.json()).await;
    assert_eq!(status, 200);
    assert!(
        !fixture.auth_file().exists(),
        "the environment's token is never written"
    );
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn header_when_logged_out_exits_1() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json"])
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "not_logged_in");
}

#[tokio::test(flavor = "multi_thread")]
async fn header_with_an_expired_stored_identity_exits_1() {
    let fixture = Fixture::new().await;
    let expired = fixture
        .emulator
        .mint()
        .expires_at(SystemTime::now() - Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json"])
        .env("AGENT_IDENTITY_JWT", expired.token.expose_secret())
        .run()
        .await;
    assert_eq!(run.assert_failure(1), "expired");
    assert_no_secrets(&run, &expired);
}

#[tokio::test(flavor = "multi_thread")]
async fn header_with_a_token_the_jwks_does_not_know_explains_the_rejection() {
    let fixture = Fixture::new().await;
    let other = agent_identity_emulator::Emulator::start()
        .await
        .expect("a second emulator");
    let foreign = other.mint().issue().expect("mint");
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json"])
        .env("AGENT_IDENTITY_JWT", foreign.token.expose_secret())
        .run()
        .await;
    let kind = run.assert_failure(1);
    assert!(
        ["untrusted_kid", "bad_signature"].contains(&kind.as_str()),
        "{kind}: {run:#?}"
    );
    assert!(run.stderr.contains("rejected"), "{run:#?}");
    assert_no_secrets(&run, &foreign);
}

#[tokio::test(flavor = "multi_thread")]
async fn header_with_the_authapi_unreachable_exits_75_and_status_still_shows_the_identity() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    // The default retry policy: four attempts, backing off from 250 ms.
    let run = fixture
        .cli()
        .args(["header", "--json", "-vvv", "--jwks-url"])
        .arg(fixture.emulator.jwks_url().to_string())
        .arg("--authapi-base-url")
        .arg(format!(
            "http://127.0.0.1:{}/api/accounts",
            refusing_port().port()
        ))
        .run()
        .await;
    assert_eq!(run.code, Some(75), "{run:#?}");
    let json = run.json();
    assert_eq!(json["ok"], false);
    assert_eq!(json["error"], "authapi_unavailable");
    assert!(
        run.stderr.lines().any(|line| line.starts_with("error: ")),
        "{run:#?}"
    );
    assert_no_secrets(&run, &minted);

    let status = fixture.cli().args(["status", "--json"]).run().await;
    status.assert_code(0);
    let json = status.json();
    assert_eq!(json["state"], "ready");
    assert_eq!(json["runtime_id"], minted.runtime_id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn header_exits_75_while_the_authapi_answers_503() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    fixture.emulator.fail_next_registrations(2, 503);
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json", "--max-attempts", "2", "--fresh-task"])
        .run()
        .await;
    assert_eq!(run.assert_failure(75), "authapi_unavailable");
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--json"])
        .run()
        .await;
    run.assert_code(0);
}

#[tokio::test(flavor = "multi_thread")]
async fn header_names_why_a_stored_identity_was_rejected() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    // The stored token is fine; this invocation expects another issuer, so loading rejects it.
    let run = fixture
        .cli_with_emulator()
        .args(["header", "--issuer", "https://another.example/issuer"])
        .run()
        .await;
    run.assert_failure(1);
    let line = run.stderr.trim_end();
    assert!(
        line.starts_with("error: the stored agent identity was rejected: token "),
        "{line}"
    );
    assert!(line.contains("issuer"), "the verdict itself: {line}");
    assert_no_secrets(&run, &minted);
}

/// Runs `script` with `sh -c`, returning stdout; the script may use curl (CI installs it).
async fn shell(script: &str) -> String {
    let output = tokio::process::Command::new("sh")
        .args(["-c", script])
        .output()
        .await
        .expect("sh runs");
    assert!(
        output.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_header_format_gets_a_request_accepted() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let echo = fixture.emulator.echo_url().to_string();
    // curl: `-H` arguments for every header, shell-quoted for eval.
    let curl_args = fixture
        .cli_with_emulator()
        .args(["header", "--format", "curl"])
        .run()
        .await;
    curl_args.assert_code(0);
    assert_no_secrets(&curl_args, &minted);
    assert_eq!(
        curl_args.stdout.matches("-H '").count(),
        2,
        "{}",
        curl_args.stdout
    );
    let status = shell(&format!(
        "eval \"curl -sS -o /dev/null -w '%{{http_code}}' {} {echo}\"",
        curl_args.stdout.trim()
    ))
    .await;
    assert_eq!(status, "200");
    // env: variables for `eval`.
    let env = fixture
        .cli_with_emulator()
        .args(["header", "--format", "env"])
        .run()
        .await;
    env.assert_code(0);
    let status = shell(&format!(
        "{}\ncurl -sS -o /dev/null -w '%{{http_code}}' -H \"Authorization: $AGENT_IDENTITY_AUTHORIZATION\" -H \"ChatGPT-Account-ID: $AGENT_IDENTITY_ACCOUNT_ID\" {echo}",
        env.stdout.trim()
    ))
    .await;
    assert_eq!(status, "200");
    // http: one header line each.
    let http = fixture
        .cli_with_emulator()
        .args(["header", "--format", "http"])
        .run()
        .await;
    http.assert_code(0);
    let lines: Vec<&str> = http.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", http.stdout);
    assert!(lines[0].starts_with("Authorization: AgentAssertion "));
    assert!(lines[1].starts_with("ChatGPT-Account-ID: "));
    // value: the Authorization value alone, as before.
    let value = fixture
        .cli_with_emulator()
        .args(["header", "--format", "value"])
        .run()
        .await;
    assert!(value.stdout.starts_with("AgentAssertion "));
    assert_eq!(fixture.emulator.assertions_accepted(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_warns_that_the_variable_still_overrides_the_file() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let run = fixture
        .cli()
        .env("AGENT_IDENTITY_JWT", minted.token.expose_secret())
        .arg("logout")
        .run()
        .await;
    run.assert_code(0);
    assert!(
        run.stderr.contains("AGENT_IDENTITY_JWT is still set"),
        "{run:#?}"
    );
    assert_no_secrets(&run, &minted);
}

#[tokio::test(flavor = "multi_thread")]
async fn one_v_shows_retries_and_the_reload_outcome() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    fixture.emulator.fail_next_registrations(1, 503);
    let run = fixture
        .cli_with_emulator()
        .args(["header", "-v", "--fresh-task"])
        .run()
        .await;
    run.assert_code(0);
    assert!(
        run.stderr.contains("task registration failed; retrying"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("reload finished"), "{}", run.stderr);
    assert!(run.stderr.contains("updated"), "{}", run.stderr);
    assert_no_secrets(&run, &minted);
}
