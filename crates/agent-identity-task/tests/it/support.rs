//! Shared fixtures: the vectors file, identities minted as real JWTs, and mock-server clients.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_identity_jwt::{AgentIdentityRecord, StaticJwksSource, Verifier};
use agent_identity_task::{AuthApiBaseUrl, TaskClient, TaskClientBuilder};
use serde::Deserialize;

const VECTORS: &str = include_str!("../../../../test-data/agent-identity-vectors.json");

#[derive(Deserialize)]
pub(crate) struct Vectors {
    pub(crate) ed25519: Vec<Ed25519Vector>,
    pub(crate) jwt: JwtVectors,
}

#[derive(Deserialize, Clone)]
pub(crate) struct Ed25519Vector {
    pub(crate) private_key_pkcs8_base64: String,
    pub(crate) public_key_raw_base64: String,
    pub(crate) agent_runtime_id: String,
    pub(crate) timestamp: String,
    pub(crate) task_id: String,
    pub(crate) registration_payload: String,
    pub(crate) registration_signature_base64: String,
    pub(crate) registration_request_body: serde_json::Value,
    pub(crate) assertion_payload: String,
    pub(crate) assertion_signature_base64: String,
    pub(crate) assertion_envelope_json: String,
    pub(crate) authorization_header: String,
    pub(crate) encrypted_task_id_base64: String,
}

#[derive(Deserialize)]
pub(crate) struct JwtVectors {
    pub(crate) jwks: serde_json::Value,
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) rsa_private_key_pem_for_minting: String,
}

pub(crate) fn vectors() -> Vectors {
    serde_json::from_str(VECTORS).unwrap_or_else(|e| panic!("vectors file: {e}"))
}

/// The first vector: the identity most tests register as.
pub(crate) fn first_vector() -> Ed25519Vector {
    vectors().ed25519[0].clone()
}

/// What to put in a minted identity.
pub(crate) struct Identity<'a> {
    pub(crate) runtime_id: &'a str,
    pub(crate) private_key_pkcs8_base64: &'a str,
    pub(crate) account_id: &'a str,
    pub(crate) fedramp: bool,
}

impl<'a> Identity<'a> {
    pub(crate) fn for_vector(vector: &'a Ed25519Vector) -> Self {
        Self {
            runtime_id: &vector.agent_runtime_id,
            private_key_pkcs8_base64: &vector.private_key_pkcs8_base64,
            account_id: "account-1",
            fedramp: false,
        }
    }
}

/// Mints an RS256 identity token (wire-format §1) with the vectors' test-only RSA key.
pub(crate) fn mint(identity: &Identity<'_>) -> String {
    let jwt = vectors().jwt;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let claims = serde_json::json!({
        "iss": jwt.issuer,
        "aud": jwt.audience,
        "iat": now,
        "exp": now + 3600,
        "agent_runtime_id": identity.runtime_id,
        "agent_private_key": identity.private_key_pkcs8_base64,
        "account_id": identity.account_id,
        "chatgpt_user_id": "user-1",
        "email": "user@example.com",
        "plan_type": "pro",
        "chatgpt_account_is_fedramp": identity.fedramp,
    });
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some("shared-key-1".to_owned());
    let key =
        jsonwebtoken::EncodingKey::from_rsa_pem(jwt.rsa_private_key_pem_for_minting.as_bytes())
            .unwrap_or_else(|e| panic!("minting key: {e}"));
    jsonwebtoken::encode(&header, &claims, &key).unwrap_or_else(|e| panic!("minting: {e}"))
}

/// Mints a token and verifies it against the vectors' JWKS, as a real caller would get a record.
pub(crate) async fn record(identity: &Identity<'_>) -> (AgentIdentityRecord, String) {
    let token = mint(identity);
    let jwks = vectors().jwt.jwks.to_string();
    let source = StaticJwksSource::from_json(jwks).unwrap_or_else(|e| panic!("jwks: {e}"));
    let verifier = Verifier::builder(source).build();
    let record = verifier
        .verify_str(&token)
        .await
        .unwrap_or_else(|e| panic!("minted token must verify: {e}"));
    (record, token)
}

pub(crate) async fn vector_record() -> AgentIdentityRecord {
    let vector = first_vector();
    record(&Identity::for_vector(&vector)).await.0
}

/// An HTTP client that keeps no idle connections: the pool's idle-reaper timer would otherwise
/// let paused tokio time jump while a test waits on socket I/O.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap_or_else(|e| panic!("reqwest client: {e}"))
}

/// A client builder for a mock server, with no timers armed during I/O: under paused time, tokio
/// advances the clock to the next timer whenever the runtime idles, socket waits included.
pub(crate) fn builder(base: &str) -> TaskClientBuilder {
    let base = AuthApiBaseUrl::parse(base).unwrap_or_else(|e| panic!("base url: {e}"));
    TaskClient::builder(base)
        .client(http_client())
        .attempt_timeout(None)
        .total_deadline(None)
}

pub(crate) fn client(base: &str) -> TaskClient {
    builder(base).build()
}

/// The registration path of the first vector's runtime.
pub(crate) const VECTOR_PATH: &str = "/v1/agent/agent-123/task/register";

pub(crate) fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A loopback port that refuses connections for the rest of this test process: bound but never
/// listening, so no other test (in this process or another) can take it over, as it could a port
/// that was bound and then released. The socket is leaked on purpose.
pub(crate) fn refusing_port() -> std::net::SocketAddr {
    let socket = tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("socket: {e}"));
    socket
        .bind(([127, 0, 0, 1], 0).into())
        .unwrap_or_else(|e| panic!("bind loopback: {e}"));
    let address = socket
        .local_addr()
        .unwrap_or_else(|e| panic!("address: {e}"));
    std::mem::forget(socket);
    address
}
