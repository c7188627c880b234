//! The resource-server side: a tower [`Layer`](tower_layer::Layer) that verifies
//! `AgentAssertion` headers, an axum extractor for the agent it verified, and ready
//! [`AgentDirectory`]s.
//!
//! *Available with the `server` feature.*
//!
//! [`AgentAssertionLayer`] checks every request with the task crate's one request check,
//! [`verify_request`], the same function the emulator's
//! protected endpoint calls: the `Authorization: AgentAssertion …` header against an
//! [`AgentDirectory`] (the runtimes you know, with their public keys and accounts, and the tasks
//! you consider valid), then `ChatGPT-Account-ID` against the runtime's account, then, for a
//! FedRAMP runtime, `X-OpenAI-Fedramp: true`. A request that passes reaches your service with a
//! [`VerifiedAgent`] in its extensions; take it in an axum handler as an argument. Any other
//! request is answered `401` with `WWW-Authenticate: AgentAssertion error="<kind>"` and a JSON
//! body `{"error": "<kind>", "message": "…"}` ([`rejection_response`]), without reaching your
//! service. The kinds are those of [`RejectedAssertion::kind`]: `missing_authorization`,
//! `malformed`, `unknown_runtime`, `bad_signature`, `task_not_issued`, `stale`,
//! `account_mismatch`, `missing_fedramp_header`.
//!
//! # Where the directory comes from
//!
//! In the deployed system only the AuthAPI knows agent runtimes (their public keys and accounts)
//! and the tasks it registered. A third-party resource server therefore gets its directory from
//! the issuer, by whatever channel the issuer offers, and keeps it in memory: a
//! [`StaticDirectory`] for a fixed set, or a [`RefreshingDirectory`] that your own source
//! refreshes in the background. It must **never** derive the directory from an agent's token:
//! the token carries the agent's *private* key, a server that holds it can sign as the agent, and
//! a directory built from what the caller sends trusts the caller by construction.
//!
//! See `examples/axum_server.rs` for a whole server.
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
//!
//! A server that keeps a replay cache (refusing a second use of one assertion inside the window)
//! must key it on what was signed, not on the header text: the same assertion is accepted in
//! more than one text form (the scheme's case, base64url with or without padding, the JSON
//! envelope re-encoded with other spacing or field order). Key it on the runtime id and the
//! signature, or equivalently on [`VerifiedAgent::runtime_id`], [`VerifiedAgent::task_id`] and
//! [`VerifiedAgent::signed_at`].

use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use agent_identity_jwt::{AccountId, AgentRuntimeId};
pub use agent_identity_task::{AgentDirectory, KnownRuntime, RejectedAssertion};
use agent_identity_task::{DEFAULT_SKEW, TaskId, Timestamp, verify_request};
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use futures_util::future::{Either, Ready, ready};
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode, header};

mod directory;

pub use directory::{Refresher, RefreshingDirectory, StaticDirectory};

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

/// The answer to a refused request: `401` with `WWW-Authenticate: AgentAssertion
/// error="<kind>"` and a JSON body `{"error": "<kind>", "message": "…"}`, as the layer sends it.
/// For a server that calls [`AgentAssertionLayer::verify`] itself.
pub fn rejection_response(rejected: &RejectedAssertion) -> Response {
    let body = serde_json::json!({ "error": rejected.kind(), "message": rejected.to_string() });
    let challenge = format!("AgentAssertion error=\"{}\"", rejected.kind());
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// The system clock, unless a test supplies another.
type Now = Arc<dyn Fn() -> SystemTime + Send + Sync>;

/// A tower [`Layer`](tower_layer::Layer) that lets through only requests with a valid
/// `AgentAssertion` (see the [module documentation](self), including what it cannot do about
/// replays). Cheap to clone.
#[derive(Clone)]
pub struct AgentAssertionLayer {
    directory: Arc<dyn AgentDirectory + Send + Sync>,
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
    pub fn new(directory: impl AgentDirectory + Send + Sync + 'static) -> Self {
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

    /// Verifies one request's headers: the checks the layer runs (the task crate's
    /// [`verify_request`]), for servers that are not built on tower.
    ///
    /// # Errors
    /// The first check that fails, as a [`RejectedAssertion`]; answer it with
    /// [`rejection_response`].
    pub fn verify(&self, headers: &http::HeaderMap) -> Result<VerifiedAgent, RejectedAssertion> {
        let verified = verify_request(headers, &*self.directory, (self.now)(), self.skew)?;
        Ok(VerifiedAgent {
            runtime_id: verified.runtime_id().clone(),
            task_id: verified.task_id().clone(),
            account_id: verified.account_id().clone(),
            fedramp: verified.is_fedramp(),
            signed_at: verified.signed_at(),
        })
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
            Err(rejected) => Either::Left(ready(Ok(rejection_response(&rejected)))),
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
