//! The server's limits: the header size, the number of connections, the header-read timeout.
//!
//! At `max_connections` the proxy stops accepting: a further client completes its TCP handshake
//! (the kernel queues it in the listen backlog) and is served as soon as a connection closes.

use std::time::{Duration, Instant};

use hyper::StatusCode;
use tokio::io::AsyncWriteExt as _;
use tokio::net::TcpStream;

use crate::support::{
    Running, Upstream, nothing_received_yet, read_until_closed, step, write_ignoring_close,
};

/// A request with one `x-filler` header of `filler` bytes, its headers complete, asking the
/// proxy to close the connection after answering.
fn with_filler(proxy: &Running, filler: usize) -> String {
    proxy.head(
        "/big",
        &format!("x-filler: {}\r\nconnection: close\r\n", "a".repeat(filler)),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_over_the_limit_get_431_the_connection_closes_and_others_are_served() {
    let upstream = Upstream::start().await;
    let mut proxy = Running::start(&upstream, |builder| builder.max_header_bytes(16 * 1024)).await;

    // Under the limit: forwarded.
    let mut under = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    under
        .write_all(with_filler(&proxy, 12 * 1024).as_bytes())
        .await
        .expect("write");
    let answer = String::from_utf8(read_until_closed(&mut under).await).expect("utf-8");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(upstream.received(), 1);
    assert_eq!(proxy.logged().await.status(), 200);

    // Over it: 431 from the server itself, then the connection is closed.
    let mut over = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    write_ignoring_close(&mut over, with_filler(&proxy, 20 * 1024).as_bytes()).await;
    let answer = String::from_utf8(read_until_closed(&mut over).await).expect("utf-8");
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer:?}"
    );
    assert_eq!(
        upstream.received(),
        1,
        "the large request was not forwarded"
    );

    // The proxy goes on serving.
    let mut client = proxy.connect().await;
    let (status, body) = client.get("/after").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(&body[..], b"ok");
    assert_eq!(upstream.received(), 2);
    let record = proxy.logged().await;
    assert_eq!((record.path(), record.status()), ("/after", 200));
    client.close().await;
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_client_beyond_max_connections_waits_until_one_closes_then_is_served() {
    let upstream = Upstream::start().await;
    let mut proxy = Running::start(&upstream, |builder| {
        builder
            .max_connections(2)
            // Idle connections must keep their place for the whole test.
            .header_read_timeout(Duration::from_secs(600))
    })
    .await;
    let mut first = proxy.connect().await;
    let mut second = proxy.connect().await;
    assert_eq!(first.get("/one").await.0, StatusCode::OK);
    assert_eq!(second.get("/two").await.0, StatusCode::OK);

    // The third connects (the kernel completes the handshake) and sends a whole request...
    let mut third = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("the third connects: it waits in the backlog");
    third
        .write_all(proxy.head("/three", "connection: close\r\n").as_bytes())
        .await
        .expect("write");
    // ...while the two connections the proxy serves go on being served, and it is not.
    assert_eq!(first.get("/one-again").await.0, StatusCode::OK);
    assert_eq!(second.get("/two-again").await.0, StatusCode::OK);
    assert!(nothing_received_yet(&third), "the third was not served");
    assert_eq!(upstream.received(), 4);

    // One of the two closes: the third is accepted and served.
    first.close().await;
    let answer = String::from_utf8(read_until_closed(&mut third).await).expect("utf-8");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(upstream.received(), 5);
    let paths: Vec<String> = {
        let mut paths = Vec::new();
        for _ in 0..5 {
            paths.push(proxy.logged().await.path().to_owned());
        }
        paths
    };
    assert_eq!(
        paths.last().map(String::as_str),
        Some("/three"),
        "{paths:?}"
    );
    second.close().await;
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_keep_alive_connection_gives_its_place_up_after_the_header_read_timeout() {
    let upstream = Upstream::start().await;
    let timeout = Duration::from_millis(300);
    let proxy = Running::start(&upstream, |builder| {
        builder.max_connections(1).header_read_timeout(timeout)
    })
    .await;
    // Taken before the first request is sent: the proxy can only start timing the idle
    // connection once it has that request, so however the machine schedules the two sides,
    // the close cannot come less than `timeout` after this instant (load only makes it later).
    let before_first_request = Instant::now();
    let mut idle = proxy.connect().await;
    assert_eq!(idle.get("/first").await.0, StatusCode::OK);
    let mut waiting = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    waiting
        .write_all(proxy.head("/waiting", "connection: close\r\n").as_bytes())
        .await
        .expect("write");
    // The idle connection sends nothing more: the proxy closes it after the timeout, which
    // bounds how long a queued client waits behind idle keep-alive connections.
    idle.closed_by_the_proxy().await;
    assert!(
        before_first_request.elapsed() >= timeout,
        "closed before the timeout"
    );
    let answer = String::from_utf8(read_until_closed(&mut waiting).await).expect("utf-8");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(upstream.received(), 2);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_connection_keeps_its_place_until_it_closes() {
    use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, BufReader};

    let upstream = Upstream::start().await;
    let proxy = Running::start(&upstream, |builder| {
        builder
            .max_connections(1)
            .header_read_timeout(Duration::from_secs(600))
    })
    .await;
    let stream = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    let mut upgraded = BufReader::new(stream);
    upgraded
        .get_mut()
        .write_all(
            proxy
                .head("/socket", "connection: upgrade\r\nupgrade: echo\r\n")
                .as_bytes(),
        )
        .await
        .expect("write");
    let mut status = String::new();
    step("the 101", upgraded.read_line(&mut status))
        .await
        .expect("read");
    assert!(status.starts_with("HTTP/1.1 101 "), "{status}");
    loop {
        let mut line = String::new();
        step("the 101's headers", upgraded.read_line(&mut line))
            .await
            .expect("read");
        if line == "\r\n" {
            break;
        }
    }
    let mut echoed = [0_u8; 5];
    upgraded.get_mut().write_all(b"hello").await.expect("write");
    step("the echo", upgraded.read_exact(&mut echoed))
        .await
        .expect("echo");
    assert_eq!(&echoed, b"hello");

    // The upgraded stream is a connection: the next client waits.
    let mut waiting = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    waiting
        .write_all(proxy.head("/waiting", "connection: close\r\n").as_bytes())
        .await
        .expect("write");
    upgraded.get_mut().write_all(b"again").await.expect("write");
    step("the echo", upgraded.read_exact(&mut echoed))
        .await
        .expect("echo");
    assert_eq!(&echoed, b"again");
    assert!(
        nothing_received_yet(&waiting),
        "the waiting client was not served"
    );
    assert_eq!(upstream.received(), 1);

    // The upgraded stream closes: its place goes to the waiting client.
    upgraded.get_mut().shutdown().await.expect("shutdown");
    let rest = read_until_closed(upgraded.get_mut()).await;
    assert!(rest.is_empty(), "{rest:?}");
    drop(upgraded);
    let answer = String::from_utf8(read_until_closed(&mut waiting).await).expect("utf-8");
    assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    assert_eq!(upstream.received(), 2);
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_half_its_headers_is_disconnected_after_the_timeout() {
    let upstream = Upstream::start().await;
    let timeout = Duration::from_millis(300);
    let mut proxy = Running::start(&upstream, |builder| builder.header_read_timeout(timeout)).await;
    // Taken before the connection exists: the proxy's header-read timer starts only once it
    // has accepted the connection, so the close cannot come less than `timeout` after this
    // instant, whatever the scheduler does (load only makes it later). Taken after `connect`
    // returned, as it once was, a loaded machine could accept and start the timer first.
    let before_connect = Instant::now();
    let mut slow = step("connect", TcpStream::connect(proxy.addr))
        .await
        .expect("connect");
    let head = proxy.head("/slow", "");
    let half = &head.as_bytes()[..head.len() / 2];
    slow.write_all(half).await.expect("write");

    // Meanwhile another client is served.
    let mut client = proxy.connect().await;
    assert_eq!(client.get("/other").await.0, StatusCode::OK);
    assert_eq!(proxy.logged().await.path(), "/other");

    // The slow one is closed without an answer, no sooner than the timeout.
    let answer = read_until_closed(&mut slow).await;
    assert!(
        before_connect.elapsed() >= timeout,
        "closed before the timeout"
    );
    assert!(answer.is_empty(), "{:?}", String::from_utf8_lossy(&answer));
    assert_eq!(
        upstream.received(),
        1,
        "the slow request was never forwarded"
    );
    client.close().await;
    proxy.stop().await;
}
