//! The resource-server side: a tower [`Layer`](tower_layer::Layer) that verifies
//! `AgentAssertion` headers, and an axum extractor for the agent it verified.
//!
//! [`AgentAssertionLayer`] checks every request's `Authorization: AgentAssertion …` header with
//! [`verify_assertion`] against an [`AgentDirectory`] (the
//! runtimes you know, with their public keys and accounts, and the tasks you consider valid),
//! then checks that `ChatGPT-Account-ID` names the runtime's account. A request that passes
//! reaches your service with a [`VerifiedAgent`] in its extensions; take it in an axum handler as
//! an argument. Any other request is answered `401` with
//! `WWW-Authenticate: AgentAssertion error="<kind>"` and a JSON body
//! `{"error": "<kind>", "message": "…"}`, without reaching your service. The kinds are
//! `missing` (no `Authorization` header), `wrong_account`, and those of
//! [`AssertionError::kind`]: `malformed`, `unknown_runtime`, `bad_signature`,
//! `task_not_issued`, `stale`.
//!
//! # Replay: what this cannot protect against
//!
//! The wire format cannot be protected against replay inside the skew window. An assertion is a
//! deterministic Ed25519 signature over `runtime_id:task_id:timestamp`, with a timestamp of
//! one-second resolution, and nothing in it is bound to the request: not the method, the path,
//! the body, nor a nonce. Anyone who sees one request's header (a log line, a proxy) can send it
//! with any other request to any server that trusts the runtime, for as long as the timestamp is
//! within the verifier's skew of the server's clock: by default
//! [`DEFAULT_SKEW`], ±300 s, so up to ten minutes for a header
//! signed at the start of the window. Two requests signed in the same second carry byte-identical
//! headers, so a server cannot tell a replay from a second request by the header alone. Shorten
//! the window with [`AgentAssertionLayer::skew`], send agent traffic over TLS only, and keep the
//! header out of logs; revoking the task ([`AgentDirectory::task_valid`] returning `false`) ends
//! every replay of its assertions at once.

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use agent_identity_jwt::{AccountId, AgentRuntimeId};
use agent_identity_task::{
    ACCOUNT_ID_HEADER, AssertionError, AssertionLookup, DEFAULT_SKEW, TaskId, Timestamp,
    verify_assertion,
};
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode, header};

/// What a server knows about one agent runtime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRuntime {
    public_key: [u8; 32],
    account_id: AccountId,
    fedramp: bool,
}

impl KnownRuntime {
    /// A runtime with its raw 32-byte Ed25519 public key and the account it belongs to; not a
    /// FedRAMP account unless [`KnownRuntime::fedramp`] says so.
    pub fn new(public_key: [u8; 32], account_id: impl Into<AccountId>) -> Self {
        Self {
            public_key,
            account_id: account_id.into(),
            fedramp: false,
        }
    }

    /// Whether the runtime's account is a FedRAMP account. Defaults to `false`.
    pub fn fedramp(mut self, fedramp: bool) -> Self {
        self.fedramp = fedramp;
        self
    }
}

/// The lookups the layer needs: the runtime behind a runtime id, and whether a task is valid.
///
/// Both are called on the request path, synchronously: answer from memory (a map refreshed in
/// the background), not over the network.
pub trait AgentDirectory: Send + Sync + 'static {
    /// The runtime with this id, if it is known.
    fn runtime(&self, runtime_id: &str) -> Option<KnownRuntime>;

    /// Whether `task_id` was issued to `runtime_id` and is still valid (not revoked).
    fn task_valid(&self, runtime_id: &str, task_id: &str) -> bool;
}

/// A shared directory, so that the server can keep updating it (revoking tasks) after giving it
/// to the layer.
impl<D: AgentDirectory + ?Sized> AgentDirectory for Arc<D> {
    fn runtime(&self, runtime_id: &str) -> Option<KnownRuntime> {
        (**self).runtime(runtime_id)
    }

    fn task_valid(&self, runtime_id: &str, task_id: &str) -> bool {
        (**self).task_valid(runtime_id, task_id)
    }
}

/// The agent a request was verified to come from, in the request's extensions; an axum handler
/// takes it as an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedAgent {
    runtime_id: AgentRuntimeId,
    task_id: TaskId,
    account_id: AccountId,
    fedramp: bool,
    signed_at: Timestamp,
}

impl VerifiedAgent {
    /// The runtime that signed.
    pub fn runtime_id(&self) -> &AgentRuntimeId {
        &self.runtime_id
    }

    /// The task it proved.
    pub fn task_id(&self) -> &TaskId {
        &self.task_id
    }

    /// The runtime's account, which the request's `ChatGPT-Account-ID` matched.
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }

    /// Whether the runtime's account is a FedRAMP account (from the directory, not the request).
    pub fn is_fedramp(&self) -> bool {
        self.fedramp
    }

    /// When the assertion was signed.
    pub fn signed_at(&self) -> Timestamp {
        self.signed_at
    }
}

/// Why the layer refused a request. Its [`kind`](Self::kind) is the `error` of the 401's
/// challenge and body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectedAssertion {
    /// No `Authorization` header (or one that is not text).
    #[error("no agent assertion")]
    Missing,
    /// `ChatGPT-Account-ID` is missing or is not the runtime's account.
    #[error("the account id is not the agent runtime's account")]
    WrongAccount,
    /// The assertion itself failed a check.
    #[error(transparent)]
    Assertion(#[from] AssertionError),
}

impl RejectedAssertion {
    /// `missing`, `wrong_account`, or the assertion error's [`AssertionError::kind`].
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::WrongAccount => "wrong_account",
            Self::Assertion(error) => error.kind(),
        }
    }
}

impl IntoResponse for RejectedAssertion {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.kind(), "message": self.to_string() });
        let challenge = format!("AgentAssertion error=\"{}\"", self.kind());
        let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// The system clock, unless a test supplies another.
type Now = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A tower [`Layer`](tower_layer::Layer) that lets through only requests with a valid
/// `AgentAssertion` (see the [module documentation](self), including what it cannot do about
/// replays). Cheap to clone.
#[derive(Clone)]
pub struct AgentAssertionLayer {
    directory: Arc<dyn AgentDirectory>,
    skew: Duration,
    now: Now,
}

impl std::fmt::Debug for AgentAssertionLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentAssertionLayer")
            .field("skew", &self.skew)
            .finish_non_exhaustive()
    }
}

impl AgentAssertionLayer {
    /// Verifies against `directory`, with a skew of [`DEFAULT_SKEW`] (±300 s) and the system
    /// clock.
    pub fn new(directory: impl AgentDirectory) -> Self {
        Self {
            directory: Arc::new(directory),
            skew: DEFAULT_SKEW,
            now: Arc::new(SystemTime::now),
        }
    }

    /// How far an assertion's timestamp may be from the server's clock, either way. Defaults to
    /// [`DEFAULT_SKEW`]. This is also the replay window.
    pub fn skew(mut self, skew: Duration) -> Self {
        self.skew = skew;
        self
    }

    /// The clock the timestamps are checked against. Defaults to the system clock.
    pub fn clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.now = Arc::new(now);
        self
    }

    /// Verifies one request's headers: the checks the layer runs, for servers that are not
    /// built on tower.
    ///
    /// # Errors
    /// The first check that fails, as a [`RejectedAssertion`].
    pub fn verify(&self, headers: &http::HeaderMap) -> Result<VerifiedAgent, RejectedAssertion> {
        let value = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .ok_or(RejectedAssertion::Missing)?;
        let lookup = Lookup {
            directory: &*self.directory,
            runtime: std::cell::OnceCell::new(),
        };
        let verified = verify_assertion(value, &lookup, (self.now)(), self.skew)?;
        // The signature verified, so the runtime was found; its record is cached in `lookup`.
        let known = lookup
            .runtime
            .get()
            .cloned()
            .flatten()
            .ok_or(AssertionError::UnknownRuntime)?;
        let claimed = headers
            .get(ACCOUNT_ID_HEADER)
            .and_then(|value| value.to_str().ok());
        if claimed != Some(known.account_id.as_str()) {
            return Err(RejectedAssertion::WrongAccount);
        }
        Ok(VerifiedAgent {
            runtime_id: verified.runtime_id().clone(),
            task_id: verified.task_id().clone(),
            account_id: known.account_id,
            fedramp: known.fedramp,
            signed_at: verified.timestamp(),
        })
    }
}

/// The directory as the task crate's verifier asks it, remembering the runtime it found.
struct Lookup<'a> {
    directory: &'a dyn AgentDirectory,
    runtime: std::cell::OnceCell<Option<KnownRuntime>>,
}

impl AssertionLookup for Lookup<'_> {
    fn public_key(&self, runtime_id: &str) -> Option<[u8; 32]> {
        self.runtime
            .get_or_init(|| self.directory.runtime(runtime_id))
            .as_ref()
            .map(|known| known.public_key)
    }

    fn task_issued(&self, runtime_id: &str, task_id: &str) -> bool {
        self.directory.task_valid(runtime_id, task_id)
    }
}

impl<S> tower_layer::Layer<S> for AgentAssertionLayer {
    type Service = AgentAssertionService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        AgentAssertionService {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service [`AgentAssertionLayer`] wraps around yours.
#[derive(Debug, Clone)]
pub struct AgentAssertionService<S> {
    inner: S,
    layer: AgentAssertionLayer,
}

impl<S, B> tower_service::Service<Request<B>> for AgentAssertionService<S>
where
    S: tower_service::Service<Request<B>, Response = Response<Body>>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = Either<Ready<Result<Response<Body>, S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match self.layer.verify(request.headers()) {
            Ok(agent) => {
                request.extensions_mut().insert(agent);
                Either::Right(self.inner.call(request))
            }
            Err(rejected) => Either::Left(ready(Ok(rejected.into_response()))),
        }
    }
}

/// The extractor's rejection when no [`AgentAssertionLayer`] ran before the handler: a server
/// misconfiguration, answered `500`.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the route is not behind an AgentAssertionLayer")]
pub struct LayerMissing;

impl IntoResponse for LayerMissing {
    fn into_response(self) -> Response {
        (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for VerifiedAgent {
    type Rejection = LayerMissing;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VerifiedAgent>()
            .cloned()
            .ok_or(LayerMissing)
    }
}
