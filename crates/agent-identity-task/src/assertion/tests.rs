//! Unit tests for signing: envelope JSON escaping, runtime mismatch, and the companion headers.

use std::time::{Duration, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use super::*;

fn signer(runtime: &str) -> AgentSigner {
    AgentSigner::new(AgentKey::from_seed([7; 32]), runtime)
}

fn at() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_777_291_200)
}

fn envelope(header: &str) -> serde_json::Value {
    let encoded = header
        .strip_prefix("AgentAssertion ")
        .unwrap_or_else(|| panic!("no scheme in {header}"));
    let json = URL_SAFE_NO_PAD
        .decode(encoded)
        .unwrap_or_else(|e| panic!("not base64url: {e}"));
    serde_json::from_slice(&json).unwrap_or_else(|e| panic!("not json: {e}"))
}

#[test]
fn envelope_has_sorted_keys_and_the_signed_values() {
    let header = signer("agent-123")
        .authorization_header(&TaskId::new("task-123"), at())
        .unwrap_or_else(|e| panic!("{e}"));
    let value = envelope(&header);
    let keys: Vec<&str> = value
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        ["agent_runtime_id", "signature", "task_id", "timestamp"]
    );
    assert_eq!(value["timestamp"], "2026-04-27T12:00:00Z");
    assert!(!header.contains('='), "base64url without padding");
}

#[test]
fn a_different_runtime_id_is_a_mismatch() {
    let signer = signer("agent-123");
    let error = signer
        .authorization_header_for(&AgentRuntimeId::new("agent-999"), &TaskId::new("t"), at())
        .err()
        .unwrap_or_else(|| panic!("mismatch must fail"));
    assert_eq!(error.reason(), TaskErrorKind::RuntimeMismatch);
    assert_eq!(error.operation(), Operation::BuildAssertion);
    assert!(!error.is_transient());
    let same =
        signer.authorization_header_for(&AgentRuntimeId::new("agent-123"), &TaskId::new("t"), at());
    assert_eq!(
        same.ok(),
        signer.authorization_header(&TaskId::new("t"), at()).ok()
    );
}

#[test]
fn a_time_beyond_year_9999_is_refused() {
    let far = UNIX_EPOCH + Duration::from_secs(300_000_000_000);
    let error = signer("a")
        .authorization_header(&TaskId::new("t"), far)
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.reason(), TaskErrorKind::InvalidTimestamp);
    let error = signer("a")
        .registration_request(far)
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.reason(), TaskErrorKind::InvalidTimestamp);
}

#[test]
fn registration_body_has_exactly_two_keys() {
    let request = signer("agent-123")
        .registration_request(at())
        .unwrap_or_else(|e| panic!("{e}"));
    let body: serde_json::Value =
        serde_json::from_str(&request.to_json()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(body.as_object().map(serde_json::Map::len), Some(2));
    assert_eq!(body["timestamp"], "2026-04-27T12:00:00Z");
    assert_eq!(body["signature"], request.signature());
    assert_eq!(request.signature().len(), 88);
    assert!(!format!("{request:?}").contains(request.signature()));
}

#[test]
fn request_headers_iterate_in_order_with_fedramp_only_when_set() {
    let headers = RequestHeaders::new(
        "AgentAssertion abc".to_owned(),
        AccountId::new("acct"),
        false,
    );
    let pairs: Vec<_> = headers.iter().collect();
    assert_eq!(
        pairs,
        [
            ("Authorization", "AgentAssertion abc"),
            ("ChatGPT-Account-ID", "acct")
        ]
    );
    let fedramp = RequestHeaders::new(
        "AgentAssertion abc".to_owned(),
        AccountId::new("acct"),
        true,
    );
    assert_eq!(fedramp.iter().last(), Some(("X-OpenAI-Fedramp", "true")));
    assert!(!format!("{fedramp:?}").contains("abc"));
}

#[test]
fn header_map_has_lowercase_names_and_a_sensitive_assertion() {
    let headers = RequestHeaders::new(
        "AgentAssertion abc".to_owned(),
        AccountId::new("acct"),
        true,
    );
    let map = http::HeaderMap::try_from(&headers).expect("valid headers");
    let names: Vec<&str> = map.keys().map(http::HeaderName::as_str).collect();
    assert_eq!(
        names,
        ["authorization", "chatgpt-account-id", "x-openai-fedramp"]
    );
    let authorization = &map[http::header::AUTHORIZATION];
    assert!(authorization.is_sensitive());
    assert_eq!(authorization, "AgentAssertion abc");
    assert!(!map["chatgpt-account-id"].is_sensitive());
    assert!(
        !format!("{map:?}").contains("abc"),
        "http's Debug hides a sensitive value"
    );
    let plain = RequestHeaders::new(
        "AgentAssertion abc".to_owned(),
        AccountId::new("acct"),
        false,
    );
    assert!(
        !plain
            .to_header_map()
            .expect("valid")
            .contains_key("x-openai-fedramp")
    );
}

#[test]
fn an_account_id_with_a_control_character_is_not_a_header_value() {
    let headers = RequestHeaders::new(
        "AgentAssertion abc".to_owned(),
        AccountId::new("acct\nInjected: 1"),
        false,
    );
    let error = headers.to_header_map().expect_err("refused");
    assert_eq!(error.reason(), TaskErrorKind::InvalidHeaderValue);
    let mut map = http::HeaderMap::new();
    map.insert(
        http::header::AUTHORIZATION,
        "client".parse().expect("value"),
    );
    headers.insert_into(&mut map).expect_err("refused");
    assert_eq!(
        map[http::header::AUTHORIZATION],
        "client",
        "a refusal changes nothing"
    );
}

#[test]
fn a_key_that_cannot_sign_is_a_signing_error() {
    // PKCS#8 v2 whose embedded public key does not belong to the seed.
    let mut der = vec![
        0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
    ];
    der.extend_from_slice(&[0x04, 0x22, 0x04, 0x20]);
    der.extend_from_slice(&[7; 32]);
    der.extend_from_slice(&[0x81, 0x21, 0x00]);
    der.extend_from_slice(&[9; 32]);
    let key = AgentKey::from_pkcs8_der(&der).unwrap_or_else(|e| panic!("{e}"));
    let error = AgentSigner::new(key, "a")
        .authorization_header(&TaskId::new("t"), at())
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.reason(), TaskErrorKind::Signing);
}

proptest! {
    #[test]
    fn json_strings_are_escaped_as_serde_json_does(text in "\\PC*|[\\x00-\\x7f]{0,40}") {
        let mut ours = Vec::new();
        write_json_string(&mut ours, &text);
        let theirs = serde_json::to_vec(&text).unwrap_or_default();
        prop_assert_eq!(&ours, &theirs);
        prop_assert_eq!(escaped_len(&text), theirs.len());
    }

    #[test]
    fn envelope_round_trips_any_ids(runtime in "\\PC{1,30}", task in "[\\x00-\\x7f]{0,30}") {
        let header = signer(&runtime)
            .authorization_header(&TaskId::new(task.as_str()), at())
            .unwrap_or_else(|e| panic!("{e}"));
        let value = envelope(&header);
        prop_assert_eq!(value["agent_runtime_id"].as_str(), Some(runtime.as_str()));
        prop_assert_eq!(value["task_id"].as_str(), Some(task.as_str()));
    }
}

#[test]
fn insert_into_replaces_the_identity_headers_and_keeps_the_rest() {
    let mut map = http::HeaderMap::new();
    map.insert(
        http::header::AUTHORIZATION,
        "Bearer client".parse().expect("value"),
    );
    map.insert(FEDRAMP_HEADER_NAME, "true".parse().expect("value"));
    map.insert(http::header::ACCEPT, "*/*".parse().expect("value"));
    let headers = RequestHeaders::new(
        "AgentAssertion abc".to_owned(),
        AccountId::new("acct"),
        false,
    );
    headers.insert_into(&mut map).expect("valid");
    assert_eq!(map[http::header::AUTHORIZATION], "AgentAssertion abc");
    assert!(map[http::header::AUTHORIZATION].is_sensitive());
    assert_eq!(map[ACCOUNT_ID_HEADER_NAME], "acct");
    assert!(
        !map.contains_key(FEDRAMP_HEADER_NAME),
        "a client's FedRAMP claim is not kept"
    );
    assert_eq!(map[http::header::ACCEPT], "*/*");
    assert_eq!(map.len(), 3);
}

#[test]
fn header_values_are_the_texts_of_iter_in_its_order_and_refuse_an_unusable_account_id() {
    for fedramp in [false, true] {
        let headers = RequestHeaders::new(
            "AgentAssertion abc".to_owned(),
            AccountId::new("acct"),
            fedramp,
        );
        let values: Vec<(String, String)> = headers
            .header_values()
            .expect("valid")
            .map(|(name, value)| {
                let text = value.to_str().expect("ascii").to_owned();
                (name.as_str().to_owned(), text)
            })
            .collect();
        let texts: Vec<(String, String)> = headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
            .collect();
        assert_eq!(values, texts);
        assert_eq!(values.len(), if fedramp { 3 } else { 2 });
    }
    let control = RequestHeaders::new(
        "AgentAssertion abc".to_owned(),
        AccountId::new("ac\nct"),
        false,
    );
    let error = control.header_values().err().expect("refused");
    assert_eq!(error.reason(), TaskErrorKind::InvalidHeaderValue);
}
