//! Unit tests for the error type: the transient/permanent classification and the messages.

use super::*;

#[test]
fn transient_kinds_are_exactly_connect_timeout_transport_429_and_5xx() {
    let transient = [
        TaskErrorKind::Connect,
        TaskErrorKind::Timeout,
        TaskErrorKind::Transport,
        TaskErrorKind::Status(429),
        TaskErrorKind::Status(500),
        TaskErrorKind::Status(502),
        TaskErrorKind::Status(503),
        TaskErrorKind::Status(504),
        TaskErrorKind::Status(599),
    ];
    let permanent = [
        TaskErrorKind::Config,
        TaskErrorKind::InvalidRuntimeId,
        TaskErrorKind::Status(400),
        TaskErrorKind::Status(401),
        TaskErrorKind::Status(403),
        TaskErrorKind::Status(404),
        TaskErrorKind::Status(409),
        TaskErrorKind::Status(428),
        TaskErrorKind::Status(499),
        TaskErrorKind::Status(600),
        TaskErrorKind::Status(302),
        TaskErrorKind::BodyTooLarge,
        TaskErrorKind::MalformedResponse,
        TaskErrorKind::MissingTaskId,
        TaskErrorKind::BadBase64,
        TaskErrorKind::Undecryptable,
        TaskErrorKind::NotUtf8,
        TaskErrorKind::Signing,
        TaskErrorKind::InvalidKey,
        TaskErrorKind::RuntimeMismatch,
        TaskErrorKind::InvalidTimestamp,
    ];
    for kind in transient {
        assert!(kind.is_transient(), "{kind:?} should be transient");
        assert!(TaskError::new(Operation::Register, kind).is_transient());
    }
    for kind in permanent {
        assert!(!kind.is_transient(), "{kind:?} should be permanent");
        assert!(!TaskError::new(Operation::Register, kind).is_transient());
    }
}

#[test]
fn status_is_reported_only_for_status_errors() {
    assert_eq!(
        TaskError::new(Operation::Register, TaskErrorKind::Status(503)).status(),
        Some(503)
    );
    assert_eq!(
        TaskError::new(Operation::Register, TaskErrorKind::Timeout).status(),
        None
    );
}

#[test]
fn messages_are_lowercase_without_a_final_period() {
    let error = TaskError::new(Operation::Register, TaskErrorKind::Status(503))
        .with_detail("upstream down");
    assert_eq!(
        error.to_string(),
        "task registration failed: the authapi answered with status 503: upstream down"
    );
    for kind in [
        TaskErrorKind::Config,
        TaskErrorKind::Connect,
        TaskErrorKind::Timeout,
        TaskErrorKind::MissingTaskId,
        TaskErrorKind::RuntimeMismatch,
    ] {
        let text = TaskError::new(Operation::BuildAssertion, kind).to_string();
        assert_eq!(text, text.to_lowercase(), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
}

#[test]
fn the_source_is_chained() {
    use std::error::Error as _;
    let error =
        TaskError::new(Operation::Register, TaskErrorKind::Signing).with_source(std::fmt::Error);
    assert!(error.source().is_some());
    assert!(
        TaskError::new(Operation::Register, TaskErrorKind::Signing)
            .source()
            .is_none()
    );
}

#[test]
fn body_excerpt_is_truncated_to_200_characters_and_flattened() {
    let long = "é".repeat(500);
    let excerpt = body_excerpt(long.as_bytes()).unwrap_or_default();
    assert_eq!(excerpt.chars().count(), BODY_EXCERPT_CHARS + 1);
    assert!(excerpt.ends_with('…'));
    assert_eq!(
        body_excerpt(b"line one\nline two").as_deref(),
        Some("line one line two")
    );
    assert_eq!(body_excerpt(b"  \n "), None);
    assert_eq!(body_excerpt(b"short").as_deref(), Some("short"));
}

/// The first vector's registration signature: 88 characters of standard base64.
const SIGNATURE: &str =
    "qzRCNba9W8yRxSgi7T9yHJYqBk0PyCiOEm0RFqxVeP6hh1cFenUZQWp26NZX9p3pXy02Xq1OEvj+VYeYF44jAQ==";

#[test]
fn body_excerpt_redacts_an_echoed_signature() {
    let body = format!(
        r#"{{"error":"bad_request","echo":{{"timestamp":"2026-04-27T18:03:11Z","signature":"{SIGNATURE}"}}}}"#
    );
    let excerpt = body_excerpt(body.as_bytes()).unwrap_or_default();
    assert_eq!(
        excerpt,
        r#"{"error":"bad_request","echo":{"timestamp":"2026-04-27T18:03:11Z","signature":"<redacted>"}}"#
    );
}

#[test]
fn body_excerpt_redacts_runs_of_forty_base64_characters_and_keeps_shorter_ones() {
    let cases = [
        // Exactly at the threshold, in each alphabet.
        ("a".repeat(39), "a".repeat(39)),
        ("a".repeat(40), REDACTED.to_owned()),
        ("A1+/=".repeat(8), REDACTED.to_owned()),
        ("b2-_=".repeat(8), REDACTED.to_owned()),
        // A JWT: each long segment goes, the dots stay.
        (
            format!("{0}.{0}.{0}", "eyJhbGciOiJFZERTQSJ9eyJzdWIiOiJhZ2VudC0xIn0"),
            format!("{REDACTED}.{REDACTED}.{REDACTED}"),
        ),
        // Ordinary error text and identifiers are untouched.
        (
            "invalid signature for runtime agent-123 (request 123e4567-e89b-12d3-a456-426614174000)"
                .to_owned(),
            "invalid signature for runtime agent-123 (request 123e4567-e89b-12d3-a456-426614174000)"
                .to_owned(),
        ),
        // Runs at either end and next to non-ASCII text.
        (
            format!("{SIGNATURE} é {SIGNATURE}"),
            format!("{REDACTED} é {REDACTED}"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(
            body_excerpt(body.as_bytes()).as_deref(),
            Some(expected.as_str()),
            "{body}"
        );
    }
}

#[test]
fn body_excerpt_leaves_no_prefix_of_a_secret_cut_by_truncation() {
    // The signature starts 20 characters before the cut: truncating first would keep those 20.
    let body = format!("{}{SIGNATURE}", "x ".repeat((BODY_EXCERPT_CHARS - 20) / 2));
    let excerpt = body_excerpt(body.as_bytes()).unwrap_or_default();
    assert!(!excerpt.contains(&SIGNATURE[..12]), "{excerpt}");
    assert!(excerpt.ends_with(REDACTED), "{excerpt}");
}
