//! Unit tests for the verifiers: check order, malformed input, and that nothing panics.

use std::time::UNIX_EPOCH;

use agent_identity_jwt::AgentKey;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use super::*;
use crate::assertion::AgentSigner;

const NOW: u64 = 1_777_291_200;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn key() -> AgentKey {
    AgentKey::from_seed([3; 32])
}

fn public() -> [u8; 32] {
    key().public_key().unwrap_or_else(|e| panic!("{e}"))
}

fn lookup() -> impl AssertionLookup {
    (
        |runtime: &str| (runtime == "rt").then(public),
        |runtime: &str, task: &str| runtime == "rt" && task == "task",
    )
}

fn header(runtime: &str, task: &str, at: SystemTime) -> String {
    AgentSigner::new(key(), runtime)
        .authorization_header(&TaskId::new(task), at)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn verify(header: &str) -> Result<VerifiedAssertion, AssertionError> {
    verify_assertion(header, &lookup(), now(), DEFAULT_SKEW)
}

fn forged(json: &str) -> String {
    format!("AgentAssertion {}", URL_SAFE_NO_PAD.encode(json))
}

#[test]
fn a_fresh_assertion_verifies() {
    let verified = verify(&header("rt", "task", now())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(verified.runtime_id().as_str(), "rt");
    assert_eq!(verified.task_id().as_str(), "task");
    assert_eq!(verified.timestamp().unix_seconds(), NOW as i64);
}

#[test]
fn the_skew_window_is_inclusive_and_symmetric() {
    let edge = Duration::from_secs(300);
    assert!(verify(&header("rt", "task", now() - edge)).is_ok());
    assert!(verify(&header("rt", "task", now() + edge)).is_ok());
    let past = now() - edge - Duration::from_secs(1);
    let future = now() + edge + Duration::from_secs(1);
    assert_eq!(
        verify(&header("rt", "task", past)),
        Err(AssertionError::Stale)
    );
    assert_eq!(
        verify(&header("rt", "task", future)),
        Err(AssertionError::Stale)
    );
    let tight = verify_assertion(
        &header("rt", "task", now() - Duration::from_secs(2)),
        &lookup(),
        now(),
        Duration::from_secs(1),
    );
    assert_eq!(tight, Err(AssertionError::Stale));
}

#[test]
fn each_refusal_has_its_own_error() {
    assert_eq!(
        verify(&header("other", "task", now())),
        Err(AssertionError::UnknownRuntime)
    );
    assert_eq!(
        verify(&header("rt", "not-issued", now())),
        Err(AssertionError::TaskNotIssued)
    );
    let someone_else = AgentSigner::new(AgentKey::from_seed([4; 32]), "rt")
        .authorization_header(&TaskId::new("task"), now())
        .unwrap_or_default();
    assert_eq!(verify(&someone_else), Err(AssertionError::BadSignature));
}

#[test]
fn the_signature_is_checked_before_task_and_time() {
    let stale_forgery = AgentSigner::new(AgentKey::from_seed([4; 32]), "rt")
        .authorization_header(&TaskId::new("not-issued"), UNIX_EPOCH)
        .unwrap_or_default();
    assert_eq!(verify(&stale_forgery), Err(AssertionError::BadSignature));
}

#[test]
fn malformed_headers_are_malformed() {
    let signature = "A".repeat(86) + "==";
    let good_fields = format!(
        r#""agent_runtime_id":"rt","signature":"{signature}","task_id":"task","timestamp":"2026-04-27T12:00:00Z""#
    );
    let cases = [
        String::new(),
        "AgentAssertion".to_owned(),
        "Bearer abc".to_owned(),
        "AgentAssertion !!!".to_owned(),
        forged("not json"),
        forged("{}"),
        forged(&format!("{{{good_fields},\"extra\":1}}")),
        forged(
            r#"{"agent_runtime_id":"rt","signature":"abc","task_id":"task","timestamp":"2026-04-27T12:00:00Z"}"#,
        ),
        forged(&format!(
            r#"{{"agent_runtime_id":"rt","signature":"{signature}","task_id":"task","timestamp":"2026-04-27T12:00:00.000Z"}}"#
        )),
        forged(&format!(
            r#"{{"agent_runtime_id":1,"signature":"{signature}","task_id":"task","timestamp":"2026-04-27T12:00:00Z"}}"#
        )),
        format!("AgentAssertion {}", "A".repeat(MAX_ASSERTION_HEADER_BYTES)),
    ];
    for case in cases {
        assert!(
            matches!(verify(&case), Err(AssertionError::Malformed(_))),
            "{case:?}"
        );
    }
    // The well-formed envelope with a zero signature gets past parsing.
    assert_eq!(
        verify(&forged(&format!("{{{good_fields}}}"))),
        Err(AssertionError::BadSignature)
    );
}

#[test]
fn scheme_is_case_insensitive_and_padding_tolerated() {
    let good = header("rt", "task", now());
    let encoded = good.trim_start_matches("AgentAssertion ");
    assert!(verify(&format!("agentassertion {encoded}")).is_ok());
    let padding = "=".repeat((4 - encoded.len() % 4) % 4);
    assert!(verify(&format!("AgentAssertion {encoded}{padding}")).is_ok());
}

#[test]
fn registration_requests_verify() {
    let request = AgentSigner::new(key(), "rt")
        .registration_request(now())
        .unwrap_or_else(|e| panic!("{e}"));
    let body = request.to_json();
    let check = |runtime: &str, body: &str, at: SystemTime| {
        verify_registration_request(runtime, body.as_bytes(), &public(), at, DEFAULT_SKEW)
    };
    assert_eq!(check("rt", &body, now()), Ok(request.timestamp()));
    assert_eq!(
        check("other", &body, now()),
        Err(AssertionError::BadSignature)
    );
    assert_eq!(
        check("rt", &body, now() + Duration::from_secs(301)),
        Err(AssertionError::Stale)
    );
    assert!(matches!(
        check("rt", "{}", now()),
        Err(AssertionError::Malformed(_))
    ));
    let extra = body.replacen('{', "{\"x\":1,", 1);
    assert!(matches!(
        check("rt", &extra, now()),
        Err(AssertionError::Malformed(_))
    ));
}

#[test]
fn assertion_error_kinds_are_distinct_snake_case_names() {
    let errors = [
        AssertionError::Malformed("x"),
        AssertionError::UnknownRuntime,
        AssertionError::BadSignature,
        AssertionError::TaskNotIssued,
        AssertionError::Stale,
    ];
    let kinds: Vec<&str> = errors.iter().map(AssertionError::kind).collect();
    assert_eq!(
        kinds,
        [
            "malformed",
            "unknown_runtime",
            "bad_signature",
            "task_not_issued",
            "stale"
        ]
    );
}

proptest! {
    #[test]
    fn verify_assertion_never_panics_on_arbitrary_strings(text in "\\PC*") {
        let _ = verify(&text);
        let _ = verify(&format!("AgentAssertion {text}"));
    }

    #[test]
    fn verify_assertion_never_panics_on_arbitrary_envelopes(
        runtime in "\\PC{0,20}", signature in "[A-Za-z0-9+/=]{0,100}", task in "\\PC{0,20}", timestamp in "\\PC{0,25}",
    ) {
        let json = serde_json::json!({
            "agent_runtime_id": runtime, "signature": signature, "task_id": task, "timestamp": timestamp,
        });
        prop_assert!(verify(&forged(&json.to_string())).is_err());
    }

    #[test]
    fn verify_registration_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = verify_registration_request("rt", &body, &public(), now(), DEFAULT_SKEW);
    }
}
