//! `proxy --max-header-bytes` as a process: requests whose headers overflow the limit get 431
//! from the server itself, and the proxy goes on serving.

use std::path::PathBuf;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::support::Fixture;

use agent_identity_test_support::net::{exchange, step};

#[tokio::test(flavor = "multi_thread")]
async fn headers_over_max_header_bytes_get_431_and_the_proxy_goes_on_serving() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let upstream = fixture.emulator.base_url().to_string();
    let mut child = fixture
        .cli_with_emulator()
        .args([
            "proxy",
            "--json",
            "--upstream",
            upstream.trim_end_matches('/'),
        ])
        .args(["--max-header-bytes", "16384"])
        .command()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("the proxy starts");
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let first = step("the first line", lines.next_line())
        .await
        .expect("read stdout")
        .expect("a first line");
    let first: Value = serde_json::from_str(&first).expect("the first line is JSON");
    let addr = first["url"]
        .as_str()
        .expect("url")
        .trim_start_matches("http://")
        .to_owned();
    let token_file = PathBuf::from(first["client_token_file"].as_str().expect("token file"));
    let token = std::fs::read_to_string(token_file).expect("the token file");
    let request = |filler: usize| {
        format!(
            "GET /echo HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\nx-filler: {}\r\nconnection: close\r\n\r\n",
            token.trim(),
            "a".repeat(filler)
        )
    };

    // 20 KiB of headers: under the default 64 KiB, over the 16 KiB asked for.
    let answer = exchange(&addr, request(20 * 1024).as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer:?}"
    );
    assert_eq!(
        fixture.emulator.assertions_accepted(),
        0,
        "nothing forwarded"
    );

    // 12 KiB: served, signed, on a new connection.
    let answer = exchange(&addr, request(12 * 1024).as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer:?}");
    assert_eq!(fixture.emulator.assertions_accepted(), 1);

    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = step("the proxy exits", child.wait()).await.expect("wait");
    assert_eq!(status.code(), Some(0));
    // The refused request never reached the handler: one access-log line, the served one.
    let mut log = Vec::new();
    while let Some(line) = lines.next_line().await.expect("read stdout") {
        log.push(serde_json::from_str::<Value>(&line).expect("access-log lines are JSON"));
    }
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["status"], 200);
}
