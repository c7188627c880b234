//! The bodies of the fuzz targets: one function per parser of untrusted bytes, shared by the
//! cargo-fuzz targets in `fuzz/` and the corpus replay test, so both run exactly the same code.
//!
//! Each function takes arbitrary bytes and must never panic. Beyond "no panic", each checks what
//! must hold for every input (a round trip, a verdict implied by another, no secret echoed in an
//! error or a `Debug`), and panics when it does not, so the fuzzer reports it as a crash.
//!
//! Fixed inputs come from the shared vectors (`test-data/agent-identity-vectors.json`, the one
//! copy, embedded at build time): the RSA JWK Set that signed the JWT cases, the `valid` case's
//! token, and the first Ed25519 agent key, runtime, task and time. The stopped clock is this
//! module's own, not test support's: the fuzz crate builds this library, and a dependency on
//! `agent-identity-test-support` would pull axum and tracing-subscriber into every fuzz build.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_identity_jwt::{
    AgentKey, Clock, IdentityJwt, SigningAlgorithm, StaticJwksSource, Verifier,
    insecure_decode_unverified,
};
use agent_identity_manager::{CredentialStore as _, FileStore, Status};
use agent_identity_task::{
    AgentSigner, AssertionError, DEFAULT_SKEW, MAX_ASSERTION_HEADER_BYTES, TaskErrorKind, TaskId,
    Timestamp, open_task_id, seal_task_id, verify_assertion, verify_registration_request,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

mod cli_output;
mod store;

pub use agent_identity_proxy::fuzzing::upstream_response;
pub use cli_output::cli_output;
pub use store::{
    CACHE_AUTHAPI_BASE, CACHE_JWKS_URL, CACHE_NEW_TASK, CACHE_RUNTIME_ID, CACHE_TOKEN_SHA256,
    runtime_cache, token_file,
};

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// Every target, by the name of its file in `fuzz/fuzz_targets/` and its corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("jwt_compact", jwt_compact),
    ("pkcs8", pkcs8),
    ("jwk_set", jwk_set),
    ("registration_response", registration_response),
    ("assertion_header", assertion_header),
    ("auth_json", auth_json),
    ("token_file", token_file),
    ("runtime_cache", runtime_cache),
    ("cli_output", cli_output),
    ("upstream_response", upstream_response),
];

/// The target called `name`, if there is one.
pub fn target(name: &str) -> Option<Target> {
    TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .map(|(_, body)| *body)
}

/// The vectors file, embedded so the fuzz binaries need no path at run time.
const VECTORS_JSON: &str = include_str!("../../test-data/agent-identity-vectors.json");

/// "Now" for the JWT targets: after the `expired` case's `exp` (plus leeway), before the `exp` of
/// every other case, so each case meets the check it was written for.
pub const JWT_NOW_UNIX: u64 = 1_800_000_000;

/// The vectors file, parsed once.
fn vectors() -> &'static serde_json::Value {
    static VECTORS: OnceLock<serde_json::Value> = OnceLock::new();
    VECTORS.get_or_init(|| serde_json::from_str(VECTORS_JSON).expect("the vectors file is JSON"))
}

/// A string field of the vectors, by JSON pointer.
fn vector_text(pointer: &str) -> &'static str {
    vectors()
        .pointer(pointer)
        .and_then(serde_json::Value::as_str)
        .unwrap_or_else(|| panic!("the vectors have a string at {pointer}"))
}

/// The first Ed25519 vector's private key, PKCS#8 in standard base64.
pub fn vector_private_key() -> &'static str {
    vector_text("/ed25519/0/private_key_pkcs8_base64")
}

/// The first Ed25519 vector's runtime id.
pub fn vector_runtime_id() -> &'static str {
    vector_text("/ed25519/0/agent_runtime_id")
}

/// The first Ed25519 vector's task id.
pub fn vector_task_id() -> &'static str {
    vector_text("/ed25519/0/task_id")
}

/// The time the first Ed25519 vector was signed at.
pub fn vector_time() -> SystemTime {
    Timestamp::parse(vector_text("/ed25519/0/timestamp"))
        .expect("the vectors' timestamp is RFC 3339")
        .to_system_time()
}

/// The vectors' `valid` JWT case: RS256 under the vectors' key set, unexpired at [`JWT_NOW_UNIX`].
pub fn valid_vector_token() -> &'static str {
    vectors()
        .pointer("/jwt/cases")
        .and_then(serde_json::Value::as_array)
        .and_then(|cases| {
            cases
                .iter()
                .find(|case| case["name"] == "valid")
                .and_then(|case| case["jwt"].as_str())
        })
        .expect("the vectors have a valid JWT case")
}

/// A clock stopped at a fixed time, so a target's verdict depends on its input alone.
#[derive(Debug, Clone, Copy)]
struct FixedClock(SystemTime);

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        self.0
    }
}

fn at(unix: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix)
}

/// The vectors' agent key, parsed once.
fn vector_key() -> &'static AgentKey {
    static KEY: OnceLock<AgentKey> = OnceLock::new();
    KEY.get_or_init(|| {
        AgentKey::from_pkcs8_base64(vector_private_key()).expect("the vectors' key parses")
    })
}

/// The vectors' JWK Set, parsed once; each verifier built from it starts with an empty cache.
fn vector_jwks() -> &'static StaticJwksSource {
    static JWKS: OnceLock<StaticJwksSource> = OnceLock::new();
    JWKS.get_or_init(|| {
        let jwks = serde_json::to_vec(&vectors()["jwt"]["jwks"]).expect("a JSON value serializes");
        StaticJwksSource::from_json(jwks).expect("the vectors' JWKS parses")
    })
}

/// One current-thread runtime for the whole process: verification is async, and building a
/// runtime per input would cost more than the verification.
fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("a current-thread runtime builds")
    })
}

/// A verifier as the CLI configures one (RS256 and EdDSA, default issuer and audience), over
/// `source`, at a fixed time. A fresh one per input, so no input's verdict depends on the cache
/// state an earlier input left.
fn verifier(source: StaticJwksSource) -> Verifier {
    Verifier::builder(source)
        .algorithms([SigningAlgorithm::Rs256, SigningAlgorithm::EdDsa])
        .clock(std::sync::Arc::new(FixedClock(at(JWT_NOW_UNIX))))
        .build()
}

/// Panics if `shown` contains `secret`.
///
/// Only text shaped like a secret is checked: 16 bytes or more, without whitespace (tokens and
/// base64 keys have none). Anything else can occur in a fixed message by chance, and the fuzzer
/// finds such inputs: it once fed the PKCS#8 reader the text of its own error message.
fn assert_not_echoed(secret: &str, shown: &str, what: &str) {
    let secret_like = secret.len() >= 16 && !secret.contains(char::is_whitespace);
    assert!(
        !secret_like || !shown.contains(secret),
        "{what} echoes its secret input"
    );
}

/// Compact JWT text: the unverified decode (shape, header, every claim rule, the embedded key),
/// then full verification against the vectors' key set.
///
/// Checks: a token that verifies also decodes, to the same runtime id; neither errors nor the
/// record's `Debug` or JSON ever contain the token.
pub fn jwt_compact(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let token = IdentityJwt::new(text.as_ref());
    let secret = token.expose_secret();
    let decoded = insecure_decode_unverified(&token);
    match &decoded {
        Ok(record) => {
            // The manager checks the key right after verifying; a bad v2 key must be an error.
            let _ = record.key().check();
            assert_not_echoed(secret, &format!("{record:?}"), "a decoded record's Debug");
            let json = serde_json::to_string(record).expect("a record serializes");
            assert_not_echoed(secret, &json, "a decoded record's JSON");
        }
        Err(error) => {
            assert_not_echoed(secret, &format!("{error} {error:?}"), "a decode error");
        }
    }
    let verified = runtime().block_on(verifier(vector_jwks().clone()).verify(&token));
    match verified {
        Ok(record) => {
            let decoded = decoded.expect("a token that verifies also decodes");
            assert_eq!(record.runtime_id(), decoded.runtime_id());
        }
        Err(error) => {
            assert_not_echoed(secret, &format!("{error} {error:?}"), "a verify error");
        }
    }
}

/// PKCS#8 DER, and the same bytes read as base64 text: the agent key reader.
///
/// Checks: the DER and its base64 encoding parse alike; a parsed key is redacted in `Debug`; a
/// key that passes `check()` signs, and survives a round trip through its own PKCS#8 text with
/// the same public key.
pub fn pkcs8(data: &[u8]) {
    let from_der = AgentKey::from_pkcs8_der(data);
    let from_base64 = AgentKey::from_pkcs8_base64(&STANDARD.encode(data));
    assert_eq!(
        from_der.as_ref().err(),
        from_base64.as_ref().err(),
        "DER and its base64 parse differently"
    );
    let text = String::from_utf8_lossy(data);
    match AgentKey::from_pkcs8_base64(&text) {
        Ok(key) => exercise_key(&key),
        Err(error) => assert_not_echoed(&text, &format!("{error} {error:?}"), "a key error"),
    }
    if let Ok(key) = from_der {
        exercise_key(&key);
    }
}

fn exercise_key(key: &AgentKey) {
    assert_eq!(format!("{key:?}"), "AgentKey(<redacted>)");
    if key.check().is_err() {
        return;
    }
    let public = key.public_key().expect("a checked key has a public key");
    key.sign(b"fuzz").expect("a checked key signs");
    let again = AgentKey::from_pkcs8_base64(&key.to_pkcs8_base64())
        .expect("a key's own PKCS#8 text parses");
    assert_eq!(again.public_key().ok(), Some(public));
}

/// JWK Set JSON: the static key source, then a verification of the vectors' valid token against
/// whatever keys it holds, which builds a decoding key from every usable JWK.
pub fn jwk_set(data: &[u8]) {
    let Ok(source) = StaticJwksSource::from_json(data) else {
        return;
    };
    let _ = runtime().block_on(verifier(source).verify_str(valid_vector_token()));
}

/// A 2xx registration response body as the task client reads it (the four task id forms, a sealed
/// task id opened with the vectors' key), and the same bytes as a sealed box given to
/// `open_task_id`.
///
/// Checks: any non-empty text sealed for the vectors' key opens to itself, or is refused as a
/// task id, never as undecryptable.
pub fn registration_response(data: &[u8]) {
    let key = vector_key();
    let _ = agent_identity_task::fuzzing::registration_response(data, key);
    let text = String::from_utf8_lossy(data);
    let _ = open_task_id(key, &text);
    if !text.is_empty() {
        let sealed = seal_task_id(key, &text).expect("sealing for a valid key succeeds");
        match open_task_id(key, &sealed) {
            Ok(opened) => assert_eq!(opened.as_str(), text, "a sealed task id opens to itself"),
            // The box opened but its content was refused (a task id rule); never a failure to
            // decode or decrypt what was sealed for this very key.
            Err(error) => assert!(
                !matches!(
                    error.reason(),
                    TaskErrorKind::BadBase64 | TaskErrorKind::Undecryptable
                ),
                "a task id sealed for the key does not open: {error}"
            ),
        }
    }
}

/// An `Authorization` header value checked by `verify_assertion` (server side), with the vectors'
/// runtime and key on record and only the vectors' task issued; and the same bytes as a
/// registration request body checked by `verify_registration_request`.
///
/// Checks: an assertion the agent signs for a task id made of the input verifies, to that task id
/// and time, unless it is refused unread as malformed (over the size limit, say).
pub fn assertion_header(data: &[u8]) {
    let key = vector_key();
    let public = key.public_key().expect("the vectors' key has a public key");
    let now = vector_time();
    let text = String::from_utf8_lossy(data);
    let lookup = (
        |runtime: &str| (runtime == vector_runtime_id()).then_some(public),
        |runtime: &str, task: &str| runtime == vector_runtime_id() && task == vector_task_id(),
    );
    let _ = verify_assertion(&text, &lookup, now, DEFAULT_SKEW);
    let _ = verify_registration_request(vector_runtime_id(), data, &public, now, DEFAULT_SKEW);

    let signer = AgentSigner::new(key.clone(), vector_runtime_id());
    let task = TaskId::new(text.as_ref());
    // A signer may refuse a task id it considers invalid; what it does sign must verify.
    let Ok(header) = signer.authorization_header(&task, now) else {
        return;
    };
    let issued = (
        |runtime: &str| (runtime == vector_runtime_id()).then_some(public),
        |_: &str, issued: &str| issued == text,
    );
    match verify_assertion(&header, &issued, now, DEFAULT_SKEW) {
        Ok(verified) => {
            assert_eq!(verified.task_id(), &task);
            assert_eq!(
                verified.timestamp(),
                Timestamp::from_system_time(now).expect("the vectors' time is a timestamp")
            );
        }
        // Refused unread for its size or a task id rule is fine; our own header must parse, and
        // must not be refused for its signature, runtime or time.
        Err(AssertionError::Malformed(reason))
            if header.len() > MAX_ASSERTION_HEADER_BYTES || !PARSE_FAILURES.contains(&reason) => {}
        Err(error) => panic!("an assertion the agent signed is refused: {error}"),
    }
}

/// `verify_assertion`'s reasons for a header it cannot parse: an assertion the agent signed never
/// earns one of these.
const PARSE_FAILURES: [&str; 4] = [
    "the value is not base64url",
    "the value is not the four-field json envelope",
    "the timestamp is not rfc 3339 utc whole seconds",
    "the signature is not 64 bytes of standard base64",
];

/// `auth.json` bytes, read through the public `FileStore` from a fresh private home (directory
/// 0700, file 0600), then the offline status over that store, which decodes the stored token.
///
/// Checks: neither the load error nor the status's `Debug` contains the stored token.
pub fn auth_json(data: &[u8]) {
    let home = tempfile::tempdir().expect("a temporary home");
    let path = home.path().join(agent_identity_manager::AUTH_FILE_NAME);
    write_private(&path, data);
    let store = FileStore::new(home.path());
    let token = match store.load() {
        Ok(token) => token,
        Err(error) => {
            assert_not_echoed(
                &String::from_utf8_lossy(data),
                &format!("{error} {error:?}"),
                "a store error",
            );
            None
        }
    };
    let status = Status::read(
        &store,
        &FixedClock(at(JWT_NOW_UNIX)),
        Duration::from_secs(60),
    );
    if let Some(token) = token {
        assert_not_echoed(token.expose_secret(), &format!("{status:?}"), "a status");
    }
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, data: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("a new file in a new directory");
    file.write_all(data).expect("writing auth.json");
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, data: &[u8]) {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .expect("a new file in a new directory");
    file.write_all(data).expect("writing auth.json");
}

#[cfg(test)]
mod tests;
