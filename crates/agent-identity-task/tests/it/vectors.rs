//! Every `ed25519[]` entry of the shared vectors, byte for byte (wire-format §3, §5, §7).

use agent_identity_jwt::{AgentKey, AgentRuntimeId};
use agent_identity_task::{
    AgentSigner, AssertionError, DEFAULT_SKEW, TaskId, Timestamp, authorization_header,
    open_task_id, request_headers, verify_assertion, verify_registration_request,
};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::support::{Ed25519Vector, Identity, record, vectors};

fn key(vector: &Ed25519Vector) -> AgentKey {
    AgentKey::from_pkcs8_base64(&vector.private_key_pkcs8_base64)
        .unwrap_or_else(|e| panic!("vector key: {e}"))
}

fn public_key(vector: &Ed25519Vector) -> [u8; 32] {
    let bytes = STANDARD
        .decode(&vector.public_key_raw_base64)
        .unwrap_or_else(|e| panic!("vector public key: {e}"));
    bytes
        .try_into()
        .unwrap_or_else(|_| panic!("public key is 32 bytes"))
}

fn at(vector: &Ed25519Vector) -> Timestamp {
    Timestamp::parse(&vector.timestamp).unwrap_or_else(|| panic!("vector timestamp"))
}

/// A lookup that knows only the vector's runtime, its key, and its task.
fn lookup(vector: &Ed25519Vector) -> impl agent_identity_task::AssertionLookup + '_ {
    let public = public_key(vector);
    (
        move |runtime: &str| (runtime == vector.agent_runtime_id).then_some(public),
        move |runtime: &str, task: &str| {
            runtime == vector.agent_runtime_id && task == vector.task_id
        },
    )
}

#[test]
fn vectors_are_present() {
    assert!(!vectors().ed25519.is_empty());
}

#[test]
fn public_keys_match_the_vectors() {
    for vector in &vectors().ed25519 {
        assert_eq!(key(vector).public_key().ok(), Some(public_key(vector)));
    }
}

#[test]
fn registration_signature_and_body_are_byte_exact() {
    for vector in &vectors().ed25519 {
        assert_eq!(
            vector.registration_payload,
            format!("{}:{}", vector.agent_runtime_id, vector.timestamp)
        );
        let signer = AgentSigner::new(key(vector), vector.agent_runtime_id.as_str());
        let request = signer
            .registration_request(at(vector).to_system_time())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(request.signature(), vector.registration_signature_base64);
        assert_eq!(request.timestamp().to_string(), vector.timestamp);
        let body: serde_json::Value =
            serde_json::from_str(&request.to_json()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body, vector.registration_request_body);
        // Compact, in the vectors' key order.
        assert_eq!(
            request.to_json(),
            format!(
                r#"{{"timestamp":"{}","signature":"{}"}}"#,
                vector.timestamp, vector.registration_signature_base64
            )
        );
    }
}

#[test]
fn authorization_header_is_byte_exact() {
    for vector in &vectors().ed25519 {
        assert_eq!(
            vector.assertion_payload,
            format!(
                "{}:{}:{}",
                vector.agent_runtime_id, vector.task_id, vector.timestamp
            )
        );
        let signer = AgentSigner::new(key(vector), vector.agent_runtime_id.as_str());
        let header = signer
            .authorization_header(
                &TaskId::new(vector.task_id.as_str()),
                at(vector).to_system_time(),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header, vector.authorization_header);
        let encoded = header.strip_prefix("AgentAssertion ").unwrap_or_default();
        let envelope = URL_SAFE_NO_PAD.decode(encoded).unwrap_or_default();
        assert_eq!(
            String::from_utf8_lossy(&envelope),
            vector.assertion_envelope_json
        );
        let parsed: serde_json::Value =
            serde_json::from_slice(&envelope).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(parsed["signature"], vector.assertion_signature_base64);
    }
}

#[tokio::test]
async fn headers_from_a_verified_record_are_byte_exact() {
    for vector in &vectors().ed25519 {
        let (record, _) = record(&Identity::for_vector(vector)).await;
        let task = TaskId::new(vector.task_id.as_str());
        let when = at(vector).to_system_time();
        let header = authorization_header(&record, &task, when).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(header, vector.authorization_header);
        let headers = request_headers(&record, &task, when).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(headers.authorization(), vector.authorization_header);
        assert_eq!(
            agent_identity_task::authorization_header_for(
                &record,
                &AgentRuntimeId::new(vector.agent_runtime_id.as_str()),
                &task,
                when
            )
            .ok(),
            Some(header)
        );
    }
}

#[test]
fn sealed_task_ids_open_to_the_task_id() {
    for vector in &vectors().ed25519 {
        let opened = open_task_id(&key(vector), &vector.encrypted_task_id_base64)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.as_str(), vector.task_id);
    }
}

#[test]
fn verify_assertion_accepts_the_vector_header() {
    for vector in &vectors().ed25519 {
        let verified = verify_assertion(
            &vector.authorization_header,
            &lookup(vector),
            at(vector).to_system_time(),
            DEFAULT_SKEW,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(verified.runtime_id().as_str(), vector.agent_runtime_id);
        assert_eq!(verified.task_id().as_str(), vector.task_id);
        assert_eq!(verified.timestamp(), at(vector));
    }
}

#[test]
fn verify_assertion_rejects_the_vector_header_with_any_one_field_changed() {
    for vector in &vectors().ed25519 {
        let envelope: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&vector.assertion_envelope_json).unwrap_or_else(|e| panic!("{e}"));
        // A signature that is well-formed but not the vector's: the other vector's, or a flipped byte.
        let mut signature = STANDARD
            .decode(&vector.assertion_signature_base64)
            .unwrap_or_default();
        signature[0] ^= 1;
        let changes = [
            (
                "agent_runtime_id",
                format!("{}x", vector.agent_runtime_id),
                AssertionError::UnknownRuntime,
            ),
            (
                "task_id",
                format!("{}x", vector.task_id),
                AssertionError::BadSignature,
            ),
            (
                "timestamp",
                "2026-04-27T12:00:01Z".to_owned(),
                AssertionError::BadSignature,
            ),
            (
                "signature",
                STANDARD.encode(&signature),
                AssertionError::BadSignature,
            ),
        ];
        for (field, value, expected) in changes {
            let mut changed = envelope.clone();
            changed.insert(field.to_owned(), serde_json::Value::String(value));
            let header = format!(
                "AgentAssertion {}",
                URL_SAFE_NO_PAD.encode(serde_json::Value::Object(changed).to_string())
            );
            let result = verify_assertion(
                &header,
                &lookup(vector),
                at(vector).to_system_time(),
                DEFAULT_SKEW,
            );
            assert_eq!(result.err(), Some(expected), "changed {field}");
        }
    }
}

#[test]
fn verify_assertion_refuses_the_vector_header_outside_its_window_or_task() {
    for vector in &vectors().ed25519 {
        let later = at(vector).to_system_time() + DEFAULT_SKEW + std::time::Duration::from_secs(1);
        assert_eq!(
            verify_assertion(
                &vector.authorization_header,
                &lookup(vector),
                later,
                DEFAULT_SKEW
            )
            .err(),
            Some(AssertionError::Stale)
        );
        let public = public_key(vector);
        let no_tasks = (move |_: &str| Some(public), |_: &str, _: &str| false);
        assert_eq!(
            verify_assertion(
                &vector.authorization_header,
                &no_tasks,
                at(vector).to_system_time(),
                DEFAULT_SKEW
            )
            .err(),
            Some(AssertionError::TaskNotIssued)
        );
    }
}

#[test]
fn verify_registration_request_accepts_the_vector_body() {
    for vector in &vectors().ed25519 {
        let body = vector.registration_request_body.to_string();
        let verified = verify_registration_request(
            &vector.agent_runtime_id,
            body.as_bytes(),
            &public_key(vector),
            at(vector).to_system_time(),
            DEFAULT_SKEW,
        );
        assert_eq!(verified, Ok(at(vector)));
    }
}
