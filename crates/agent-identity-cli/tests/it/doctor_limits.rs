//! `doctor` reads the key set through the library's sources: a device or a FIFO given as the
//! key set file fails at once, and an endless key set body is cut at the size cap.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::doctor::check;
use crate::support::{Fixture, Run};

fn key_set_failure(run: &Run) -> (String, String) {
    let report: Value = run.json();
    let key_set = check(&report, "key set");
    (
        key_set["status"].as_str().expect("status").to_owned(),
        key_set["detail"].as_str().expect("detail").to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_device_as_the_key_set_file_fails_at_once() {
    let fixture = Fixture::new().await;
    let run = fixture
        .cli()
        .args(["doctor", "--json", "--jwks-file", "/dev/zero"])
        .args([
            "--authapi-base-url",
            fixture.emulator.authapi_base_url().as_str(),
        ])
        .run()
        .await;
    run.assert_code(1);
    let (status, detail) = key_set_failure(&run);
    assert_eq!(status, "fail");
    assert!(detail.contains("not a regular file"), "{detail}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fifo_as_the_key_set_file_fails_at_once() {
    let fixture = Fixture::new().await;
    let fifo = fixture.scratch.path().join("keys.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    // No writer ever opens the FIFO: a reader that waited for one would hang until the
    // harness's timeout.
    let run = fixture
        .cli()
        .args(["doctor", "--json", "--jwks-file"])
        .arg(&fifo)
        .args([
            "--authapi-base-url",
            fixture.emulator.authapi_base_url().as_str(),
        ])
        .run()
        .await;
    run.assert_code(1);
    let (status, detail) = key_set_failure(&run);
    assert_eq!(status, "fail");
    assert!(detail.contains("not a regular file"), "{detail}");
}

/// A loopback server whose one answer is a key set body that never ends.
async fn endless_key_set() -> (String, tokio::task::JoinHandle<u64>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/jwks", listener.local_addr().expect("address"));
    let server = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
                    transfer-encoding: chunked\r\n\r\n";
        if stream.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let opening = "{\"keys\": [";
        let _ = stream
            .write_all(format!("{:x}\r\n{opening}\r\n", opening.len()).as_bytes())
            .await;
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, " ".repeat(64 * 1024));
        let mut sent = 0u64;
        // Until the client hangs up: that it does is what the test proves.
        while stream.write_all(chunk.as_bytes()).await.is_ok() {
            sent += 64 * 1024;
        }
        sent
    });
    (url, server)
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_key_set_body_is_cut_at_the_cap() {
    let fixture = Fixture::new().await;
    let minted = fixture.mint();
    fixture.login(&minted).await;
    let (url, server) = endless_key_set().await;
    let run = fixture
        .cli()
        .args(["doctor", "--json", "--jwks-url", &url])
        .args([
            "--authapi-base-url",
            fixture.emulator.authapi_base_url().as_str(),
        ])
        .run()
        .await;
    run.assert_code(75);
    let (status, detail) = key_set_failure(&run);
    assert_eq!(status, "transient");
    assert!(detail.contains("size limit"), "{detail}");
    // The client hung up after about the 1 MiB cap, not after reading without end.
    let sent = tokio::time::timeout(Duration::from_secs(30), server)
        .await
        .expect("the server stops once the client hangs up")
        .expect("server task");
    assert!(sent < 64 << 20, "{sent} bytes were sent");
}
