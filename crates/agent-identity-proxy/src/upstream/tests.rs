//! The upstream pool against loopback upstreams: connections are kept and reused, one the
//! upstream closed is replaced, and a refused connection is a connect error.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http_body_util::BodyExt as _;
use hyper::body::Bytes;
use hyper::http::{Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

use super::UpstreamClient;
use crate::forward::full;

fn client_for(addr: SocketAddr) -> Arc<UpstreamClient> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .try_with_platform_verifier()
        .expect("tls roots")
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    let origin: Uri = format!("http://{addr}/").parse().expect("origin");
    UpstreamClient::new(https, origin)
}

fn get(addr: SocketAddr) -> Request<crate::forward::ProxyBody> {
    Request::builder()
        .uri("/ping")
        .header("host", addr.to_string())
        .body(full(Bytes::new()))
        .expect("request")
}

/// The whole answer: `ok`.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
/// An answer whose body never ends: one of its two bytes.
const UNFINISHED: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\no";

/// A raw upstream: gives every request `answer`, keeping the connection open (`close: false`)
/// or closing it after the answer (`close: true`). Counts connections.
async fn upstream(answer: &'static [u8], close: bool) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0_u8; 1024];
                loop {
                    let Ok(read) = stream.read(&mut chunk).await else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..read]);
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        buffer.drain(..end + 4);
                        if stream.write_all(answer).await.is_err() {
                            return;
                        }
                        if close {
                            return;
                        }
                    }
                }
            });
        }
    });
    (addr, accepted)
}

async fn body_of(client: &Arc<UpstreamClient>, addr: SocketAddr) -> Bytes {
    let response = client.request(get(addr)).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
}

#[tokio::test]
async fn sequential_requests_share_one_upstream_connection() {
    let (addr, accepted) = upstream(OK, false).await;
    let client = client_for(addr);
    for _ in 0..3 {
        assert_eq!(body_of(&client, addr).await, "ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_is_replaced_by_a_new_one() {
    let (addr, accepted) = upstream(OK, true).await;
    let client = client_for(addr);
    for _ in 0..3 {
        assert_eq!(body_of(&client, addr).await, "ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_connection_still_reading_its_response_is_not_reused() {
    let (addr, accepted) = upstream(UNFINISHED, false).await;
    let client = client_for(addr);
    // The first response's body never ends: its connection stays busy, so the second request
    // opens another.
    let first = client.request(get(addr)).await.expect("first");
    let second = client.request(get(addr)).await.expect("second");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    drop((first, second));
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let addr = agent_identity_test_support::refusing_port();
    let client = client_for(addr);
    let error = client.request(get(addr)).await.expect_err("refused");
    assert!(error.is_connect(), "{error:?}");
}
