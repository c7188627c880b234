//! What the proxy forwards and how: signed requests with the client's identity headers replaced,
//! the client token and the target rules, local answers, streaming both ways, upgrades, many
//! clients at once, and recovery from a revoked task or an unreachable upstream or AuthAPI.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agent_identity_emulator::Emulator;
use agent_identity_test_support::refusing_port;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use crate::support::{Launch, Running, emulator_url, exchange, json_answer, step};

/// The account every identity the emulator mints belongs to.
const EMULATOR_ACCOUNT: &str = "account-emulator";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_is_signed_and_the_clients_identity_headers_are_replaced() {
    let mut proxy = Running::to_emulator(|builder| builder).await;
    let head = proxy.head(
        "/echo?x=1",
        "chatgpt-account-id: forged\r\nx-openai-fedramp: true\r\nconnection: close\r\n",
    );
    let (status, body) = json_answer(&exchange(proxy.addr, head.as_bytes()).await);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["runtime_id"].as_str(),
        proxy.runtime_id.as_deref(),
        "{body}"
    );
    assert_eq!(body["account_id"], EMULATOR_ACCOUNT, "{body}");
    assert_eq!(proxy.emulator.assertions_accepted(), 1);
    assert_eq!(proxy.emulator.assertions_rejected(), 0);
    let record = proxy.logged().await;
    assert_eq!(
        (record.method(), record.path(), record.status()),
        ("GET", "/echo", 200)
    );
    assert!(!record.recovered());
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_without_the_client_token_gets_401_and_never_reaches_the_upstream() {
    let proxy = Running::to_emulator(|builder| builder).await;
    for authorization in [
        "",
        "authorization: Bearer wrong\r\n",
        "authorization: AgentAssertion forged\r\n",
    ] {
        for path in ["/echo", "/_agent-identity/headers"] {
            let request = format!(
                "GET {path} HTTP/1.1\r\nhost: {}\r\n{authorization}connection: close\r\n\r\n",
                proxy.addr
            );
            let (status, body) = json_answer(&exchange(proxy.addr, request.as_bytes()).await);
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} {authorization:?}");
            assert_eq!(body["error"], "client_token_required", "{path}");
        }
    }
    assert_eq!(proxy.emulator.assertions_accepted(), 0);
    assert_eq!(proxy.emulator.assertions_rejected(), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_absolute_targets_to_other_hosts_are_refused() {
    let proxy = Running::to_emulator(|builder| builder).await;
    for request_line in [
        "CONNECT example.com:443 HTTP/1.1",
        "GET http://example.com/echo HTTP/1.1",
    ] {
        let request = format!(
            "{request_line}\r\nhost: example.com\r\nauthorization: Bearer {}\r\nconnection: close\r\n\r\n",
            proxy.token.expose_secret()
        );
        let answer = exchange(proxy.addr, request.as_bytes()).await;
        let status = answer.split(' ').nth(1).unwrap_or_default();
        assert!(
            status == "405" || status == "403",
            "{request_line}: {answer}"
        );
    }
    assert_eq!(proxy.emulator.assertions_accepted(), 0);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_headers_answer_locally() {
    let proxy = Running::to_emulator(|builder| builder).await;
    let (status, health) = proxy.get_json("/_agent-identity/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["state"], "ready", "{health}");
    assert_eq!(
        health["runtime_id"].as_str(),
        proxy.runtime_id.as_deref(),
        "{health}"
    );
    assert!(
        health["task_id"].is_string() && health["since_unix"].is_u64(),
        "{health}"
    );
    let (status, headers) = proxy.get_json("/_agent-identity/headers").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers["authorization"]
            .as_str()
            .is_some_and(|value| value.starts_with("AgentAssertion ")),
        "{headers}"
    );
    assert_eq!(headers["chatgpt_account_id"], EMULATOR_ACCOUNT);
    assert_eq!(
        proxy.emulator.assertions_accepted(),
        0,
        "nothing was forwarded"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logged_out_answers_401_without_forwarding() {
    let emulator = Emulator::start().await.expect("the emulator starts");
    let upstream = emulator_url(&emulator);
    let proxy = Running::launch(Launch::new(emulator, upstream).logged_out(), |builder| {
        builder
    })
    .await;
    let (status, body) = proxy.get_json("/echo").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "not_logged_in", "{body}");
    assert!(
        body["fix"]
            .as_str()
            .is_some_and(|fix| fix.contains("agent-identity login")),
        "{body}"
    );
    let anonymous = format!(
        "GET /_agent-identity/health HTTP/1.1\r\nhost: {}\r\nconnection: close\r\n\r\n",
        proxy.addr
    );
    let answer = exchange(proxy.addr, anonymous.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 503 "), "{answer}");
    assert_eq!(
        proxy.emulator.assertions_accepted() + proxy.emulator.assertions_rejected(),
        0
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_upstream_answers_502_and_keeps_the_identity() {
    let emulator = Emulator::start().await.expect("the emulator starts");
    let upstream = format!("http://{}", refusing_port());
    let proxy = Running::launch(Launch::new(emulator, upstream), |builder| builder).await;
    let (status, body) = proxy.get_json("/echo").await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"], "upstream_unavailable", "{body}");
    let (_, health) = proxy.get_json("/_agent-identity/health").await;
    assert_eq!(health["state"], "ready", "{health}");
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authapi_outage_during_recovery_passes_the_401_on_and_stays_ready() {
    let emulator = Emulator::start().await.expect("the emulator starts");
    let upstream = emulator_url(&emulator);
    let proxy = Running::launch(Launch::new(emulator, upstream).max_attempts(1), |builder| {
        builder
    })
    .await;
    let (_, health) = proxy.get_json("/_agent-identity/health").await;
    let task = health["task_id"].clone();
    assert!(task.is_string(), "{health}");
    proxy.emulator.revoke_tasks();
    proxy.emulator.fail_next_registrations(100, 503);
    let (status, body) = proxy.get_json("/echo").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body["error"], "task_not_issued",
        "the upstream's own 401 is passed on: {body}"
    );
    let (_, health) = proxy.get_json("/_agent-identity/health").await;
    assert_eq!(health["state"], "ready", "{health}");
    assert_eq!(health["task_id"], task);
    assert_eq!(
        health["last_error"]["error"], "authapi_unavailable",
        "{health}"
    );
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_clients_of_fifty_requests_are_all_accepted_with_one_registration() {
    const CLIENTS: usize = 64;
    const REQUESTS: usize = 50;
    let mut proxy = Running::to_emulator(|builder| builder).await;
    let registrations = proxy.emulator.registrations();
    let mut clients = tokio::task::JoinSet::new();
    for _ in 0..CLIENTS {
        let mut client = proxy.connect().await;
        clients.spawn(async move {
            for _ in 0..REQUESTS {
                let (status, body) = client.get("/echo").await;
                assert_eq!(status, StatusCode::OK, "{body:?}");
            }
            client.close().await;
        });
    }
    while let Some(result) = clients.join_next().await {
        result.expect("client");
    }
    let total = u64::try_from(CLIENTS * REQUESTS).expect("small");
    assert_eq!(proxy.emulator.assertions_accepted(), total);
    assert_eq!(proxy.emulator.registrations(), registrations);
    for _ in 0..CLIENTS * REQUESTS {
        assert_eq!(proxy.logged().await.status(), 200);
    }
    proxy.stop().await;
}

/// An upstream in front of the emulator's `/echo`: it holds the first `held` requests until
/// all of them have arrived (`arrived` fires) and the test says `release`, then relays each,
/// and every later one at once, to the emulator with its headers.
async fn holding_relay(
    emulator: &Emulator,
    held: usize,
) -> (String, oneshot::Receiver<()>, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let target = emulator.local_addr();
    let (arrived_tx, arrived) = oneshot::channel();
    let arrived_tx = Arc::new(std::sync::Mutex::new(Some(arrived_tx)));
    let (release, released) = watch::channel(false);
    let count = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (count, arrived_tx, released) = (
                Arc::clone(&count),
                Arc::clone(&arrived_tx),
                released.clone(),
            );
            let service = service_fn(move |request: Request<Incoming>| {
                let (count, arrived_tx, mut released) = (
                    Arc::clone(&count),
                    Arc::clone(&arrived_tx),
                    released.clone(),
                );
                async move {
                    let nth = count.fetch_add(1, Ordering::SeqCst) + 1;
                    if nth <= held {
                        if nth == held
                            && let Some(tx) = arrived_tx.lock().expect("lock").take()
                        {
                            let _ = tx.send(());
                        }
                        let _ = released.wait_for(|released| *released).await;
                    }
                    Ok::<_, Infallible>(relay(target, request).await)
                }
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    (url, arrived, release)
}

/// `request` sent on to `target` on a connection of its own, and the answer.
async fn relay(target: std::net::SocketAddr, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = body.collect().await.expect("the request body").to_bytes();
    let stream = TcpStream::connect(target).await.expect("the emulator");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let response = sender
        .send_request(Request::from_parts(parts, Full::new(body)))
        .await
        .expect("the emulator answers");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("the answer's body").to_bytes();
    Response::from_parts(parts, Full::new(body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_revoked_under_64_requests_in_flight_cost_one_recovery_and_every_request_succeeds() {
    const IN_FLIGHT: usize = 64;
    let emulator = Emulator::start().await.expect("the emulator starts");
    let (upstream, arrived, release) = holding_relay(&emulator, IN_FLIGHT).await;
    let mut proxy = Running::launch(Launch::new(emulator, upstream), |builder| builder).await;
    let registrations = proxy.emulator.registrations();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT {
        let mut client = proxy.connect().await;
        requests.spawn(async move {
            let answer = client.get("/echo").await;
            client.close().await;
            answer
        });
    }
    // All 64 are signed with the first task and held by the relay: the revocation lands while
    // every one of them is in flight.
    step("every request reaches the relay", arrived)
        .await
        .expect("the relay is running");
    proxy.emulator.revoke_tasks();
    release.send(true).expect("the relay is running");
    let mut tasks = HashMap::<String, usize>::new();
    while let Some(result) = requests.join_next().await {
        let (status, body) = result.expect("request");
        let body: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(status, StatusCode::OK, "{body}");
        *tasks
            .entry(body["task_id"].as_str().expect("task").to_owned())
            .or_default() += 1;
    }
    assert_eq!(proxy.emulator.registrations(), registrations + 1);
    assert_eq!(
        tasks.len(),
        1,
        "every replay used the one recovered task: {tasks:?}"
    );
    let mut recovered = 0;
    for _ in 0..IN_FLIGHT {
        if proxy.logged().await.recovered() {
            recovered += 1;
        }
    }
    assert_eq!(recovered, IN_FLIGHT);
    proxy.stop().await;
}

/// An upstream that answers one request with an event stream: its first event, then nothing
/// until `more` fires, then a second event and the end. A proxy that buffered the body would
/// hold the first event back until the end, which never comes before the test sees it.
async fn event_stream_upstream() -> (String, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (more, go_on) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut stream = BufReader::new(stream);
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.expect("read head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        let mut stream = stream.into_inner();
        let event = |data: &str| format!("{:x}\r\ndata: {data}\n\n\r\n", data.len() + 8);
        let head = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
        stream
            .write_all(format!("{head}{}", event("first")).as_bytes())
            .await
            .expect("the first event");
        let _ = go_on.await;
        let _ = stream
            .write_all(format!("{}0\r\n\r\n", event("last")).as_bytes())
            .await;
    });
    (url, more)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_reach_the_client_before_the_upstream_sends_the_last() {
    let emulator = Emulator::start().await.expect("the emulator starts");
    let (upstream, more) = event_stream_upstream().await;
    let proxy = Running::launch(Launch::new(emulator, upstream), |builder| builder).await;
    let mut stream = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    stream
        .write_all(proxy.head("/events", "connection: close\r\n").as_bytes())
        .await
        .expect("write");
    // The first event arrives while the upstream still holds the last back: an event, not a
    // clock, says it was streamed.
    let mut answer = Vec::new();
    let mut buffer = [0_u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("data: first\n\n") {
        let read = step("the first event", stream.read(&mut buffer))
            .await
            .expect("read");
        assert_ne!(
            read,
            0,
            "closed early: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8(answer.clone()).expect("utf-8");
    let (head, _) = text.split_once("\r\n\r\n").expect("a head");
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    assert!(!text.contains("data: last"), "{text}");
    more.send(()).expect("the upstream waits");
    step("the rest of the stream", stream.read_to_end(&mut answer))
        .await
        .expect("read");
    let text = String::from_utf8(answer).expect("utf-8");
    let (_, body) = text.split_once("\r\n\r\n").expect("a head");
    assert_eq!(
        crate::support::dechunked(body),
        "data: first\n\ndata: last\n\n"
    );
    proxy.stop().await;
}

/// This process's peak resident memory, from `/proc`. The suite runs under nextest, one test
/// per process, so the growth is this test's.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_100_mb_upload_arrives_intact_while_the_proxy_memory_stays_bounded() {
    const TOTAL: usize = 100 * 1024 * 1024;
    const CHUNK: usize = 256 * 1024;
    let proxy = Running::to_emulator(|builder| builder).await;
    let before = peak_rss_kib();
    let mut stream = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    let head = format!(
        "POST /echo HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\ncontent-length: {TOTAL}\r\nconnection: close\r\n\r\n",
        proxy.addr,
        proxy.token.expose_secret()
    );
    let (mut read, mut write) = stream.split();
    let upload = async {
        write.write_all(head.as_bytes()).await.expect("head");
        let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
        let mut chunk = vec![0_u8; CHUNK];
        for i in 0..TOTAL / CHUNK {
            chunk.fill(u8::try_from(i % 251).expect("small"));
            digest.update(&chunk);
            write.write_all(&chunk).await.expect("body");
        }
        digest.finish()
    };
    let answer = async {
        let mut answer = Vec::new();
        // A reset after the answer (the server closing while bytes are unread) still leaves it
        // in `answer`.
        let _ = read.read_to_end(&mut answer).await;
        answer
    };
    let (digest, answer) = step("the upload", async { tokio::join!(upload, answer) }).await;
    let answer = String::from_utf8(answer).expect("utf-8");
    let (status, body) = json_answer(&answer);
    assert_eq!(status, StatusCode::OK, "{answer}");
    let hex: String = digest
        .as_ref()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    assert_eq!(body["body_length"], TOTAL, "{answer}");
    assert_eq!(body["body_sha256"], hex);
    let growth = peak_rss_kib().saturating_sub(before);
    assert!(
        growth < 32 * 1024,
        "peak memory grew by {growth} KiB for a 100 MiB upload"
    );
    proxy.stop().await;
}

/// An upstream that accepts one upgrade: it answers `101` and then echoes what it reads. It
/// sends back the `Authorization` value it was dialled with.
async fn upgrading_upstream() -> (String, oneshot::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (dialled, authorization) = oneshot::channel();
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.expect("accept");
        let mut stream = BufReader::new(stream);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            stream.read_line(&mut line).await.expect("read head");
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push_str(&line);
        }
        let value = head
            .lines()
            .find_map(|line| line.strip_prefix("authorization: "))
            .unwrap_or_default()
            .to_owned();
        let _ = dialled.send(value);
        let mut stream = stream.into_inner();
        stream
            .write_all(b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n")
            .await
            .expect("101");
        let (mut read, mut write) = stream.split();
        let _ = tokio::io::copy(&mut read, &mut write).await;
    });
    (url, authorization)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgrade_passes_through_dialled_with_a_fresh_assertion() {
    let emulator = Emulator::start().await.expect("the emulator starts");
    let (upstream, authorization) = upgrading_upstream().await;
    let proxy = Running::launch(Launch::new(emulator, upstream), |builder| builder).await;
    let stream = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    let mut stream = BufReader::new(stream);
    let request = proxy.head("/socket", "connection: upgrade\r\nupgrade: websocket\r\n");
    stream
        .get_mut()
        .write_all(request.as_bytes())
        .await
        .expect("upgrade request");
    let mut status = String::new();
    step("the 101", stream.read_line(&mut status))
        .await
        .expect("read");
    assert!(status.starts_with("HTTP/1.1 101"), "{status}");
    loop {
        let mut line = String::new();
        stream.read_line(&mut line).await.expect("read head");
        if line == "\r\n" {
            break;
        }
    }
    let dialled = step("the upstream is dialled", authorization)
        .await
        .expect("the upstream was dialled");
    assert!(dialled.starts_with("AgentAssertion "), "{dialled:?}");
    // The upgraded connection carries bytes both ways.
    stream
        .get_mut()
        .write_all(b"ping over the upgrade")
        .await
        .expect("write");
    let mut echoed = [0u8; 21];
    step("the echo", stream.read_exact(&mut echoed))
        .await
        .expect("read echo");
    assert_eq!(&echoed, b"ping over the upgrade");
    drop(stream);
    proxy.stop().await;
}
