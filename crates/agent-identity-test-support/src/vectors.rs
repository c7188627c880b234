//! The shared vectors file, parsed once into types (its format is described in
//! docs/wire-format.md, "Test vectors").

use std::sync::OnceLock;

use serde::Deserialize;
use serde_json::Value;

/// The one copy of the vectors, embedded so that tests need no path at run time.
const VECTORS_JSON: &str = include_str!("../../../test-data/agent-identity-vectors.json");

/// The whole vectors file.
#[derive(Debug, Deserialize)]
#[non_exhaustive]
pub struct Vectors {
    /// Agent keys with their registration and assertion bytes (wire-format §3, §5, §7).
    pub ed25519: Vec<Ed25519Vector>,
    /// The identity-token vectors (wire-format §1).
    pub jwt: JwtVectors,
}

/// One agent key and everything derived from it at a fixed time.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct Ed25519Vector {
    /// The key as the token's `agent_private_key` claim carries it.
    pub private_key_pkcs8_base64: String,
    /// The 32-byte public key, base64.
    pub public_key_raw_base64: String,
    /// The runtime the key was registered as.
    pub agent_runtime_id: String,
    /// The RFC 3339 time every signature below was made at.
    pub timestamp: String,
    /// The task id the registration answered with.
    pub task_id: String,
    /// `runtime:timestamp`, the signed registration bytes.
    pub registration_payload: String,
    /// The registration signature, base64.
    pub registration_signature_base64: String,
    /// The registration request body, as JSON.
    pub registration_request_body: Value,
    /// The signed assertion bytes.
    pub assertion_payload: String,
    /// The assertion signature, base64.
    pub assertion_signature_base64: String,
    /// The assertion envelope before base64url.
    pub assertion_envelope_json: String,
    /// The whole `Authorization` header value.
    pub authorization_header: String,
    /// The task id sealed to this key, base64.
    pub encrypted_task_id_base64: String,
}

/// The identity-token vectors.
#[derive(Debug, Deserialize)]
#[non_exhaustive]
pub struct JwtVectors {
    /// The JWK Set that trusts [`JwtVectors::rsa_private_key_pem_for_minting`], as JSON.
    pub jwks: Value,
    /// The `iss` every valid case carries.
    pub issuer: String,
    /// The `aud` every valid case carries.
    pub audience: String,
    /// The test-only RSA private key the valid cases are signed with.
    pub rsa_private_key_pem_for_minting: String,
    /// Fixed tokens and the outcome each must give.
    pub cases: Vec<JwtCase>,
}

/// One fixed token and its expected outcome.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct JwtCase {
    /// The case's name, e.g. `expired`.
    pub name: String,
    /// The token.
    pub jwt: String,
    /// `ok`, or the reason it must be rejected.
    pub expect: String,
    /// Why the case exists.
    pub why: String,
}

/// The vectors, parsed on first use.
///
/// # Panics
///
/// If the file is not what [`Vectors`] describes.
pub fn vectors() -> &'static Vectors {
    static VECTORS: OnceLock<Vectors> = OnceLock::new();
    VECTORS.get_or_init(|| {
        serde_json::from_str(VECTORS_JSON).unwrap_or_else(|e| panic!("the vectors file: {e}"))
    })
}

/// The first Ed25519 vector: the identity (runtime `agent-123`) most tests use.
pub fn first_vector() -> &'static Ed25519Vector {
    &vectors().ed25519[0]
}

/// The vectors' JWK Set as JSON text, the form key sources and fakes take.
pub fn jwks_json() -> String {
    vectors().jwt.jwks.to_string()
}

/// The vectors' JWK Set with its one key published under each of `kids`, as after a rotation.
pub fn jwks_with_kids(kids: &[&str]) -> String {
    let key = &vectors().jwt.jwks["keys"][0];
    let keys: Vec<Value> = kids
        .iter()
        .map(|kid| {
            let mut key = key.clone();
            key["kid"] = Value::from(*kid);
            key
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// The vectors' issuer.
pub fn issuer() -> &'static str {
    &vectors().jwt.issuer
}

/// The vectors' audience.
pub fn audience() -> &'static str {
    &vectors().jwt.audience
}
