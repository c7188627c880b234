//! Starting and stopping: dropping the handle stops the server, `shutdown` stops it gracefully,
//! and listen addresses map to usable URLs.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use agent_identity_emulator::{Emulator, EmulatorError};
use agent_identity_jwt::SigningAlgorithm;

use crate::support::{fresh_connections, get_json};

#[tokio::test]
async fn dropping_the_handle_stops_the_server() {
    let emulator = Emulator::start().await.expect("start");
    let url = emulator.jwks_url();
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
    let url = emulator.jwks_url();
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
    emulator.set_latency(Duration::from_millis(300));
    let url = emulator.jwks_url();
    let request = tokio::spawn(async move { fresh_connections().get(&url).send().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    emulator.shutdown().await;
    let response = request
        .await
        .expect("join")
        .expect("answered before stopping");
    assert_eq!(response.status().as_u16(), 200);
}

#[tokio::test]
async fn unspecified_listen_address_is_reached_on_loopback() {
    let emulator = Emulator::builder()
        .listen(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)))
        .start()
        .await
        .expect("start");
    assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
    assert!(emulator.local_addr().ip().is_unspecified());
    let (status, _) = get_json(&fresh_connections(), &emulator.jwks_url()).await;
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
