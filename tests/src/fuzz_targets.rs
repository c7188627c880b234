//! The bodies of the fuzz targets: one function per parser of untrusted bytes, shared by the
//! cargo-fuzz targets in `fuzz/` and the corpus replay test, so both run exactly the same code.
//!
//! Each function takes arbitrary bytes and must never panic. Beyond "no panic", each checks what
//! must hold for every input (a round trip, a verdict implied by another, no secret echoed in an
//! error or a `Debug`), and panics when it does not, so the fuzzer reports it as a crash.
//!
//! Fixed inputs come from the shared vectors (`agent-identity-vectors.json`): the RSA JWK Set that
//! signed the JWT cases, and the first Ed25519 agent key, runtime and task.

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
];

/// The target called `name`, if there is one.
pub fn target(name: &str) -> Option<Target> {
    TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .map(|(_, body)| *body)
}

/// The vectors' JWK Set: the RSA key (`shared-key-1`, RS256) that signed every JWT case.
pub const VECTOR_JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"shared-key-1","use":"sig","alg":"RS256","n":"q0uuaGsu0z1rHTm_WJn3GOagBsF0jbJS-pvBYL1PNGscDqZRoqO7_toUyZg5DuF_ubquIL_VaLllCg77-YaDBKCZUJWettgJuVV9kmNLcaL1I5nTw-jeq9d5XUrgI3BMDjReVSAVghCFu29KxprYBYbVtePmAFLWkVLT2hZ2EEMWAd_Pjkcya0JwbnRDZ79GZx6DC8QD-oRpQ2yRPWleH1ZSXpNKX4jJZnEc-k_zZ0nB2Y2go78GIHgluoKlfnkudb0XX4ERxDtMTVq95Nf6-ndr-aEobURCoU4orwiVetThfp3DupzJCyPAmiSGx7YBuUmS5Bup8ui8R5kSzj7PsQ","e":"AQAB"}]}"#;
/// The first Ed25519 vector's private key (a seed of 0x07 bytes), PKCS#8 v1 in standard base64.
pub const VECTOR_PRIVATE_KEY: &str =
    "MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH";
/// The first Ed25519 vector's runtime id.
pub const VECTOR_RUNTIME_ID: &str = "agent-123";
/// The first Ed25519 vector's task id.
pub const VECTOR_TASK_ID: &str = "task-123";
/// The first Ed25519 vector's timestamp, as Unix seconds (2026-04-27T12:00:00Z).
pub const VECTOR_TIMESTAMP_UNIX: u64 = 1_777_291_200;
/// "Now" for the JWT targets: after the `expired` case's `exp` (plus leeway), before the `exp` of
/// every other case, so each case meets the check it was written for.
pub const JWT_NOW_UNIX: u64 = 1_800_000_000;

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
        AgentKey::from_pkcs8_base64(VECTOR_PRIVATE_KEY).expect("the vectors' key parses")
    })
}

/// The vectors' JWK Set, parsed once; each verifier built from it starts with an empty cache.
fn vector_jwks() -> &'static StaticJwksSource {
    static JWKS: OnceLock<StaticJwksSource> = OnceLock::new();
    JWKS.get_or_init(|| StaticJwksSource::from_json(VECTOR_JWKS).expect("the vectors' JWKS parses"))
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
    let _ = runtime().block_on(verifier(source).verify_str(VALID_VECTOR_TOKEN));
}

/// The vectors' `valid` JWT case: RS256 under `shared-key-1`, unexpired at [`JWT_NOW_UNIX`].
pub const VALID_VECTOR_TOKEN: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6InNoYXJlZC1rZXktMSIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJodHRwczovL2NoYXRncHQuY29tL2NvZGV4LWJhY2tlbmQvYWdlbnQtaWRlbnRpdHkiLCJhdWQiOiJjb2RleC1hcHAtc2VydmVyIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQwMDAwMDAwMDAsImFnZW50X3J1bnRpbWVfaWQiOiJhZ2VudC0xMjMiLCJhZ2VudF9wcml2YXRlX2tleSI6Ik1DNENBUUF3QlFZREsyVndCQ0lFSUFjSEJ3Y0hCd2NIQndjSEJ3Y0hCd2NIQndjSEJ3Y0hCd2NIQndjSEJ3Y0giLCJhY2NvdW50X2lkIjoiYWNjb3VudC0xIiwiY2hhdGdwdF91c2VyX2lkIjoidXNlci0xIiwiZW1haWwiOiJ1c2VyQGV4YW1wbGUuY29tIiwicGxhbl90eXBlIjoicHJvIiwiY2hhdGdwdF9hY2NvdW50X2lzX2ZlZHJhbXAiOmZhbHNlfQ.ihnXMR5dlCZhivBR4BwdEgv5wv9YwxgST-aHBRxGHxreUZInOAVaqtNQe-2N72iFRcQ80eCD18PldgJOwG2B6o2YEimF5p_pqMbha9JzwrF6dxq055szxk0rp221i4EiRPj-X10hnirjXgIEhk0o3UwjTkrKpAVEbPDmXo_RCxIzCcPsa3sI5Oms4s-az_MLnRqrwiJSGtuvmS2CKdVoYAVBRAE-lzZgTC4C5pg9ZC_lXh90xTT4ygDmrDWBVC7fbEYt7zalb4cvF1TMch9ZzBOfap1_buczmOp6nkciaqYDr2IRuLfiH9_ClUokCVet2kZxvv4isCp_oCay7DEXHw";

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
    let now = at(VECTOR_TIMESTAMP_UNIX);
    let text = String::from_utf8_lossy(data);
    let lookup = (
        |runtime: &str| (runtime == VECTOR_RUNTIME_ID).then_some(public),
        |runtime: &str, task: &str| runtime == VECTOR_RUNTIME_ID && task == VECTOR_TASK_ID,
    );
    let _ = verify_assertion(&text, &lookup, now, DEFAULT_SKEW);
    let _ = verify_registration_request(VECTOR_RUNTIME_ID, data, &public, now, DEFAULT_SKEW);

    let signer = AgentSigner::new(key.clone(), VECTOR_RUNTIME_ID);
    let task = TaskId::new(text.as_ref());
    // A signer may refuse a task id it considers invalid; what it does sign must verify.
    let Ok(header) = signer.authorization_header(&task, now) else {
        return;
    };
    let issued = (
        |runtime: &str| (runtime == VECTOR_RUNTIME_ID).then_some(public),
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
