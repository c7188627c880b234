//! The server side: checking an `AgentAssertion` header (wire-format §5) and a registration
//! request body (§3). Pure functions of their inputs, shared by the emulator and resource servers.

use std::time::{Duration, SystemTime};

use agent_identity_jwt::AgentRuntimeId;
use aws_lc_rs::signature::{ED25519, UnparsedPublicKey};
use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use serde::Deserialize;

use crate::task_id::TaskId;
use crate::timestamp::Timestamp;

/// The default skew window: an assertion or registration is accepted within ±300 s of `now`
/// (wire-format §5).
pub const DEFAULT_SKEW: Duration = Duration::from_secs(300);

/// Header values longer than this are refused before decoding. Real assertions are a few hundred
/// bytes; 8 KiB is the common server limit for one header line.
pub const MAX_ASSERTION_HEADER_BYTES: usize = 8 * 1024;

/// Base64url as clients may send it: without padding by the spec, with it tolerated.
const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why an assertion or a registration request was refused.
///
/// The variants are distinct so that a server can log and count them; what it tells the client
/// is its own choice. Messages never contain the header value or a signature.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// The value is not a well-formed assertion or registration body; the text says which part.
    #[error("malformed agent assertion: {0}")]
    Malformed(&'static str),
    /// The runtime id has no public key on record.
    #[error("unknown agent runtime")]
    UnknownRuntime,
    /// The signature does not verify with the runtime's public key.
    #[error("bad agent assertion signature")]
    BadSignature,
    /// The task id was not issued to this runtime.
    #[error("task not issued to this agent runtime")]
    TaskNotIssued,
    /// The timestamp is outside the skew window around `now`.
    #[error("agent assertion timestamp outside the allowed skew")]
    Stale,
}

impl AssertionError {
    /// A stable snake_case name, for logs, metrics and a server's answer (the `error` of a
    /// `WWW-Authenticate: AgentAssertion` challenge): `malformed`, `unknown_runtime`,
    /// `bad_signature`, `task_not_issued` or `stale`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::UnknownRuntime => "unknown_runtime",
            Self::BadSignature => "bad_signature",
            Self::TaskNotIssued => "task_not_issued",
            Self::Stale => "stale",
        }
    }
}

/// What a verifier needs to know about runtimes and tasks.
///
/// Implemented for any `(F, G)` pair of closures, so a server can write
/// `&(|runtime: &str| keys.get(runtime).copied(), |runtime: &str, task: &str| issued(runtime, task))`.
pub trait AssertionLookup {
    /// The raw 32-byte Ed25519 public key on record for `runtime_id`, if the runtime is known.
    fn public_key(&self, runtime_id: &str) -> Option<[u8; 32]>;

    /// Whether `task_id` was issued to `runtime_id`.
    fn task_issued(&self, runtime_id: &str, task_id: &str) -> bool;
}

impl<F, G> AssertionLookup for (F, G)
where
    F: Fn(&str) -> Option<[u8; 32]>,
    G: Fn(&str, &str) -> bool,
{
    fn public_key(&self, runtime_id: &str) -> Option<[u8; 32]> {
        (self.0)(runtime_id)
    }

    fn task_issued(&self, runtime_id: &str, task_id: &str) -> bool {
        (self.1)(runtime_id, task_id)
    }
}

/// An assertion that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAssertion {
    runtime_id: AgentRuntimeId,
    task_id: TaskId,
    timestamp: Timestamp,
}

impl VerifiedAssertion {
    /// The runtime that signed.
    pub fn runtime_id(&self) -> &AgentRuntimeId {
        &self.runtime_id
    }

    /// The task it proved.
    pub fn task_id(&self) -> &TaskId {
        &self.task_id
    }

    /// When it was signed.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    agent_runtime_id: String,
    signature: String,
    task_id: String,
    timestamp: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationBody {
    timestamp: String,
    signature: String,
}

/// Checks an `Authorization` header value `AgentAssertion {A}` (wire-format §5).
///
/// The checks run in this order, and the first failure is returned: the value parses
/// ([`Malformed`](AssertionError::Malformed)); the runtime is known
/// ([`UnknownRuntime`](AssertionError::UnknownRuntime)); the signature verifies
/// ([`BadSignature`](AssertionError::BadSignature)); the task was issued to that runtime
/// ([`TaskNotIssued`](AssertionError::TaskNotIssued)); the timestamp is within `skew` of `now`
/// ([`Stale`](AssertionError::Stale)). Verifying the signature before the task and time checks
/// means only a holder of the key learns why a signed assertion was refused.
///
/// One assertion is accepted in more than one text form (the scheme in any case, base64url with
/// or without padding, the JSON envelope re-encoded), so a replay cache is keyed on the runtime
/// id and the signature, never on `header_value` (see [`verify_request`](crate::verify_request)).
/// A resource server checks a whole request with [`verify_request`](crate::verify_request), which
/// calls this.
///
/// # Errors
/// The [`AssertionError`] of the first check that fails.
pub fn verify_assertion<L>(
    header_value: &str,
    lookup: &L,
    now: SystemTime,
    skew: Duration,
) -> Result<VerifiedAssertion, AssertionError>
where
    L: AssertionLookup + ?Sized,
{
    if header_value.len() > MAX_ASSERTION_HEADER_BYTES {
        return Err(AssertionError::Malformed("the header value is too long"));
    }
    let (scheme, encoded) =
        header_value
            .trim()
            .split_once(' ')
            .ok_or(AssertionError::Malformed(
                "expected `AgentAssertion <value>`",
            ))?;
    if !scheme.eq_ignore_ascii_case(crate::assertion::AGENT_ASSERTION_SCHEME) {
        return Err(AssertionError::Malformed(
            "the scheme is not AgentAssertion",
        ));
    }
    let json = URL_SAFE_LENIENT
        .decode(encoded.trim_start())
        .map_err(|_| AssertionError::Malformed("the value is not base64url"))?;
    let envelope: Envelope = serde_json::from_slice(&json)
        .map_err(|_| AssertionError::Malformed("the value is not the four-field json envelope"))?;
    let timestamp = Timestamp::parse(&envelope.timestamp).ok_or(AssertionError::Malformed(
        "the timestamp is not rfc 3339 utc whole seconds",
    ))?;
    let signature = decode_signature(&envelope.signature)?;

    let public_key = lookup
        .public_key(&envelope.agent_runtime_id)
        .ok_or(AssertionError::UnknownRuntime)?;
    let message = format!(
        "{}:{}:{}",
        envelope.agent_runtime_id, envelope.task_id, envelope.timestamp
    );
    check_signature(&public_key, message.as_bytes(), &signature)?;
    if !lookup.task_issued(&envelope.agent_runtime_id, &envelope.task_id) {
        return Err(AssertionError::TaskNotIssued);
    }
    check_fresh(timestamp, now, skew)?;
    Ok(VerifiedAssertion {
        runtime_id: AgentRuntimeId::new(envelope.agent_runtime_id),
        task_id: TaskId::new(envelope.task_id),
        timestamp,
    })
}

/// Checks a registration request body `{"timestamp": T, "signature": S}` from `runtime_id`
/// (wire-format §3) against the runtime's raw Ed25519 public key, and returns `T`.
///
/// # Errors
/// [`AssertionError::Malformed`] for a body that is not exactly those two string fields, a
/// timestamp not in the §3 form or a signature that is not 64 bytes of standard base64;
/// [`AssertionError::BadSignature`]; then [`AssertionError::Stale`] outside `skew` of `now`.
pub fn verify_registration_request(
    runtime_id: &str,
    body: &[u8],
    public_key: &[u8; 32],
    now: SystemTime,
    skew: Duration,
) -> Result<Timestamp, AssertionError> {
    let body: RegistrationBody = serde_json::from_slice(body).map_err(|_| {
        AssertionError::Malformed("the body is not {\"timestamp\",\"signature\"} json")
    })?;
    let timestamp = Timestamp::parse(&body.timestamp).ok_or(AssertionError::Malformed(
        "the timestamp is not rfc 3339 utc whole seconds",
    ))?;
    let signature = decode_signature(&body.signature)?;
    let message = format!("{runtime_id}:{}", body.timestamp);
    check_signature(public_key, message.as_bytes(), &signature)?;
    check_fresh(timestamp, now, skew)?;
    Ok(timestamp)
}

fn decode_signature(text: &str) -> Result<[u8; 64], AssertionError> {
    let malformed = AssertionError::Malformed("the signature is not 64 bytes of standard base64");
    // 88 characters is the only length a padded 64-byte value can have; checking first keeps the
    // decode from allocating for an oversized value.
    if text.len() != 88 {
        return Err(malformed);
    }
    // Room for the decoder's conservative size estimate (3 bytes per 4 characters).
    let mut out = [0u8; 66];
    match STANDARD.decode_slice(text, &mut out) {
        Ok(64) => {
            let mut signature = [0u8; 64];
            signature.copy_from_slice(&out[..64]);
            Ok(signature)
        }
        _ => Err(malformed),
    }
}

fn check_signature(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), AssertionError> {
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, signature)
        .map_err(|_| AssertionError::BadSignature)
}

fn check_fresh(
    timestamp: Timestamp,
    now: SystemTime,
    skew: Duration,
) -> Result<(), AssertionError> {
    let now = Timestamp::from_system_time(now).ok_or(AssertionError::Stale)?;
    if timestamp.abs_diff(now) > skew {
        return Err(AssertionError::Stale);
    }
    Ok(())
}

mod request;

pub use request::{
    AgentDirectory, KnownRuntime, RejectedAssertion, VerifiedRequest, verify_request,
};

#[cfg(test)]
mod tests;
