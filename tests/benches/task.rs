//! Task-client benchmarks: building the `AgentAssertion` header against the raw Ed25519 signature
//! it wraps, and against the reference client's approach of decoding the key on every call.

use std::error::Error;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_identity_jwt::{IdentityJwt, insecure_decode_unverified};
use agent_identity_task::{TaskId, authorization_header};
use agent_identity_tests::bench::{measure_pair, report};
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// 1.15: issue 3's target for the whole header against the bare signature inside it.
const HEADER_TARGET: f64 = 1.15;
/// 1.0: ours must at least not be slower than re-decoding the key per call (the reference is about 2×).
const REFERENCE_TARGET: f64 = 1.0;

fn main() -> Result<(), Box<dyn Error>> {
    let vectors: Value = serde_json::from_str(&std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-data/agent-identity-vectors.json"
    ))?)?;
    let vector = &vectors["ed25519"][0];
    let key_b64 = vector["private_key_pkcs8_base64"].as_str().ok_or("key")?;
    let record = insecure_decode_unverified(&IdentityJwt::new(mint(&vectors)?))?;
    let task_id = TaskId::new(vector["task_id"].as_str().ok_or("task_id")?);
    let at = UNIX_EPOCH + Duration::from_secs(1_777_291_200); // the vector's 2026-04-27T12:00:00Z

    // The header must be the vector's, byte for byte, or the bench measures the wrong thing.
    let header = authorization_header(&record, &task_id, at)?;
    if header != vector["authorization_header"].as_str().ok_or("header")? {
        return Err("authorization_header does not match the vector".into());
    }

    let payload = vector["assertion_payload"]
        .as_str()
        .ok_or("payload")?
        .as_bytes()
        .to_vec();
    let der = STANDARD.decode(key_b64)?;
    let raw = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| "vector key")?;
    let _ = raw.public_key();

    let (ours, baseline) = measure_pair(
        "assertion_header",
        || authorization_header(&record, &task_id, at),
        || raw.sign(&payload),
    );
    report(
        "assertion_header",
        &ours,
        "aws_lc_rs::Ed25519KeyPair::sign",
        &baseline,
        HEADER_TARGET,
    );

    let runtime = vector["agent_runtime_id"].as_str().ok_or("runtime")?;
    let (ours, reference) = measure_pair(
        "assertion_header_vs_reference",
        || authorization_header(&record, &task_id, at),
        || reference_header(key_b64, runtime, task_id.as_str(), "2026-04-27T12:00:00Z"),
    );
    report(
        "assertion_header_vs_reference",
        &ours,
        "reference: decode key per call",
        &reference,
        REFERENCE_TARGET,
    );
    Ok(())
}

/// The reference client's shape: base64- and PKCS#8-decode the key for every header.
fn reference_header(
    key_b64: &str,
    runtime: &str,
    task: &str,
    timestamp: &str,
) -> Result<String, Box<dyn Error>> {
    let der = STANDARD.decode(key_b64)?;
    let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| "key")?;
    let signature = pair.sign(format!("{runtime}:{task}:{timestamp}").as_bytes());
    let envelope = json!({
        "agent_runtime_id": runtime,
        "signature": STANDARD.encode(signature.as_ref()),
        "task_id": task,
        "timestamp": timestamp,
    });
    Ok(format!(
        "AgentAssertion {}",
        URL_SAFE_NO_PAD.encode(envelope.to_string())
    ))
}

/// A token carrying the vector's key; the bench decodes it unverified, as only its record matters.
fn mint(vectors: &Value) -> Result<String, Box<dyn Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = json!({
        "iss": vectors["jwt"]["issuer"], "aud": vectors["jwt"]["audience"],
        "iat": now, "exp": now + 3600,
        "agent_runtime_id": vectors["ed25519"][0]["agent_runtime_id"],
        "agent_private_key": vectors["ed25519"][0]["private_key_pkcs8_base64"],
        "account_id": "account-1", "chatgpt_user_id": "user-1",
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("shared-key-1".to_owned());
    let pem = vectors["jwt"]["rsa_private_key_pem_for_minting"]
        .as_str()
        .ok_or("pem")?;
    Ok(jsonwebtoken::encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes())?,
    )?)
}
