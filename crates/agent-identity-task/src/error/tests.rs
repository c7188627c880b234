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
