//! The client's signatures: the registration request body (wire-format §3) and the
//! `AgentAssertion` request header with its companions (§5).
//!
//! Everything here is a pure function of a parsed [`AgentKey`], ids and a time, so the cost of a
//! header is one Ed25519 signature plus two small allocations (the signed payload buffer, reused
//! for the envelope JSON, and the header string itself).

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use agent_identity_jwt::{AccountId, AgentIdentityRecord, AgentKey, AgentRuntimeId, KeyError};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::error::{Operation, TaskError, TaskErrorKind};
use crate::task_id::TaskId;
use crate::timestamp::Timestamp;

/// The `Authorization` scheme of wire-format §5.
pub const AGENT_ASSERTION_SCHEME: &str = "AgentAssertion";
/// The header that carries the assertion.
pub const AUTHORIZATION_HEADER: &str = "Authorization";
/// The companion header carrying the workspace id (wire-format §5).
pub const ACCOUNT_ID_HEADER: &str = "ChatGPT-Account-ID";
/// The companion header sent, with the value `true`, for FedRAMP accounts (wire-format §5).
pub const FEDRAMP_HEADER: &str = "X-OpenAI-Fedramp";

/// Length of standard base64 of a 64-byte Ed25519 signature, padding included.
const SIGNATURE_BASE64_LEN: usize = 88;
/// `AgentAssertion ` with its separating space.
const HEADER_PREFIX: &str = "AgentAssertion ";

/// An agent's key together with the runtime id it belongs to: everything needed to sign
/// registrations and assertions. Cheap to clone (the key is shared).
///
/// `Debug` shows the runtime id and `AgentKey(<redacted>)`.
#[derive(Clone, Debug)]
pub struct AgentSigner {
    key: AgentKey,
    runtime_id: AgentRuntimeId,
}

impl AgentSigner {
    /// Pairs a key with the runtime id the server assigned to it.
    pub fn new(key: AgentKey, runtime_id: impl Into<AgentRuntimeId>) -> Self {
        Self {
            key,
            runtime_id: runtime_id.into(),
        }
    }

    /// The signer of an agent identity: its key and its `agent_runtime_id`.
    pub fn from_record(record: &AgentIdentityRecord) -> Self {
        Self::new(record.key().clone(), record.runtime_id().clone())
    }

    /// The runtime id this signer speaks for.
    pub fn runtime_id(&self) -> &AgentRuntimeId {
        &self.runtime_id
    }

    /// The signing key.
    pub fn key(&self) -> &AgentKey {
        &self.key
    }

    /// The signed body of a registration request made at `at` (wire-format §3).
    ///
    /// # Errors
    /// [`TaskErrorKind::InvalidTimestamp`] when `at` is outside years 0000–9999, and
    /// [`TaskErrorKind::Signing`] when the key cannot sign.
    pub fn registration_request(&self, at: SystemTime) -> Result<RegistrationRequest, TaskError> {
        let at = timestamp(at, Operation::Register)?;
        sign_registration(&self.key, self.runtime_id.as_str(), at, Operation::Register)
    }

    /// The `Authorization` value `AgentAssertion {A}` for `task_id` at `at` (wire-format §5).
    ///
    /// # Errors
    /// [`TaskErrorKind::InvalidTimestamp`] when `at` is outside years 0000–9999, and
    /// [`TaskErrorKind::Signing`] when the key cannot sign.
    pub fn authorization_header(
        &self,
        task_id: &TaskId,
        at: SystemTime,
    ) -> Result<String, TaskError> {
        let at = timestamp(at, Operation::BuildAssertion)?;
        build_header(
            &self.key,
            self.runtime_id.as_str(),
            task_id.as_str(),
            at.text().as_str(),
        )
    }

    /// Like [`authorization_header`](Self::authorization_header), for a caller that names the
    /// runtime it means to speak for: refused unless it is this signer's own.
    ///
    /// # Errors
    /// [`TaskErrorKind::RuntimeMismatch`] when `runtime_id` is not [`runtime_id`](Self::runtime_id),
    /// and the errors of [`authorization_header`](Self::authorization_header).
    pub fn authorization_header_for(
        &self,
        runtime_id: &AgentRuntimeId,
        task_id: &TaskId,
        at: SystemTime,
    ) -> Result<String, TaskError> {
        check_runtime(&self.runtime_id, runtime_id)?;
        self.authorization_header(task_id, at)
    }
}

/// The body of a registration request: `{"timestamp": T, "signature": S}` (wire-format §3).
#[derive(Clone, PartialEq, Eq)]
pub struct RegistrationRequest {
    timestamp: Timestamp,
    signature: String,
}

impl RegistrationRequest {
    /// `T`, the time the request was signed.
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// `S`: standard base64 of the Ed25519 signature over `"{agent_runtime_id}:{T}"`.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The JSON body, with exactly the two keys `timestamp` and `signature`.
    pub fn to_json(&self) -> String {
        let timestamp = self.timestamp.text();
        let mut json = String::with_capacity(40 + self.signature.len());
        json.push_str("{\"timestamp\":\"");
        json.push_str(timestamp.as_str());
        json.push_str("\",\"signature\":\"");
        json.push_str(&self.signature);
        json.push_str("\"}");
        json
    }
}

impl fmt::Debug for RegistrationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The signature is a short-lived credential: shown only as present.
        f.debug_struct("RegistrationRequest")
            .field("timestamp", &self.timestamp)
            .field("signature", &"<redacted>")
            .finish()
    }
}

/// The headers every request made as an agent carries (wire-format §5): `Authorization`,
/// `ChatGPT-Account-ID`, and `X-OpenAI-Fedramp: true` for FedRAMP accounts.
///
/// A clone is a reference count: the values are built once, as text and as [`http`] header
/// values, and shared by every request that carries them.
///
/// `Debug` redacts the assertion, which is a bearer credential for its skew window.
#[derive(Clone, PartialEq, Eq)]
pub struct RequestHeaders {
    inner: Arc<HeadersInner>,
}

#[derive(PartialEq, Eq)]
struct HeadersInner {
    authorization: String,
    account_id: AccountId,
    fedramp: bool,
    /// `authorization` (marked sensitive) and `account_id` as header values; `None` when the
    /// account id holds a character a header value cannot.
    values: Option<(http::HeaderValue, http::HeaderValue)>,
}

impl RequestHeaders {
    pub(crate) fn new(authorization: String, account_id: AccountId, fedramp: bool) -> Self {
        let values = http::HeaderValue::from_str(&authorization)
            .ok()
            .zip(http::HeaderValue::from_str(account_id.as_str()).ok())
            .map(|(mut authorization, account_id)| {
                authorization.set_sensitive(true);
                (authorization, account_id)
            });
        Self {
            inner: Arc::new(HeadersInner {
                authorization,
                account_id,
                fedramp,
                values,
            }),
        }
    }

    /// The `Authorization` value, `AgentAssertion {A}`.
    pub fn authorization(&self) -> &str {
        &self.inner.authorization
    }

    /// The `ChatGPT-Account-ID` value.
    pub fn chatgpt_account_id(&self) -> &str {
        self.inner.account_id.as_str()
    }

    /// Whether `X-OpenAI-Fedramp: true` is sent.
    pub fn fedramp(&self) -> bool {
        self.inner.fedramp
    }

    /// The headers as (name, value) pairs, in the order above; the FedRAMP header only when set.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        [
            (AUTHORIZATION_HEADER, self.authorization()),
            (ACCOUNT_ID_HEADER, self.chatgpt_account_id()),
        ]
        .into_iter()
        .chain(self.inner.fedramp.then_some((FEDRAMP_HEADER, "true")))
    }

    /// The headers as an [`http::HeaderMap`]: lowercase names (`authorization`,
    /// `chatgpt-account-id`, `x-openai-fedramp`), and the `authorization` value marked sensitive,
    /// so that `http`'s `Debug` and HPACK leave it out.
    ///
    /// # Errors
    /// [`TaskErrorKind::InvalidHeaderValue`] when the account id holds a character a header value
    /// cannot (a control character): the token's claim is not a usable header.
    pub fn to_header_map(&self) -> Result<http::HeaderMap, TaskError> {
        let mut map = http::HeaderMap::with_capacity(3);
        self.insert_into(&mut map)?;
        Ok(map)
    }

    /// Sets the headers in `map`, as [`RequestHeaders::to_header_map`] has them, replacing any
    /// of the same name; for an account that is not FedRAMP, an `X-OpenAI-Fedramp` already in
    /// `map` is removed. The values are shared, not copied.
    ///
    /// # Errors
    /// As [`RequestHeaders::to_header_map`]; `map` is then unchanged.
    pub fn insert_into(&self, map: &mut http::HeaderMap) -> Result<(), TaskError> {
        let values = self.header_values()?;
        if !self.inner.fedramp {
            map.remove(FEDRAMP_HEADER_NAME);
        }
        for (name, value) in values {
            map.insert(name, value.clone());
        }
        Ok(())
    }

    /// The headers as [`http`] names and values, as [`RequestHeaders::to_header_map`] has them
    /// and in the order of [`RequestHeaders::iter`]: shared, not copied. For writing them straight
    /// into a request head, without a map to put them in first.
    ///
    /// # Errors
    /// As [`RequestHeaders::to_header_map`].
    pub fn header_values(
        &self,
    ) -> Result<impl Iterator<Item = (http::HeaderName, &http::HeaderValue)> + '_, TaskError> {
        static FEDRAMP_TRUE: http::HeaderValue = http::HeaderValue::from_static("true");
        let Some((authorization, account_id)) = &self.inner.values else {
            return Err(TaskError::new(
                Operation::BuildAssertion,
                TaskErrorKind::InvalidHeaderValue,
            ));
        };
        Ok([
            (http::header::AUTHORIZATION, authorization),
            (ACCOUNT_ID_HEADER_NAME, account_id),
        ]
        .into_iter()
        .chain(
            self.inner
                .fedramp
                .then_some((FEDRAMP_HEADER_NAME, &FEDRAMP_TRUE)),
        ))
    }
}

/// [`ACCOUNT_ID_HEADER`] as an `http::HeaderName` (lowercase, as `HeaderName` holds it).
pub const ACCOUNT_ID_HEADER_NAME: http::HeaderName =
    http::HeaderName::from_static("chatgpt-account-id");
/// [`FEDRAMP_HEADER`] as an `http::HeaderName`.
pub const FEDRAMP_HEADER_NAME: http::HeaderName = http::HeaderName::from_static("x-openai-fedramp");

impl TryFrom<&RequestHeaders> for http::HeaderMap {
    type Error = TaskError;

    fn try_from(headers: &RequestHeaders) -> Result<Self, Self::Error> {
        headers.to_header_map()
    }
}

impl fmt::Debug for RequestHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHeaders")
            .field("authorization", &"AgentAssertion <redacted>")
            .field("chatgpt_account_id", &self.inner.account_id)
            .field("fedramp", &self.inner.fedramp)
            .finish()
    }
}

/// The `Authorization` value for `task_id` at `at`, signed with the identity's own key and runtime id.
///
/// # Errors
/// [`TaskErrorKind::InvalidTimestamp`] when `at` is outside years 0000–9999, and
/// [`TaskErrorKind::Signing`] when the key cannot sign.
pub fn authorization_header(
    record: &AgentIdentityRecord,
    task_id: &TaskId,
    at: SystemTime,
) -> Result<String, TaskError> {
    let at = timestamp(at, Operation::BuildAssertion)?;
    build_header(
        record.key(),
        record.runtime_id().as_str(),
        task_id.as_str(),
        at.text().as_str(),
    )
}

/// [`authorization_header`] for a caller that names the runtime it means to speak for.
///
/// # Errors
/// [`TaskErrorKind::RuntimeMismatch`] when `runtime_id` is not the record's own, and the errors
/// of [`authorization_header`].
pub fn authorization_header_for(
    record: &AgentIdentityRecord,
    runtime_id: &AgentRuntimeId,
    task_id: &TaskId,
    at: SystemTime,
) -> Result<String, TaskError> {
    check_runtime(record.runtime_id(), runtime_id)?;
    authorization_header(record, task_id, at)
}

/// All the headers of a request made as the agent for `task_id` at `at`.
///
/// # Errors
/// As for [`authorization_header`].
pub fn request_headers(
    record: &AgentIdentityRecord,
    task_id: &TaskId,
    at: SystemTime,
) -> Result<RequestHeaders, TaskError> {
    Ok(RequestHeaders::new(
        authorization_header(record, task_id, at)?,
        record.account_id().clone(),
        record.is_fedramp(),
    ))
}

fn check_runtime(own: &AgentRuntimeId, requested: &AgentRuntimeId) -> Result<(), TaskError> {
    if own == requested {
        return Ok(());
    }
    Err(
        TaskError::new(Operation::BuildAssertion, TaskErrorKind::RuntimeMismatch)
            .with_detail(format!("asked for {requested:?}, the identity is {own:?}")),
    )
}

fn timestamp(at: SystemTime, operation: Operation) -> Result<Timestamp, TaskError> {
    Timestamp::from_system_time(at)
        .ok_or_else(|| TaskError::new(operation, TaskErrorKind::InvalidTimestamp))
}

fn signing_error(operation: Operation, error: KeyError) -> TaskError {
    TaskError::new(operation, TaskErrorKind::Signing).with_source(error)
}

/// Signs `message` and writes the standard base64 of the signature into a stack buffer.
fn sign_base64(
    key: &AgentKey,
    message: &[u8],
    operation: Operation,
) -> Result<[u8; SIGNATURE_BASE64_LEN], TaskError> {
    let signature = key
        .sign(message)
        .map_err(|error| signing_error(operation, error))?;
    let mut out = [0u8; SIGNATURE_BASE64_LEN];
    match STANDARD.encode_slice(signature, &mut out) {
        Ok(SIGNATURE_BASE64_LEN) => Ok(out),
        // 64 bytes always encode to 88 characters; anything else is a bug, reported, not panicked.
        _ => Err(TaskError::new(operation, TaskErrorKind::Signing)),
    }
}

pub(crate) fn sign_registration(
    key: &AgentKey,
    runtime_id: &str,
    at: Timestamp,
    operation: Operation,
) -> Result<RegistrationRequest, TaskError> {
    let text = at.text();
    let mut payload = Vec::with_capacity(runtime_id.len() + 1 + text.as_str().len());
    payload.extend_from_slice(runtime_id.as_bytes());
    payload.push(b':');
    payload.extend_from_slice(text.as_str().as_bytes());
    let signature = sign_base64(key, &payload, operation)?;
    Ok(RegistrationRequest {
        timestamp: at,
        signature: signature.iter().map(|&b| char::from(b)).collect(),
    })
}

/// Builds `AgentAssertion {A}`: signs `"{runtime}:{task}:{timestamp}"`, then writes the envelope
/// JSON (keys sorted, no spaces) into the same buffer and base64url-encodes it without padding.
pub(crate) fn build_header(
    key: &AgentKey,
    runtime_id: &str,
    task_id: &str,
    timestamp: &str,
) -> Result<String, TaskError> {
    let started = std::time::Instant::now();
    let header = build_header_untimed(key, runtime_id, task_id, timestamp);
    crate::metrics::assertion_signed(started.elapsed());
    header
}

fn build_header_untimed(
    key: &AgentKey,
    runtime_id: &str,
    task_id: &str,
    timestamp: &str,
) -> Result<String, TaskError> {
    // One buffer, sized for the envelope (the larger use): the fixed JSON text is 60 bytes.
    let mut buffer = Vec::with_capacity(
        60 + SIGNATURE_BASE64_LEN
            + escaped_len(runtime_id)
            + escaped_len(task_id)
            + escaped_len(timestamp),
    );
    buffer.extend_from_slice(runtime_id.as_bytes());
    buffer.push(b':');
    buffer.extend_from_slice(task_id.as_bytes());
    buffer.push(b':');
    buffer.extend_from_slice(timestamp.as_bytes());
    let signature = sign_base64(key, &buffer, Operation::BuildAssertion)?;

    buffer.clear();
    buffer.extend_from_slice(b"{\"agent_runtime_id\":");
    write_json_string(&mut buffer, runtime_id);
    buffer.extend_from_slice(b",\"signature\":\"");
    buffer.extend_from_slice(&signature);
    buffer.extend_from_slice(b"\",\"task_id\":");
    write_json_string(&mut buffer, task_id);
    buffer.extend_from_slice(b",\"timestamp\":");
    write_json_string(&mut buffer, timestamp);
    buffer.push(b'}');

    let mut header = String::with_capacity(HEADER_PREFIX.len() + buffer.len().div_ceil(3) * 4);
    header.push_str(HEADER_PREFIX);
    URL_SAFE_NO_PAD.encode_string(&buffer, &mut header);
    Ok(header)
}

/// The length of `text` as a JSON string literal, quotes included.
fn escaped_len(text: &str) -> usize {
    2 + text
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Writes `text` as a JSON string literal, escaping as `serde_json` does: `"`, `\`, the short
/// escapes for control characters that have them, `\u00XX` for the rest, other text verbatim.
fn write_json_string(out: &mut Vec<u8>, text: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in text.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..0x20 => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 0xf)],
            ]),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests;
