//! The sidecar's edges: dot segments, framing, the health endpoint's audience, the exact header
//! limit, a 401 with no new task to replay with, and connection slots held by a user without the
//! client token.

use hyper::StatusCode;
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::support::{Running, Upstream, exchange, raw_upstream, step};

/// The JSON body of a raw HTTP/1.1 answer.
fn body_of(answer: &str) -> Value {
    let (_, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    serde_json::from_str(body).unwrap_or_else(|_| panic!("a json body: {answer:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dot_segment_in_any_spelling_is_refused_with_400_and_never_forwarded() {
    let upstream = Upstream::start().await;
    let proxy = Running::start(&upstream, |builder| builder).await;
    for path in [
        "/../../etc/passwd",
        "/a/./b",
        "/%2e%2e/%2E%2E/etc/passwd",
        "/.%2e/x",
        "/..;/x",
        "/a/..;jsessionid=1/x",
        "/..%2f..%2fetc",
        "/a/..%5c..%5cetc",
    ] {
        let head = proxy.head(path, "connection: close\r\n");
        let answer = exchange(proxy.addr, head.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 400 "), "{path}: {answer}");
        assert_eq!(body_of(&answer)["error"], "dot_segment", "{path}");
    }
    // The absolute form, naming the upstream itself, is held to the same rule.
    let absolute = format!("{}/../x", upstream.url);
    let head = proxy.head(&absolute, "connection: close\r\n");
    let answer = exchange(proxy.addr, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert_eq!(upstream.received(), 0, "nothing reached the upstream");

    // Names that merely contain dots pass.
    let head = proxy.head("/a/.../b.c/.hidden", "connection: close\r\n");
    let answer = exchange(proxy.addr, head.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(upstream.received(), 1);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_content_length_beside_chunked_is_dropped_and_the_whole_body_arrives() {
    let url = raw_upstream(
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n14\r\n0123456789abcdefghij\r\n0\r\n\r\n",
    )
    .await;
    let upstream = Upstream::at(url);
    let proxy = Running::start(&upstream, |builder| builder).await;
    let answer = exchange(
        proxy.addr,
        proxy.head("/framed", "connection: close\r\n").as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    let head = answer
        .split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(!head.contains("content-length: 5"), "{answer}");
    // Chunked or not, the client gets all twenty bytes.
    assert!(answer.contains("0123456789abcdefghij"), "{answer}");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_without_the_client_token_gives_only_the_state_and_refuses_a_foreign_host() {
    let upstream = Upstream::start().await;
    let proxy = Running::start(&upstream, |builder| builder).await;
    let anonymous = format!(
        "GET /_agent-identity/health HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        proxy.addr
    );
    let answer = exchange(proxy.addr, anonymous.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(body_of(&answer), serde_json::json!({"state": "ready"}));

    let head = proxy.head("/_agent-identity/health", "connection: close\r\n");
    let detail = body_of(&exchange(proxy.addr, head.as_bytes()).await);
    assert_eq!(detail["state"], "ready", "{detail}");
    assert!(
        detail["runtime_id"].is_string() && detail["task_id"].is_string(),
        "{detail}"
    );
    assert!(detail["degraded"].is_null(), "{detail}");

    for host in ["evil.example", "rebound.example:80", "10.0.0.1"] {
        let request = format!(
            "GET /_agent-identity/health HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
        );
        let answer = exchange(proxy.addr, request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 403 "), "{host}: {answer}");
        assert_eq!(body_of(&answer)["error"], "host_not_local");
    }
    for host in ["localhost:1234", "[::1]"] {
        let request = format!(
            "GET /_agent-identity/health HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
        );
        let answer = exchange(proxy.addr, request.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{host}: {answer}");
    }
    assert_eq!(upstream.received(), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_head_over_max_header_bytes_that_arrives_at_once_gets_431() {
    let upstream = Upstream::start().await;
    // The default limit, 64 KiB, against a 100,000-byte header sent in one write.
    let mut proxy = Running::start(&upstream, |builder| builder).await;
    let head = proxy.head(
        "/big",
        &format!("x-filler: {}\r\nconnection: close\r\n", "a".repeat(100_000)),
    );
    let answer = exchange(proxy.addr, head.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 431 "),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert_eq!(
        upstream.received(),
        0,
        "the large request was not forwarded"
    );

    // Just under the limit is forwarded.
    let head = proxy.head(
        "/under",
        &format!("x-filler: {}\r\nconnection: close\r\n", "a".repeat(60_000)),
    );
    let answer = exchange(proxy.addr, head.as_bytes()).await;
    assert!(
        answer.starts_with("HTTP/1.1 200 "),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert_eq!(upstream.received(), 1);
    let _ = proxy.logged().await;
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_with_no_new_task_to_replay_with_is_passed_on_and_logged_unrecovered() {
    let upstream = Upstream::answering(StatusCode::UNAUTHORIZED).await;
    let mut proxy = Running::start(&upstream, |builder| builder).await;

    // The first 401 registers a new task and replays once.
    let mut client = proxy.connect().await;
    assert_eq!(client.get("/first").await.0, StatusCode::UNAUTHORIZED);
    client.close().await;
    assert_eq!(upstream.received(), 2);
    assert!(proxy.logged().await.recovered());

    // The next one, within the recovery's cooldown, gets no new task: no replay.
    let mut client = proxy.connect().await;
    assert_eq!(client.get("/second").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(upstream.received(), 3, "the request was not replayed");
    let record = proxy.logged().await;
    assert_eq!((record.path(), record.status()), ("/second", 401));
    assert!(!record.recovered());
    client.close().await;
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attacker_holding_every_slot_does_not_keep_a_client_with_the_token_out() {
    let upstream = Upstream::start().await;
    let limit = 4;
    let mut proxy = Running::start(&upstream, |builder| {
        builder
            .max_connections(limit)
            // Without shedding, the client would wait this long for a slot.
            .header_read_timeout(std::time::Duration::from_secs(600))
    })
    .await;
    // The attacker fills every slot: each connection is accepted (its token-less request is
    // answered 401) and then held open, idle.
    let mut held = Vec::new();
    for _ in 0..limit {
        let stream = step("connect", TcpStream::connect(proxy.addr))
            .await
            .expect("connect");
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        let connection = tokio::spawn(connection);
        let request = hyper::Request::get("/steal")
            .header("host", proxy.addr.to_string())
            .body(http_body_util::Empty::<hyper::body::Bytes>::new())
            .expect("request");
        let response = step("a 401", sender.send_request(request))
            .await
            .expect("a response");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        held.push((sender, connection));
        assert_eq!(proxy.logged().await.status(), 401);
    }
    // One more attacker connection, with half its headers, waits at the limit too.
    let mut half = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    half.write_all(b"GET /x HTTP/1.1\r\nhost: ")
        .await
        .expect("write");

    // A client with the token is served (within the step's bound, not the header timeout).
    let mut client = proxy.connect().await;
    assert_eq!(client.get("/served").await.0, StatusCode::OK);
    assert_eq!(proxy.logged().await.path(), "/served");
    assert_eq!(upstream.received(), 1);
    // And it keeps its place while the attacker reconnects: it showed the token.
    let again = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    assert_eq!(client.get("/still-served").await.0, StatusCode::OK);
    client.close().await;
    drop((held, half, again));
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_and_ready_answer_probes_without_the_token() {
    let upstream = Upstream::start().await;
    let proxy = Running::start(&upstream, |builder| builder).await;
    for (path, body) in [
        ("/_agent-identity/live", serde_json::json!({"live": true})),
        (
            "/_agent-identity/ready",
            serde_json::json!({"ready": true, "state": "ready"}),
        ),
    ] {
        // A kubelet's probe names the pod's address, which is the proxy's own.
        let probe = format!(
            "GET {path} HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
            proxy.addr
        );
        let answer = exchange(proxy.addr, probe.as_bytes()).await;
        assert!(answer.starts_with("HTTP/1.1 200 "), "{path}: {answer}");
        assert_eq!(body_of(&answer), body, "{path}");
    }
    assert_eq!(upstream.received(), 0);
    proxy.stop().await;
}
