//! Starting and stopping: dropping the handle stops the server, `shutdown` stops it gracefully,
//! and listen addresses map to usable URLs.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime};

use agent_identity_emulator::{Emulator, EmulatorError};
use agent_identity_jwt::SigningAlgorithm;
use agent_identity_task::AgentSigner;
use tokio::net::TcpStream;

use crate::support::{fresh_connections, get_json, minted_record};

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let emulator = Emulator::start().await.expect("start");
    let url = emulator.jwks_url().to_string();
    let pooled = reqwest::Client::new();
    let (status, _) = get_json(&pooled, &url).await;
    assert_eq!(status, 200);
    drop(emulator);
    // Let the aborted server task be dropped.
    tokio::task::yield_now().await;
    fresh_connections()
        .get(&url)
        .send()
        .await
        .expect_err("nothing listens any more");
    pooled
        .get(&url)
        .send()
        .await
        .expect_err("kept-alive connections are closed too");
}

#[tokio::test]
async fn shutdown_stops_the_server_gracefully() {
    let emulator = Emulator::start().await.expect("start");
    let url = emulator.jwks_url().to_string();
    let (status, _) = get_json(&fresh_connections(), &url).await;
    assert_eq!(status, 200);
    tokio::time::timeout(Duration::from_secs(10), emulator.shutdown())
        .await
        .expect("shutdown finishes");
    fresh_connections()
        .get(&url)
        .send()
        .await
        .expect_err("stopped");
}

#[tokio::test]
async fn shutdown_lets_a_request_in_flight_finish() {
    let emulator = Emulator::start().await.expect("start");
    let emulator_addr = emulator.local_addr();
    let (_minted, record) = minted_record(&emulator).await;
    let url = emulator
        .authapi_base()
        .registration_url(record.runtime_id().as_str())
        .expect("url");
    let path = url
        .strip_prefix(emulator.base_url().as_str().trim_end_matches('/'))
        .expect("the registration url is under the base url")
        .to_owned();
    let body = AgentSigner::from_record(&record)
        .registration_request(SystemTime::now())
        .expect("sign")
        .to_json();

    // `Expect: 100-continue` makes "in flight" observable without a clock: hyper answers
    // `100 Continue` only once the handler starts reading the body, which the test then holds
    // back until shutdown has been asked for.
    let stream = TcpStream::connect(emulator.local_addr())
        .await
        .expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        emulator.local_addr(),
        body.len()
    );
    write_all(&stream, head.as_bytes()).await;
    let mut interim = Vec::new();
    read_until(&stream, &mut interim, |received| {
        received.windows(4).any(|window| window == b"\r\n\r\n")
    })
    .await;
    assert_eq!(
        String::from_utf8_lossy(&interim),
        "HTTP/1.1 100 Continue\r\n\r\n",
        "the handler is reading the body"
    );

    let mut response = Vec::new();
    let finish = async {
        write_all(&stream, body.as_bytes()).await;
        // To the end of the stream: a stopping server closes the connection once it has answered.
        read_until(&stream, &mut response, |_| false).await;
    };
    // `join!` polls `shutdown` first, so the stop is signalled before the body is sent.
    tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(emulator.shutdown(), finish)
    })
    .await
    .expect("shutdown and the request finish");

    let response = String::from_utf8_lossy(&response);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("a whole response: {response}"));
    assert!(head.starts_with("HTTP/1.1 200 "), "{response}");
    let body: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert!(body["encrypted_task_id"].is_string(), "{body}");
    TcpStream::connect(emulator_addr)
        .await
        .expect_err("stopped");
}

/// Writes all of `bytes` (readiness and `try_write`, so the test needs no extra Tokio features).
async fn write_all(stream: &TcpStream, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        stream.writable().await.expect("writable");
        match stream.try_write(bytes) {
            Ok(written) => bytes = &bytes[written..],
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("write: {error}"),
        }
    }
}

/// Reads into `received` until `done` says so or the stream ends.
async fn read_until(stream: &TcpStream, received: &mut Vec<u8>, done: impl Fn(&[u8]) -> bool) {
    let mut buffer = [0u8; 4096];
    while !done(received) {
        stream.readable().await.expect("readable");
        match stream.try_read(&mut buffer) {
            Ok(0) => return,
            Ok(read) => received.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
            Err(error) => panic!("read: {error}"),
        }
    }
}

#[tokio::test]
async fn unspecified_listen_address_is_reached_on_loopback() {
    let emulator = Emulator::builder()
        .listen(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
        .start()
        .await
        .expect("start");
    assert!(
        emulator
            .base_url()
            .to_string()
            .starts_with("http://127.0.0.1:")
    );
    assert!(emulator.local_addr().ip().is_unspecified());
    let (status, _) = get_json(&fresh_connections(), emulator.jwks_url().as_ref()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn busy_port_is_a_bind_error() {
    let first = Emulator::start().await.expect("start");
    let error = Emulator::builder()
        .listen(first.local_addr())
        .start()
        .await
        .expect_err("the port is taken");
    assert!(matches!(error, EmulatorError::Bind { .. }), "{error:?}");
    assert!(std::error::Error::source(&error).is_some());
}

#[tokio::test]
async fn unsupported_algorithm_is_refused_at_start() {
    let error = Emulator::builder()
        .algorithm(SigningAlgorithm::Es256)
        .start()
        .await
        .expect_err("no ES256 key");
    assert!(
        matches!(error, EmulatorError::UnsupportedAlgorithm(_)),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the emulator cannot sign with ES256; use EdDSA or RS256"
    );
}

#[tokio::test]
async fn emulators_are_independent() {
    let first = Emulator::start().await.expect("start");
    let second = Emulator::start().await.expect("start");
    assert_ne!(first.base_url(), second.base_url());
    let minted = first.mint().issue().expect("mint");
    second
        .verifier()
        .verify(&minted.token)
        .await
        .expect_err("another emulator's key is not trusted");
}
