//! Shared fixtures: the vectors' test-only RSA key for minting tokens, and manager builders.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_identity_jwt::{Clock, HttpJwksSource, IdentityJwt, Verifier};
use agent_identity_manager::{AuthManager, CredentialStore};
use agent_identity_task::{AuthApiBaseUrl, TaskClient};
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

pub(crate) fn vectors() -> &'static Value {
    static VECTORS: OnceLock<Value> = OnceLock::new();
    VECTORS.get_or_init(|| {
        serde_json::from_str(include_str!(
            "../../../../test-data/agent-identity-vectors.json"
        ))
        .expect("vectors are JSON")
    })
}

/// The vectors' JWKS with its one key also published under `kid`, as after a key rotation.
pub(crate) fn jwks_with_kids(kids: &[&str]) -> String {
    let key = &vectors()["jwt"]["jwks"]["keys"][0];
    let keys: Vec<Value> = kids
        .iter()
        .map(|kid| {
            let mut key = key.clone();
            key["kid"] = json!(kid);
            key
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// A valid token for runtime `runtime`, signed under `kid`, expiring at `exp`.
pub(crate) fn token(runtime: &str, kid: &str, exp: u64) -> IdentityJwt {
    sign(&claims_for(runtime, exp), kid)
}

fn claims_for(runtime: &str, exp: u64) -> Value {
    json!({
        "iss": vectors()["jwt"]["issuer"],
        "aud": vectors()["jwt"]["audience"],
        "iat": now_secs(),
        "exp": exp,
        "agent_runtime_id": runtime,
        "agent_private_key": vectors()["ed25519"][0]["private_key_pkcs8_base64"],
        "account_id": "account-1",
        "chatgpt_user_id": "user-1",
        "email": "user@example.com",
        "plan_type": "pro",
        "chatgpt_account_is_fedramp": false,
    })
}

fn sign(claims: &Value, kid: &str) -> IdentityJwt {
    let pem = vectors()["jwt"]["rsa_private_key_pem_for_minting"]
        .as_str()
        .expect("pem");
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("test RSA key");
    let mut header = Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    IdentityJwt::new(jsonwebtoken::encode(&header, claims, &key).expect("mint"))
}

/// A token for `agent-123` whose `agent_private_key` is a PKCS#8 v2 document embedding a public
/// key that is not its seed's: well-formed, but unable to sign.
pub(crate) fn token_with_inconsistent_key() -> IdentityJwt {
    let mut der = vec![
        0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
    ];
    der.extend_from_slice(&[0x04, 0x22, 0x04, 0x20]);
    der.extend_from_slice(&[7u8; 32]);
    der.extend_from_slice(&[0x81, 0x21, 0x00]);
    der.extend_from_slice(&[9u8; 32]);
    let key = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, der);
    let mut claims = claims_for("agent-123", now_secs() + 3600);
    claims["agent_private_key"] = json!(key);
    sign(&claims, "shared-key-1")
}

/// A token for `agent-123` under the vectors' kid, valid for an hour.
pub(crate) fn valid_token() -> IdentityJwt {
    token("agent-123", "shared-key-1", now_secs() + 3600)
}

/// A clock the test moves by hand.
#[derive(Debug)]
pub(crate) struct TestClock(Mutex<SystemTime>);

impl TestClock {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self(Mutex::new(SystemTime::now())))
    }

    pub(crate) fn advance(&self, by: Duration) {
        *self.0.lock().expect("clock") += by;
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().expect("clock")
    }
}

/// A reqwest client without keep-alive, so a stopped server refuses the next request at once,
/// and without pool timers, which a paused test clock would otherwise race against.
pub(crate) fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

pub(crate) fn verifier(jwks_url: &str, clock: Arc<TestClock>) -> Verifier {
    let source = HttpJwksSource::builder(jwks_url.parse().expect("url"))
        .client(http_client())
        .build();
    Verifier::builder(source).clock(clock).build()
}

/// A task client with few, fast retries and, by default, no per-attempt timeout.
pub(crate) fn tasks(base: &str, attempt_timeout: Option<Duration>) -> TaskClient {
    TaskClient::builder(AuthApiBaseUrl::parse(base).expect("loopback base"))
        .client(http_client())
        .max_attempts(3)
        .initial_backoff(Duration::from_millis(100))
        .attempt_timeout(attempt_timeout)
        .total_deadline(None)
        .build()
}

pub(crate) async fn manager(
    jwks_url: &str,
    authapi: &str,
    store: Arc<dyn CredentialStore>,
    clock: Arc<TestClock>,
) -> AuthManager {
    AuthManager::new(verifier(jwks_url, clock), tasks(authapi, None), store)
        .await
        .expect("the store is readable")
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
