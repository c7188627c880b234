//! The worked axum example, run as a process: a directory file as the issuer would export it,
//! a request signed by our middleware accepted, an unsigned one refused.

use std::process::Stdio;

use agent_identity_sdk::emulator::Emulator;
use tokio::io::AsyncBufReadExt as _;

use crate::support::{client, logged_in};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_axum_example_admits_a_signed_agent_and_refuses_an_unsigned_request() {
    let emulator = Emulator::start().await.expect("emulator");
    let manager = logged_in(&emulator).await;
    let auth = manager.auth().expect("ready");
    let record = auth.record();
    // The test plays the issuer, which knows the runtime and the task it registered.
    let export = serde_json::json!({
        "runtimes": {
            record.runtime_id().as_str(): {
                "public_key": record.key().public_key().expect("public key").to_vec(),
                "account_id": record.account_id().as_str(),
                "tasks": [auth.task_id().as_str()],
            }
        }
    });
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("directory.json");
    std::fs::write(&file, export.to_string()).expect("write");

    let mut child = tokio::process::Command::new(env!("CARGO"))
        .args([
            "run",
            "--quiet",
            "--package",
            "agent-identity-sdk",
            // Every feature, as the test build has them: the build is shared, not redone.
            "--all-features",
            "--example",
            "axum_server",
            "--",
        ])
        .arg(&file)
        .arg("127.0.0.1:0")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("cargo runs the example");
    let stdout = child.stdout.take().expect("stdout");
    let line = tokio::io::BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .expect("reads")
        .expect("the listening line");
    let base = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"));
    let url = format!("{base}/whoami");

    let response = client(&manager, &url).get(&url).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["task_id"], auth.task_id().as_str());

    let unsigned = reqwest::get(&url).await.expect("sent");
    assert_eq!(unsigned.status(), 401);
    child.kill().await.expect("stopped");
}
