//! The README's library example (`crates/agent-identity-sdk/examples/readme.rs`) run as a process
//! against `agent-identity emulator` run as a process, configured only through the variables the
//! README documents, as `emulator --env` exports them.

use serde_json::Value;

use crate::emulator::{exported, shell, spawn_env};
use crate::support::Fixture;

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_library_example_runs_against_the_cli_emulator_configured_by_its_env_lines() {
    let fixture = Fixture::new().await;
    let (mut child, exports) = spawn_env(&fixture, &[]).await;
    let base = exported(&exports, "AGENT_IDENTITY_EMULATOR_URL");
    let minted: Value = reqwest::Client::new()
        .post(format!("{base}/_emulator/mint"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("mint")
        .json()
        .await
        .expect("a JSON answer");
    let token = fixture.write("minted.jwt", minted["token"].as_str().expect("a token"));
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // The example's resource is a path under `/echo`, as an SDK's base URL would make it.
    let output = shell(
        &fixture,
        &exports,
        "\"$BIN\" login --jwt-file \"$TOKEN\" >/dev/null && \
         RESOURCE_URL=\"$AGENT_IDENTITY_EMULATOR_URL/echo/v1/models\" \"$CARGO\" run --quiet \
         --package agent-identity-sdk --features reqwest-middleware --example readme",
    )
    .env("TOKEN", &token)
    .env("CARGO", env!("CARGO"))
    .current_dir(&workspace)
    .output()
    .await
    .expect("sh runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("registered task "), "{stdout}");
    assert_eq!(lines[1], "200 OK", "{stdout}");
    let counters: Value = reqwest::get(format!("{base}/_emulator/counters"))
        .await
        .expect("counters")
        .json()
        .await
        .expect("json");
    // The example's signed request reached the verifying endpoint and was accepted.
    assert_eq!(counters["assertions_accepted"], 1, "{counters}");
    assert_eq!(counters["assertions_rejected"], 0, "{counters}");
    child.kill().await.expect("kill the emulator");
}
