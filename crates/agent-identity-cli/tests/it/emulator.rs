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
async fn emulator_json_prints_its_urls_first_and_serves_until_killed() {
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
