//! [`TaskClient`]: task registration against the AuthAPI (wire-format §3), with capped body reads
//! and retries of transient failures.

use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::{AgentIdentityRecord, AgentKey, AgentRuntimeId, Clock, SystemClock};
use reqwest::header::{ACCEPT, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use tokio::time::Instant;
use tracing::Instrument as _;
use tracing::field::Empty;

use crate::assertion::{AgentSigner, sign_registration};
use crate::base_url::AuthApiBaseUrl;
use crate::error::{Operation, TaskError, TaskErrorKind, body_excerpt};
use crate::retry::{backoff_cap, full_jitter, parse_retry_after};
use crate::sealed::{Opener, task_id_from_response};
use crate::task_id::TaskId;
use crate::timestamp::Timestamp;

/// 30 s: the reference client's registration timeout (wire-format §3).
pub const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);
/// Four attempts: the first and three retries.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 4;
/// Two minutes for the whole registration, retries and waits included: enough for the default
/// attempts to back off, short enough that a caller waiting at start-up hears back.
pub const DEFAULT_TOTAL_DEADLINE: Duration = Duration::from_secs(120);
/// The backoff cap before the first retry; it doubles for each further retry.
pub const DEFAULT_INITIAL_BACKOFF: Duration = Duration::from_millis(250);
/// The largest backoff cap (a `Retry-After` from the server may ask for longer, and is honoured up
/// to [`MAX_RETRY_AFTER`]).
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured: 5 minutes. A server asking for more is treated as down and
/// the registration fails at once with its answer, rather than stalling a caller without a total
/// deadline for as long as the server likes.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(5 * 60);
/// 64 KiB: a registration response is a few hundred bytes; anything near this is not one.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// How much of a non-2xx body is read, for the error message's excerpt.
const ERROR_BODY_READ_BYTES: usize = 4 * 1024;
const USER_AGENT_VALUE: &str = concat!("agent-identity-task/", env!("CARGO_PKG_VERSION"));

/// The AuthAPI client. Cheap to clone: clones share one `reqwest::Client` (and so its connection
/// pool) and one configuration.
#[derive(Clone, Debug)]
pub struct TaskClient {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    base: AuthApiBaseUrl,
    attempt_timeout: Option<Duration>,
    max_attempts: u32,
    total_deadline: Option<Duration>,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_body_bytes: usize,
    clock: Arc<dyn Clock>,
}

/// Configures a [`TaskClient`]. Every setting has a documented default.
#[derive(Debug)]
#[must_use]
pub struct TaskClientBuilder {
    http: Option<reqwest::Client>,
    base: AuthApiBaseUrl,
    attempt_timeout: Option<Duration>,
    max_attempts: u32,
    total_deadline: Option<Duration>,
    initial_backoff: Duration,
    max_backoff: Duration,
    max_body_bytes: usize,
    clock: Arc<dyn Clock>,
}

impl TaskClient {
    /// A builder for a client talking to `base`.
    pub fn builder(base: AuthApiBaseUrl) -> TaskClientBuilder {
        TaskClientBuilder {
            http: None,
            base,
            attempt_timeout: Some(DEFAULT_ATTEMPT_TIMEOUT),
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            total_deadline: Some(DEFAULT_TOTAL_DEADLINE),
            initial_backoff: DEFAULT_INITIAL_BACKOFF,
            max_backoff: DEFAULT_MAX_BACKOFF,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            clock: Arc::new(SystemClock),
        }
    }

    /// A client for `base` with every default.
    ///
    /// # Panics
    /// As `reqwest::Client::new`, if the TLS backend cannot be initialised.
    pub fn new(base: AuthApiBaseUrl) -> Self {
        Self::builder(base).build()
    }

    /// The AuthAPI base URL this client talks to.
    pub fn base_url(&self) -> &AuthApiBaseUrl {
        &self.inner.base
    }

    /// The HTTP client requests go through.
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The timeout of one attempt, if any.
    pub(crate) fn attempt_timeout(&self) -> Option<Duration> {
        self.inner.attempt_timeout
    }

    /// Registers a task for the identity (wire-format §3) and returns its id, decrypted if the
    /// server sent it sealed.
    ///
    /// Each attempt signs a fresh timestamp. Transient failures (connect errors, timeouts, broken
    /// connections, 429, 500–599) are retried with exponential backoff and full jitter, or after
    /// the server's `Retry-After`, within the attempt limit and the total deadline. Permanent
    /// failures are returned at once, and so is a transient one whose `Retry-After` exceeds
    /// [`MAX_RETRY_AFTER`] (5 minutes) or the time left before the deadline.
    ///
    /// # Errors
    /// A [`TaskError`] with [`Operation::Register`]: the last transient failure once the attempts
    /// or the deadline are spent, or the first permanent one (a 4xx status, a malformed or
    /// oversized 2xx body, a task id that does not decrypt, a key that cannot sign).
    pub async fn register_task(&self, record: &AgentIdentityRecord) -> Result<TaskId, TaskError> {
        self.register(record.key(), record.runtime_id()).await
    }

    /// [`register_task`](Self::register_task) for a key and runtime id held without a token.
    ///
    /// # Errors
    /// As for [`register_task`](Self::register_task).
    pub async fn register_task_as(&self, signer: &AgentSigner) -> Result<TaskId, TaskError> {
        self.register(signer.key(), signer.runtime_id()).await
    }

    async fn register(
        &self,
        key: &AgentKey,
        runtime_id: &AgentRuntimeId,
    ) -> Result<TaskId, TaskError> {
        let span = tracing::info_span!(
            "register_task",
            runtime_id = %runtime_id,
            attempts = Empty,
            outcome = Empty,
            status = Empty,
            error_kind = Empty,
        );
        let result = self
            .register_with_retries(key, runtime_id, &span)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(_) => {
                span.record("outcome", "registered");
                crate::metrics::registration("registered");
            }
            Err(error) => {
                let outcome = if error.is_transient() {
                    "transient_error"
                } else {
                    "permanent_error"
                };
                span.record("outcome", outcome);
                crate::metrics::registration(outcome);
                span.record("error_kind", error.kind());
                if let Some(status) = error.status() {
                    span.record("status", status);
                }
            }
        }
        result
    }

    async fn register_with_retries(
        &self,
        key: &AgentKey,
        runtime_id: &AgentRuntimeId,
        span: &tracing::Span,
    ) -> Result<TaskId, TaskError> {
        let inner = &*self.inner;
        // Parsed once: reqwest takes it as it is, and the answer's URL is compared with it.
        let url = reqwest::Url::parse(&inner.base.registration_url(runtime_id.as_str())?)
            .map_err(|_| TaskError::new(Operation::Register, TaskErrorKind::InvalidRuntimeId))?;
        let started = Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            span.record("attempts", attempt);
            let remaining = inner
                .total_deadline
                .map(|deadline| deadline.saturating_sub(started.elapsed()));
            let error = match self.attempt(&url, key, runtime_id, remaining).await {
                Ok(task_id) => return Ok(task_id),
                Err(error) => error,
            };
            if !error.is_transient() || attempt >= inner.max_attempts {
                return Err(error);
            }
            let delay = match error.retry_after() {
                Some(asked) if asked > MAX_RETRY_AFTER => {
                    tracing::info!(attempt, ?asked, error = %error, "giving up: the server asked to wait longer than MAX_RETRY_AFTER");
                    return Err(error);
                }
                Some(asked) => asked,
                None => full_jitter(backoff_cap(
                    inner.initial_backoff,
                    inner.max_backoff,
                    attempt,
                )),
            };
            if let Some(deadline) = inner.total_deadline {
                let resumes = started.elapsed().checked_add(delay);
                if resumes.is_none_or(|resumes| resumes >= deadline) {
                    tracing::info!(attempt, ?delay, error = %error, "giving up: the next attempt would start after the deadline");
                    return Err(error);
                }
            }
            tracing::info!(attempt, ?delay, error = %error, "task registration failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt: sign, POST, read the capped body, extract the task id.
    async fn attempt(
        &self,
        url: &reqwest::Url,
        key: &AgentKey,
        runtime_id: &AgentRuntimeId,
        remaining: Option<Duration>,
    ) -> Result<TaskId, TaskError> {
        let inner = &*self.inner;
        let at = Timestamp::from_system_time(inner.clock.now())
            .ok_or_else(|| TaskError::new(Operation::Register, TaskErrorKind::InvalidTimestamp))?;
        let body = sign_registration(key, runtime_id.as_str(), at, Operation::Register)?.to_json();
        let request = inner
            .http
            .post(url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .body(body);
        let exchange = async {
            // The key that opens a sealed answer is loaded while the request is in flight: the
            // yield lets the request go out first, and the answer then costs only the agreement.
            let (sent, opener) = futures_util::future::join(request.send(), async {
                tokio::task::yield_now().await;
                Opener::new(key)
            })
            .await;
            let response = sent.map_err(transport_error)?;
            self.read_response(response, url, key, opener.as_ref())
                .await
        };
        // The per-attempt timeout, shortened to what is left of the total deadline. Without a
        // per-attempt timeout, an attempt in flight is not cut short by the deadline either.
        let limit = inner
            .attempt_timeout
            .map(|timeout| remaining.map_or(timeout, |remaining| timeout.min(remaining)));
        match limit {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .unwrap_or_else(|_| {
                    Err(TaskError::new(Operation::Register, TaskErrorKind::Timeout))
                }),
            None => exchange.await,
        }
    }

    async fn read_response(
        &self,
        mut response: reqwest::Response,
        requested: &reqwest::Url,
        key: &AgentKey,
        opener: Option<&Opener>,
    ) -> Result<TaskId, TaskError> {
        let inner = &*self.inner;
        let status = response.status();
        // Our own client follows no redirects; a caller's client might, and then the answer came
        // from wherever it was sent, with our signed body.
        let same_url = response.url() == requested;
        if status.is_redirection() || !same_url {
            return Err(TaskError::new(
                Operation::Register,
                TaskErrorKind::Redirected,
            ));
        }
        if !status.is_success() {
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| parse_retry_after(value, inner.clock.now()));
            // The excerpt is best effort: a body that fails to arrive leaves the status alone.
            let limit = ERROR_BODY_READ_BYTES.min(inner.max_body_bytes);
            let excerpt = match read_capped(&mut response, limit, true).await {
                Ok(body) => body_excerpt(&body),
                Err(_) => None,
            };
            let mut error =
                TaskError::new(Operation::Register, TaskErrorKind::Status(status.as_u16()))
                    .with_retry_after(retry_after);
            if let Some(excerpt) = excerpt {
                error = error.with_detail(excerpt);
            }
            return Err(error);
        }
        if response
            .content_length()
            .is_some_and(|length| length > inner.max_body_bytes as u64)
        {
            return Err(too_large(inner.max_body_bytes));
        }
        let body = read_capped(&mut response, inner.max_body_bytes, false).await?;
        task_id_from_response(&body, key, opener)
    }
}

impl TaskClientBuilder {
    /// The HTTP client to use, for connection reuse with the rest of the program or custom TLS.
    /// Defaults to a client like `reqwest::Client::new()` that follows no redirects. A client
    /// given here should follow none either (`reqwest::redirect::Policy::none()`): if it does,
    /// the redirected request has already been sent, and its answer is refused as
    /// [`TaskErrorKind::Redirected`].
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.http = Some(client);
        self
    }

    /// The timeout of one attempt, from sending the request to the end of the body, or `None` for
    /// none. Defaults to [`DEFAULT_ATTEMPT_TIMEOUT`] (30 s).
    pub fn attempt_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.attempt_timeout = timeout.into();
        self
    }

    /// How many attempts at most, the first included; `0` is treated as `1`. Defaults to
    /// [`DEFAULT_MAX_ATTEMPTS`] (4).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The time the whole registration may take, or `None` for no limit: no retry starts after
    /// it, and an attempt's timeout is shortened to fit it. Even without one, no `Retry-After`
    /// longer than [`MAX_RETRY_AFTER`] is waited out. Defaults to [`DEFAULT_TOTAL_DEADLINE`]
    /// (120 s).
    pub fn total_deadline(mut self, deadline: impl Into<Option<Duration>>) -> Self {
        self.total_deadline = deadline.into();
        self
    }

    /// The backoff cap before the first retry, doubled for each further one. Defaults to
    /// [`DEFAULT_INITIAL_BACKOFF`] (250 ms).
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.initial_backoff = backoff;
        self
    }

    /// The largest backoff cap. Defaults to [`DEFAULT_MAX_BACKOFF`] (8 s).
    pub fn max_backoff(mut self, backoff: Duration) -> Self {
        self.max_backoff = backoff;
        self
    }

    /// The largest response body read; a larger one is refused without being read to its end.
    /// Defaults to [`DEFAULT_MAX_BODY_BYTES`] (64 KiB).
    pub fn max_body_bytes(mut self, max: usize) -> Self {
        self.max_body_bytes = max;
        self
    }

    /// Where the registration timestamp comes from. Defaults to the system clock.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Builds the client.
    ///
    /// # Panics
    /// When no client was given, as `reqwest::Client::new`, if the TLS backend cannot be initialised.
    pub fn build(self) -> TaskClient {
        TaskClient {
            inner: Arc::new(Inner {
                http: self.http.unwrap_or_else(no_redirect_client),
                base: self.base,
                attempt_timeout: self.attempt_timeout,
                max_attempts: self.max_attempts,
                total_deadline: self.total_deadline,
                initial_backoff: self.initial_backoff,
                max_backoff: self.max_backoff,
                max_body_bytes: self.max_body_bytes,
                clock: self.clock,
            }),
        }
    }
}

mod agent;
pub use agent::{AGENT_CAPABILITY, AgentBom, DEFAULT_AGENT_REGISTRATION_TIMEOUT};

/// The default HTTP client: reqwest's, but following no redirects (see
/// [`TaskErrorKind::Redirected`]).
fn no_redirect_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        // Only a TLS backend that cannot start fails here, and then `Client::new` panics as
        // documented on `build`.
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Reads the body chunk by chunk, stopping as soon as it would exceed `max`. With `truncate`, the
/// first `max` bytes are returned instead of an error (for error excerpts).
async fn read_capped(
    response: &mut reqwest::Response,
    max: usize,
    truncate: bool,
) -> Result<Vec<u8>, TaskError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
        let room = max - body.len();
        if chunk.len() > room {
            if truncate {
                body.extend_from_slice(&chunk[..room]);
                return Ok(body);
            }
            return Err(too_large(max));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large(max: usize) -> TaskError {
    TaskError::new(Operation::Register, TaskErrorKind::BodyTooLarge)
        .with_detail(format!("more than {max} bytes"))
}

/// Classifies a transport failure; the URL stays in the source for diagnosis (it holds only the
/// base URL and the runtime id, neither a secret).
fn transport_error(error: reqwest::Error) -> TaskError {
    let kind = if error.is_timeout() {
        TaskErrorKind::Timeout
    } else if error.is_connect() {
        TaskErrorKind::Connect
    } else {
        TaskErrorKind::Transport
    };
    TaskError::new(Operation::Register, kind).with_source(error)
}
