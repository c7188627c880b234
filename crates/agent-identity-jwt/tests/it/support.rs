//! Shared fixtures: the vectors file, token minting with the test-only RSA key, and JWKS bodies.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

pub(crate) fn vectors() -> &'static Value {
    static VECTORS: OnceLock<Value> = OnceLock::new();
    VECTORS.get_or_init(|| {
        let text = include_str!("../../../../test-data/agent-identity-vectors.json");
        serde_json::from_str(text).expect("the vectors file is JSON")
    })
}

pub(crate) fn jwks_json() -> String {
    vectors()["jwt"]["jwks"].to_string()
}

pub(crate) fn issuer() -> &'static str {
    vectors()["jwt"]["issuer"].as_str().expect("issuer")
}

pub(crate) fn audience() -> &'static str {
    vectors()["jwt"]["audience"].as_str().expect("audience")
}

pub(crate) fn private_key_b64() -> &'static str {
    vectors()["ed25519"][0]["private_key_pkcs8_base64"]
        .as_str()
        .expect("key")
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Claims of a valid identity, expiring in an hour.
pub(crate) fn claims() -> Value {
    json!({
        "iss": issuer(),
        "aud": audience(),
        "iat": now_secs(),
        "exp": now_secs() + 3600,
        "agent_runtime_id": "agent-123",
        "agent_private_key": private_key_b64(),
        "account_id": "account-1",
        "chatgpt_user_id": "user-1",
        "email": "user@example.com",
        "plan_type": "pro",
        "chatgpt_account_is_fedramp": false,
    })
}

/// Signs `claims` with the vectors' test-only RSA key under `kid`.
pub(crate) fn mint_with_kid(claims: &Value, kid: Option<&str>) -> String {
    let pem = vectors()["jwt"]["rsa_private_key_pem_for_minting"]
        .as_str()
        .expect("pem");
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("test RSA key");
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &key).expect("mint")
}

pub(crate) fn mint(claims: &Value) -> String {
    mint_with_kid(claims, Some("shared-key-1"))
}

/// `claims()` with one field replaced (or removed, for `Value::Null`).
pub(crate) fn claims_with(field: &str, value: Value) -> Value {
    let mut claims = claims();
    let map = claims.as_object_mut().expect("object");
    if value.is_null() {
        map.remove(field);
    } else {
        map.insert(field.to_owned(), value);
    }
    claims
}

/// Everything traced by this test binary, at TRACE, from the moment this is first called.
///
/// The subscriber is global rather than scoped to one test: a scoped subscriber races with other
/// tests' threads over `tracing`'s per-callsite interest cache and can miss events.
pub(crate) fn capture_traces() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).expect("the only global subscriber");
        capture
    })
}

#[derive(Clone, Default)]
pub(crate) struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("capture")).into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("capture").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A loopback port that refuses connections for the rest of this test process: bound but never
/// listening, so no other test (in this process or another) can take it over, as it could a port
/// that was bound and then released. The socket is leaked on purpose.
pub(crate) fn refusing_port() -> std::net::SocketAddr {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(([127, 0, 0, 1], 0).into())
        .expect("bind loopback");
    let address = socket.local_addr().expect("address");
    std::mem::forget(socket);
    address
}
