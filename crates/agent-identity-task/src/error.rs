//! The crate's one error type for clients, [`TaskError`], and its transient/permanent classification.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// How many characters of a non-2xx response body an error message may quote.
pub(crate) const BODY_EXCERPT_CHARS: usize = 200;

/// What the crate was doing when a [`TaskError`] happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Resolving or parsing the AuthAPI base URL (wire-format §4).
    ResolveBaseUrl,
    /// Registering a task (wire-format §3).
    Register,
    /// Building an `AgentAssertion` header or its companions (wire-format §5).
    BuildAssertion,
    /// Sealing a task id for an agent (the server side of §3).
    SealTaskId,
    /// Opening an encrypted task id (§3).
    OpenTaskId,
    /// Registering an agent from a ChatGPT login (`POST /v1/agent/register`).
    RegisterAgent,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Self::ResolveBaseUrl => "resolving the authapi base url",
            Self::Register => "task registration",
            Self::BuildAssertion => "building the agent assertion",
            Self::SealTaskId => "sealing the task id",
            Self::OpenTaskId => "opening the encrypted task id",
            Self::RegisterAgent => "agent registration",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why an operation failed, for callers that branch on the cause.
///
/// Most callers only need [`TaskError::is_transient`]; this enum is for the few that need more
/// (tests, metrics, a UI message). New variants may be added in minor releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskErrorKind {
    /// The AuthAPI base URL is not usable (not a URL, `http` for a non-loopback host, a query…).
    Config,
    /// The runtime id cannot be sent as one URL path segment (`.` or `..`).
    InvalidRuntimeId,
    /// No connection to the AuthAPI could be made. Transient.
    Connect,
    /// An attempt took longer than its timeout. Transient.
    Timeout,
    /// The connection failed after it was made (reset, closed mid-body). Transient.
    Transport,
    /// The AuthAPI answered with a non-2xx status. Transient for 429 and 500–599.
    Status(u16),
    /// The response body is larger than the configured cap.
    BodyTooLarge,
    /// The AuthAPI answered with a redirect (or a caller-supplied client followed one). Redirects
    /// are never followed: one would re-send the signed registration to another origin, or turn
    /// it into a GET whose answer would be taken for the AuthAPI's.
    Redirected,
    /// A 2xx response whose body is not a JSON object, or whose task id field is not a string.
    MalformedResponse,
    /// A 2xx response with none of `task_id`, `taskId`, `encrypted_task_id`, `encryptedTaskId`.
    MissingTaskId,
    /// The encrypted task id is not standard base64.
    BadBase64,
    /// The sealed box does not open with the agent's key.
    Undecryptable,
    /// The decrypted task id is not UTF-8.
    NotUtf8,
    /// The task id is longer than [`MAX_TASK_ID_BYTES`](crate::MAX_TASK_ID_BYTES) or holds control
    /// characters.
    InvalidTaskId,
    /// The agent key cannot sign (a PKCS#8 v2 key whose public key does not match its seed).
    Signing,
    /// A key given to seal a task id is not usable (not a valid Ed25519 public key).
    InvalidKey,
    /// An assertion was requested for a runtime id other than the identity's own.
    RuntimeMismatch,
    /// The time cannot be written as an RFC 3339 timestamp with a four-digit year.
    InvalidTimestamp,
    /// A request header cannot carry the identity's value (an account id with a control
    /// character).
    InvalidHeaderValue,
}

impl TaskErrorKind {
    /// Whether a retry may succeed: connect errors, timeouts, broken connections, 429 and 500–599.
    ///
    /// This is the one place the crate classifies failures; the retry loop and callers both use it.
    pub fn is_transient(self) -> bool {
        match self {
            Self::Connect | Self::Timeout | Self::Transport => true,
            Self::Status(status) => status == 429 || (500..=599).contains(&status),
            Self::Config
            | Self::InvalidRuntimeId
            | Self::BodyTooLarge
            | Self::Redirected
            | Self::MalformedResponse
            | Self::MissingTaskId
            | Self::BadBase64
            | Self::Undecryptable
            | Self::NotUtf8
            | Self::InvalidTaskId
            | Self::Signing
            | Self::InvalidKey
            | Self::RuntimeMismatch
            | Self::InvalidTimestamp
            | Self::InvalidHeaderValue => false,
        }
    }
}

impl fmt::Display for TaskErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config => f.write_str("invalid authapi base url"),
            Self::InvalidRuntimeId => {
                f.write_str("the agent runtime id cannot be sent as a url path segment")
            }
            Self::Connect => f.write_str("could not connect to the authapi"),
            Self::Timeout => f.write_str("the authapi did not answer in time"),
            Self::Transport => f.write_str("the connection to the authapi failed"),
            Self::Status(status) => write!(f, "the authapi answered with status {status}"),
            Self::BodyTooLarge => f.write_str("the response body exceeds the size limit"),
            Self::Redirected => {
                f.write_str("the authapi answered with a redirect, and redirects are not followed")
            }
            Self::MalformedResponse => f.write_str("the response is not the expected json"),
            Self::MissingTaskId => f.write_str("the response carries no task id"),
            Self::BadBase64 => f.write_str("the encrypted task id is not standard base64"),
            Self::Undecryptable => {
                f.write_str("the encrypted task id does not open with the agent's key")
            }
            Self::NotUtf8 => f.write_str("the decrypted task id is not utf-8"),
            Self::InvalidTaskId => {
                f.write_str("the task id is too long or holds control characters")
            }
            Self::Signing => f.write_str("the agent key cannot sign"),
            Self::InvalidKey => f.write_str("the key cannot be used to seal a task id"),
            Self::RuntimeMismatch => f.write_str("the runtime id is not the identity's own"),
            Self::InvalidTimestamp => {
                f.write_str("the time is outside the range of rfc 3339 timestamps")
            }
            Self::InvalidHeaderValue => {
                f.write_str("the account id cannot be sent as a header value")
            }
        }
    }
}

/// A failure of this crate's client side: base URL resolution, task registration, header building.
///
/// Opaque on purpose: ask [`is_transient`](Self::is_transient) whether to retry, [`status`](Self::status)
/// for the HTTP status, [`kind`](Self::kind) for a stable name to log, and
/// [`reason`](Self::reason) when you must branch on the exact cause. The
/// message is lowercase, may quote up to 200 characters of a non-2xx response body (with every
/// long base64 run, such as an echoed signature, replaced by `<redacted>`), and never contains a
/// key, a token or a signature. Cheap to clone, so one failure can be handed to many waiters.
#[derive(Clone)]
pub struct TaskError {
    kind: TaskErrorKind,
    operation: Operation,
    detail: Option<Box<str>>,
    retry_after: Option<Duration>,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl TaskError {
    pub(crate) fn new(operation: Operation, kind: TaskErrorKind) -> Self {
        Self {
            kind,
            operation,
            detail: None,
            retry_after: None,
            source: None,
        }
    }

    /// The same failure, as part of `operation`.
    pub(crate) fn during(mut self, operation: Operation) -> Self {
        self.operation = operation;
        self
    }

    pub(crate) fn with_detail(mut self, detail: impl Into<Box<str>>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub(crate) fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    pub(crate) fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// What exactly is wrong, when more than the kind says: for a [`TaskErrorKind::Config`]
    /// error, the reason the base URL was refused (prefixed with the variable it came from,
    /// when it came from one); for a non-2xx answer, an excerpt of the body. Never a secret.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    /// The cause, for callers that branch on it.
    pub fn reason(&self) -> TaskErrorKind {
        self.kind
    }

    /// A stable snake_case name of the cause, for logs and machine-readable output (`connect`,
    /// `status`, `malformed_response`…).
    pub fn kind(&self) -> &'static str {
        match self.kind {
            TaskErrorKind::Config => "config",
            TaskErrorKind::InvalidRuntimeId => "invalid_runtime_id",
            TaskErrorKind::Connect => "connect",
            TaskErrorKind::Timeout => "timeout",
            TaskErrorKind::Transport => "transport",
            TaskErrorKind::Status(_) => "status",
            TaskErrorKind::BodyTooLarge => "body_too_large",
            TaskErrorKind::Redirected => "redirected",
            TaskErrorKind::MalformedResponse => "malformed_response",
            TaskErrorKind::MissingTaskId => "missing_task_id",
            TaskErrorKind::BadBase64 => "bad_base64",
            TaskErrorKind::Undecryptable => "undecryptable",
            TaskErrorKind::NotUtf8 => "not_utf8",
            TaskErrorKind::InvalidTaskId => "invalid_task_id",
            TaskErrorKind::Signing => "signing",
            TaskErrorKind::InvalidKey => "invalid_key",
            TaskErrorKind::RuntimeMismatch => "runtime_mismatch",
            TaskErrorKind::InvalidTimestamp => "invalid_timestamp",
            TaskErrorKind::InvalidHeaderValue => "invalid_header_value",
        }
    }

    /// What was being done.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// Whether retrying later may succeed (see [`TaskErrorKind::is_transient`]).
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    /// The HTTP status of a non-2xx answer.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            TaskErrorKind::Status(status) => Some(status),
            _ => None,
        }
    }

    /// How long the server asked us to wait (`Retry-After`), when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failed: {}", self.operation, self.kind)?;
        if let Some(detail) = &self.detail {
            write!(f, ": {detail}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("TaskError");
        out.field("operation", &self.operation)
            .field("kind", &self.kind);
        if let Some(detail) = &self.detail {
            out.field("detail", detail);
        }
        if let Some(retry_after) = &self.retry_after {
            out.field("retry_after", retry_after);
        }
        if let Some(source) = &self.source {
            out.field("source", source);
        }
        out.finish()
    }
}

impl StdError for TaskError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn StdError + 'static))
    }
}

/// Up to [`BODY_EXCERPT_CHARS`] characters of a response body, secrets scrubbed and control
/// characters replaced, for an error message. Invalid UTF-8 is replaced rather than rejected: this
/// is only for humans.
///
/// A server that echoes the request would put the registration signature (replayable for the
/// ±300 s skew) into the message, so every run of [`REDACTED_RUN_CHARS`] or more base64 or
/// base64url characters is replaced by [`REDACTED`] first, before truncation, so that no prefix
/// of a secret survives the cut either.
pub(crate) fn body_excerpt(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let text = redact_base64_runs(text.trim());
    if text.is_empty() {
        return None;
    }
    let mut excerpt: String = text
        .chars()
        .take(BODY_EXCERPT_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if text.chars().nth(BODY_EXCERPT_CHARS).is_some() {
        excerpt.push('…');
    }
    Some(excerpt)
}

/// The shortest run of base64 characters scrubbed from an excerpt: 40, well under the 88 of a
/// registration signature and the length of any key or token segment, and above the 36 of a UUID
/// or the short words and codes an error body is made of.
pub(crate) const REDACTED_RUN_CHARS: usize = 40;
/// What a scrubbed run is replaced with.
pub(crate) const REDACTED: &str = "<redacted>";

/// Replaces every run of [`REDACTED_RUN_CHARS`] or more characters of `[A-Za-z0-9+/_=-]`
/// (standard and URL-safe base64, padding included) with [`REDACTED`].
fn redact_base64_runs(text: &str) -> String {
    fn is_base64(c: char) -> bool {
        c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '_' | '=' | '-')
    }
    fn push_run(out: &mut String, run: &str) {
        // The run is ASCII, so its length in bytes is its length in characters.
        out.push_str(if run.len() >= REDACTED_RUN_CHARS {
            REDACTED
        } else {
            run
        });
    }
    let mut out = String::with_capacity(text.len());
    let mut run_start = None;
    for (index, c) in text.char_indices() {
        if is_base64(c) {
            run_start.get_or_insert(index);
            continue;
        }
        if let Some(start) = run_start.take() {
            push_run(&mut out, &text[start..index]);
        }
        out.push(c);
    }
    if let Some(start) = run_start {
        push_run(&mut out, &text[start..]);
    }
    out
}

#[cfg(test)]
mod tests;
