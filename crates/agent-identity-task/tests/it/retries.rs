//! The retry policy under paused tokio time: what is retried, how often, and how long it waits.

use std::time::{Duration, SystemTime};

use agent_identity_task::{MAX_RETRY_AFTER, TaskErrorKind};
use mockito::Server;
use tokio::time::Instant;

use crate::support::{VECTOR_PATH, builder, client, secs, vector_record};

#[tokio::test(start_paused = true)]
async fn two_503s_then_success_takes_exactly_three_requests() {
    let record = vector_record().await;
    let mut server = Server::new_async().await;
    let unavailable = server
        .mock("POST", VECTOR_PATH)
        .with_status(503)
        .expect(2)
        .create_async()
        .await;
    let ok = server
        .mock("POST", VECTOR_PATH)
        .with_body(r#"{"task_id":"after-retries"}"#)
        .expect(1)
        .create_async()
        .await;
    let task = client(&server.url()).register_task(&record).await;
    assert_eq!(
        task.ok().map(|t| t.into_string()),
        Some("after-retries".to_owned())
    );
    unavailable.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn a_401_is_not_retried() {
    let record = vector_record().await;
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", VECTOR_PATH)
        .with_status(401)
        .with_body(r#"{"error":"invalid signature"}"#)
        .expect(1)
        .create_async()
        .await;
    let error = client(&server.url())
        .register_task(&record)
        .await
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.status(), Some(401));
    assert_eq!(error.reason(), TaskErrorKind::Status(401));
    assert!(!error.is_transient());
    assert!(error.to_string().contains("invalid signature"), "{error}");
    mock.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn other_client_errors_are_not_retried() {
    let record = vector_record().await;
    for status in [400, 403, 404] {
        let mut server = Server::new_async().await;
        let mock = server
            .mock("POST", VECTOR_PATH)
            .with_status(status)
            .expect(1)
            .create_async()
            .await;
        let error = client(&server.url()).register_task(&record).await.err();
        assert_eq!(error.as_ref().and_then(|e| e.status()), Some(status as u16));
        assert_eq!(error.map(|e| e.is_transient()), Some(false));
        mock.assert_async().await;
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_on_429_is_honoured() {
    let record = vector_record().await;
    let mut server = Server::new_async().await;
    let limited = server
        .mock("POST", VECTOR_PATH)
        .with_status(429)
        .with_header("retry-after", "2")
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("POST", VECTOR_PATH)
        .with_body(r#"{"task_id":"patient"}"#)
        .expect(1)
        .create_async()
        .await;
    let started = Instant::now();
    let task = client(&server.url()).register_task(&record).await;
    let waited = started.elapsed();
    assert_eq!(
        task.ok().map(|t| t.into_string()),
        Some("patient".to_owned())
    );
    assert!(waited >= secs(2), "waited only {waited:?}");
    limited.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn attempts_are_bounded_and_the_last_error_is_returned() {
    let record = vector_record().await;
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", VECTOR_PATH)
        .with_status(500)
        .with_body("boom")
        .expect(4)
        .create_async()
        .await;
    let error = client(&server.url())
        .register_task(&record)
        .await
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.status(), Some(500));
    assert!(error.is_transient());
    mock.assert_async().await;

    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", VECTOR_PATH)
        .with_status(502)
        .expect(2)
        .create_async()
        .await;
    let error = builder(&server.url())
        .max_attempts(2)
        .build()
        .register_task(&record)
        .await
        .err();
    assert_eq!(error.and_then(|e| e.status()), Some(502));
    mock.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn backoff_grows_exponentially_within_its_caps() {
    let record = vector_record().await;
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", VECTOR_PATH)
        .with_status(503)
        .expect(4)
        .create_async()
        .await;
    let started = Instant::now();
    let _ = builder(&server.url())
        .initial_backoff(secs(1))
        .max_backoff(secs(2))
        .build()
        .register_task(&record)
        .await;
    // Full jitter waits at most 1 s, 2 s, then 2 s (capped) between the four attempts.
    assert!(started.elapsed() <= secs(5), "{:?}", started.elapsed());
    mock.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn no_retry_starts_after_the_total_deadline() {
    let record = vector_record().await;
    // Retry-After 4 s with a 10 s deadline: attempts at 0 s, 4 s and 8 s; the fourth would start at 12 s.
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", VECTOR_PATH)
        .with_status(503)
        .with_header("retry-after", "4")
        .expect(3)
        .create_async()
        .await;
    let started = Instant::now();
    let error = builder(&server.url())
        .max_attempts(10)
        .total_deadline(secs(10))
        .build()
        .register_task(&record)
        .await
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.status(), Some(503));
    assert_eq!(error.retry_after(), Some(secs(4)));
    assert!(
        started.elapsed() >= secs(8) && started.elapsed() < secs(10),
        "{:?}",
        started.elapsed()
    );
    mock.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_the_deadline_gives_up_at_once() {
    let record = vector_record().await;
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", VECTOR_PATH)
        .with_status(429)
        .with_header("retry-after", "3600")
        .expect(1)
        .create_async()
        .await;
    let started = Instant::now();
    let error = builder(&server.url())
        .total_deadline(secs(60))
        .build()
        .register_task(&record)
        .await
        .err();
    assert_eq!(error.and_then(|e| e.status()), Some(429));
    assert!(started.elapsed() < secs(1));
    mock.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_beyond_five_minutes_gives_up_at_once_even_without_a_deadline() {
    let record = vector_record().await;
    // Seconds just past the cap, an hour, and an HTTP-date a day ahead.
    let tomorrow = httpdate::fmt_http_date(SystemTime::now() + secs(24 * 3600));
    for retry_after in ["301".to_owned(), "3600".to_owned(), tomorrow] {
        let mut server = Server::new_async().await;
        let mock = server
            .mock("POST", VECTOR_PATH)
            .with_status(429)
            .with_header("retry-after", &retry_after)
            .expect(1)
            .create_async()
            .await;
        let started = Instant::now();
        // `builder` sets no total deadline: only the cap stands between the server and a stall.
        let error = builder(&server.url())
            .max_attempts(10)
            .build()
            .register_task(&record)
            .await
            .err()
            .unwrap_or_else(|| panic!("{retry_after}: must fail"));
        assert_eq!(error.status(), Some(429), "{retry_after}");
        assert!(
            error.retry_after() > Some(MAX_RETRY_AFTER),
            "{retry_after}: {error:?}"
        );
        assert!(
            started.elapsed() < secs(1),
            "{retry_after}: waited {:?}",
            started.elapsed()
        );
        mock.assert_async().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_of_exactly_five_minutes_is_honoured() {
    let record = vector_record().await;
    let mut server = Server::new_async().await;
    let limited = server
        .mock("POST", VECTOR_PATH)
        .with_status(503)
        .with_header("retry-after", "300")
        .expect(1)
        .create_async()
        .await;
    let ok = server
        .mock("POST", VECTOR_PATH)
        .with_body(r#"{"task_id":"after-five-minutes"}"#)
        .expect(1)
        .create_async()
        .await;
    let started = Instant::now();
    let task = client(&server.url()).register_task(&record).await;
    assert_eq!(
        task.ok().map(|t| t.into_string()),
        Some("after-five-minutes".to_owned())
    );
    assert_eq!(MAX_RETRY_AFTER, secs(300));
    assert!(
        started.elapsed() >= MAX_RETRY_AFTER,
        "{:?}",
        started.elapsed()
    );
    limited.assert_async().await;
    ok.assert_async().await;
}

#[tokio::test(start_paused = true)]
async fn connection_refused_is_a_transient_connect_error() {
    let record = vector_record().await;
    let address = crate::support::refusing_port();
    let error = builder(&format!("http://{address}"))
        .max_attempts(3)
        .build()
        .register_task(&record)
        .await
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.reason(), TaskErrorKind::Connect);
    assert!(error.is_transient());
    assert_eq!(error.status(), None);
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_is_a_transient_timeout() {
    let record = vector_record().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let error = builder(&format!("http://{address}"))
        .attempt_timeout(secs(30))
        .max_attempts(2)
        .build()
        .register_task(&record)
        .await
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.reason(), TaskErrorKind::Timeout);
    assert!(error.is_transient());
    assert!(
        started.elapsed() >= secs(60),
        "two 30 s attempts: {:?}",
        started.elapsed()
    );
    server.abort();
}

#[tokio::test(start_paused = true)]
async fn the_deadline_shortens_the_last_attempt() {
    let record = vector_record().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = Instant::now();
    let error = builder(&format!("http://{address}"))
        .attempt_timeout(secs(30))
        .total_deadline(secs(45))
        .initial_backoff(Duration::ZERO)
        .build()
        .register_task(&record)
        .await
        .err();
    assert_eq!(error.map(|e| e.reason()), Some(TaskErrorKind::Timeout));
    // 30 s, then the 15 s left; never a third attempt past 45 s.
    assert!(started.elapsed() <= secs(45), "{:?}", started.elapsed());
    server.abort();
}
