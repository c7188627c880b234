//! The upstream pool against scripted loopback upstreams: connections are kept and reused, one
//! the upstream closed is replaced, a refused connection is a connect error, and the held path
//! decodes every framing, retries only what the upstream cannot have seen, and passes on an early
//! answer.

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
use crate::answer::full;

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

fn get(addr: SocketAddr) -> Request<Bytes> {
    Request::builder()
        .uri("/ping")
        .header("host", addr.to_string())
        .body(Bytes::new())
        .expect("request")
}

/// Sends a held request with no identity headers.
async fn send(
    client: &Arc<UpstreamClient>,
    request: &Request<Bytes>,
) -> Result<hyper::http::Response<crate::forward::ProxyBody>, super::SendError> {
    client.request_held(request, std::iter::empty()).await
}

/// The whole answer: `ok`.
const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
/// An answer whose body never ends: one of its two bytes.
const UNFINISHED: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\no";

async fn body_of(client: &Arc<UpstreamClient>, addr: SocketAddr) -> Bytes {
    let response = send(client, &get(addr)).await.expect("response");
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
    let (addr, accepted) = scripted(&[Step::AnswerEach(OK)]).await;
    let client = client_for(addr);
    for _ in 0..3 {
        assert_eq!(body_of(&client, addr).await, "ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_connection_the_upstream_closed_is_replaced_by_a_new_one() {
    let (addr, accepted) = scripted(&[Step::AnswerAndClose(OK)]).await;
    let client = client_for(addr);
    for _ in 0..3 {
        assert_eq!(body_of(&client, addr).await, "ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_connection_still_reading_its_response_is_not_reused() {
    let (addr, accepted) = scripted(&[Step::AnswerEach(UNFINISHED)]).await;
    let client = client_for(addr);
    // The first response's body never ends: its connection stays busy, so the second request
    // opens another.
    let first = send(&client, &get(addr)).await.expect("first");
    let second = send(&client, &get(addr)).await.expect("second");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    drop((first, second));
}

#[tokio::test]
async fn a_refused_connection_is_a_connect_error() {
    let addr = agent_identity_test_support::refusing_port();
    let client = client_for(addr);
    let error = send(&client, &get(addr)).await.expect_err("refused");
    assert!(error.is_connect(), "{error:?}");
}

/// What a scripted upstream does with each request on a connection, in order; after the last
/// step it keeps the connection open and answers nothing.
#[derive(Clone, Copy)]
enum Step {
    Answer(&'static [u8]),
    /// This answer, to this request and every later one on the connection.
    AnswerEach(&'static [u8]),
    AnswerAndClose(&'static [u8]),
    Close,
}

/// An upstream that follows `script` on every connection it accepts. Counts connections.
async fn scripted(script: &'static [Step]) -> (SocketAddr, Arc<AtomicUsize>) {
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
                let mut steps = script.iter();
                let mut each = None;
                loop {
                    while let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        buffer.drain(..end + 4);
                        let step = each.or_else(|| steps.next());
                        if let Some(Step::AnswerEach(_)) = step {
                            each = step;
                        }
                        match step {
                            Some(Step::Answer(answer) | Step::AnswerEach(answer))
                                if stream.write_all(answer).await.is_err() =>
                            {
                                return;
                            }
                            Some(Step::Answer(_) | Step::AnswerEach(_)) | None => {}
                            Some(Step::AnswerAndClose(answer)) => {
                                let _ = stream.write_all(answer).await;
                                return;
                            }
                            Some(Step::Close) => return,
                        }
                    }
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => buffer.extend_from_slice(&chunk[..read]),
                    }
                }
            });
        }
    });
    (addr, accepted)
}

fn request(addr: SocketAddr, method: &str) -> Request<Bytes> {
    Request::builder()
        .method(method)
        .uri("/ping")
        .header("host", addr.to_string())
        .body(Bytes::new())
        .expect("request")
}

/// A chunked body: a chunk with an extension, a second of 16 bytes, and a trailer.
const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nx-digest: sum\r\n\r\n";

#[tokio::test]
async fn a_chunked_body_arrives_decoded_with_its_trailers_and_the_connection_is_kept() {
    let (addr, accepted) = scripted(&[Step::Answer(CHUNKED), Step::Answer(OK)]).await;
    let client = client_for(addr);
    let response = send(&client, &get(addr)).await.expect("response");
    let collected = response.into_body().collect().await.expect("body");
    assert_eq!(
        collected
            .trailers()
            .map(|trailers| trailers["x-digest"].clone()),
        Some(hyper::http::HeaderValue::from_static("sum"))
    );
    assert_eq!(collected.to_bytes(), "abc0123456789abcdef");
    assert_eq!(body_of(&client, addr).await, "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_body_without_a_length_runs_to_the_close_and_its_connection_is_not_kept() {
    const UNTIL_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\n\r\nall of it";
    let (addr, accepted) = scripted(&[Step::AnswerAndClose(UNTIL_CLOSE)]).await;
    let client = client_for(addr);
    assert_eq!(body_of(&client, addr).await, "all of it");
    assert_eq!(body_of(&client, addr).await, "all of it");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn an_interim_100_is_passed_over_for_the_final_response() {
    const CONTINUE_THEN_OK: &[u8] =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
    let (addr, _) = scripted(&[Step::Answer(CONTINUE_THEN_OK)]).await;
    let client = client_for(addr);
    assert_eq!(body_of(&client, addr).await, "ok");
}

#[tokio::test]
async fn a_body_cut_short_by_the_upstream_is_an_error_not_a_short_body() {
    const SHORT: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc";
    let (addr, _) = scripted(&[Step::AnswerAndClose(SHORT)]).await;
    let client = client_for(addr);
    let response = send(&client, &get(addr)).await.expect("head");
    let error = response.into_body().collect().await.expect_err("cut short");
    assert!(
        error.to_string().contains("middle of a response body"),
        "{error}"
    );
}

#[tokio::test]
async fn a_body_dropped_before_its_end_closes_its_connection() {
    let (addr, accepted) = scripted(&[Step::Answer(OK), Step::Answer(OK)]).await;
    let client = client_for(addr);
    drop(send(&client, &get(addr)).await.expect("first"));
    assert_eq!(body_of(&client, addr).await, "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_get_that_meets_a_kept_connection_closing_goes_again_on_a_new_one() {
    // Each connection answers one request and closes on reading the next, unanswered.
    let (addr, accepted) = scripted(&[Step::Answer(OK), Step::Close]).await;
    let client = client_for(addr);
    assert_eq!(body_of(&client, addr).await, "ok");
    assert_eq!(body_of(&client, addr).await, "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_post_the_upstream_may_have_seen_is_not_sent_twice() {
    let (addr, accepted) = scripted(&[Step::Answer(OK), Step::Close]).await;
    let client = client_for(addr);
    assert_eq!(body_of(&client, addr).await, "ok");
    let error = send(&client, &request(addr, "POST"))
        .await
        .expect_err("no response");
    assert!(matches!(error, super::SendError::Wire(_)), "{error:?}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_response_head_over_the_limit_is_refused() {
    static HUGE: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
        let mut answer = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
        answer.resize(answer.len() + super::wire::MAX_HEAD_BYTES + 1, b'a');
        answer.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
        answer
    });
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut chunk = [0_u8; 1024];
        let _ = stream.read(&mut chunk).await;
        let _ = stream.write_all(&HUGE).await;
    });
    let client = client_for(addr);
    // Matched, not unwrapped: a response here would print its 64 KiB head.
    let Err(super::SendError::Wire(error)) = send(&client, &get(addr)).await else {
        panic!("an oversized head was accepted");
    };
    assert!(matches!(error, super::wire::WireError::TooLarge), "{error}");
}

#[tokio::test]
async fn an_answer_sent_before_the_body_was_read_reaches_the_client_though_the_write_fails() {
    const TOO_LARGE: &[u8] =
        b"HTTP/1.1 413 Content Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut head = Vec::new();
        let mut chunk = [0_u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let read = stream.read(&mut chunk).await.expect("read");
            assert_ne!(read, 0, "the request head never came");
            head.extend_from_slice(&chunk[..read]);
        }
        // Answered without reading the body, then closed with a reset (the unread body and a
        // zero linger make it one): the proxy's write fails behind the answer.
        stream.write_all(TOO_LARGE).await.expect("answer");
        stream.set_zero_linger().expect("linger");
    });
    let client = client_for(addr);
    // Far more than loopback's socket buffers hold, so the write is still going at the reset.
    let body = Bytes::from(vec![b'x'; 32 << 20]);
    let request = Request::builder()
        .method("POST")
        .uri("/upload")
        .header("host", addr.to_string())
        .body(body)
        .expect("request");
    let response = send(&client, &request).await.expect("the early answer");
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn a_request_partly_written_when_the_connection_broke_is_not_sent_again() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut chunk = [0_u8; 1024];
                // The first request is answered; at the second head the connection is reset,
                // with most of that request's body still unread.
                for answered in [false, true] {
                    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut chunk).await {
                            // A body where a head should be: not a request this upstream reads.
                            _ if seen.len() > 64 * 1024 => return,
                            Ok(0) | Err(_) => return,
                            Ok(read) => seen.extend_from_slice(&chunk[..read]),
                        }
                    }
                    seen.clear();
                    if answered {
                        let _ = stream.set_zero_linger();
                        return;
                    }
                    stream.write_all(OK).await.expect("answer");
                }
            });
        }
    });
    let client = client_for(addr);
    assert_eq!(body_of(&client, addr).await, "ok");
    let request = Request::builder()
        .method("PUT")
        .uri("/upload")
        .header("host", addr.to_string())
        .body(Bytes::from(vec![b'x'; 32 << 20]))
        .expect("request");
    let Err(super::SendError::Wire(error)) = send(&client, &request).await else {
        panic!("a request the upstream broke off got an answer");
    };
    assert!(matches!(error, super::wire::WireError::Io(_)), "{error}");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "the request went again");
}

#[tokio::test]
async fn streamed_requests_go_over_hyper_connections_which_are_kept_too() {
    let (addr, accepted) = scripted(&[Step::AnswerEach(OK)]).await;
    let client = client_for(addr);
    for _ in 0..2 {
        let request = Request::builder()
            .uri("/ping")
            .header("host", addr.to_string())
            .body(full(Bytes::new()))
            .expect("request");
        let response = client.request(request).await.expect("response");
        assert!(matches!(
            response.body(),
            crate::forward::ProxyBody::Stream(_)
        ));
        let body = response.into_body().collect().await.expect("body");
        assert_eq!(body.to_bytes(), "ok");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
