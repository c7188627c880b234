//! Small servers that need no manager: [`Waiting`], which holds the proxy's listener and
//! answers 503 with the reason while the credentials are awaited, and [`serve_metrics`], the
//! token-free `/metrics` listener.

use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::http::header::{self, HeaderValue};
use hyper::http::{Method, Request, Response, StatusCode};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::answer::{full, json_error, json_response};
use crate::body::ProxyBody;
use crate::conn::{Accepted, accept};
use crate::error::ProxyError;
use crate::listener::Listener;
use crate::local::{HEALTH_PATH, LIVE_PATH, READY_PATH, live};
use crate::proxy::{DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS};
use crate::token::ClientToken;

/// The path [`serve_metrics`] answers.
pub const METRICS_LISTENER_PATH: &str = "/metrics";
/// What a waiting proxy's `Retry-After` suggests, in seconds: about how often credentials are
/// looked for.
const RETRY_AFTER_SECS: &str = "2";

/// Stands in for the proxy on its listener while the proxy cannot be built yet (a token file
/// not mounted yet): the process serves, so a probe or a client learns why nothing is signed
/// instead of meeting a refused connection. Cheap to clone.
///
/// - `GET /_agent-identity/live` answers 200, `GET /_agent-identity/ready` 503 with
///   `{"ready":false,"state":"waiting"}`, `GET /_agent-identity/health` 503 with the state, and
///   with the client token the reason as `last_error`;
/// - every other request gets 401 without the client token (on TCP), else 503
///   `{"error":"waiting_for_credentials","message":REASON}` with `Retry-After`;
/// - each connection serves one request and closes, so no client stays on the stand-in once
///   the proxy takes the listener over.
#[derive(Clone)]
pub struct Waiting {
    inner: Arc<WaitingInner>,
}

struct WaitingInner {
    client_token: Option<ClientToken>,
    reason: Mutex<String>,
}

impl std::fmt::Debug for Waiting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiting")
            .field("reason", &*crate::lock(&self.inner.reason))
            .finish_non_exhaustive()
    }
}

impl Waiting {
    /// A stand-in that requires `client_token` on TCP (as the proxy will) and answers `reason`
    /// (no secret: it is shown to every holder of the client token).
    pub fn new(client_token: Option<ClientToken>, reason: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(WaitingInner {
                client_token,
                reason: Mutex::new(reason.into()),
            }),
        }
    }

    /// The reason requests are answered with.
    #[must_use]
    pub fn reason(&self) -> String {
        crate::lock(&self.inner.reason).clone()
    }

    /// Replaces the reason requests are answered with, from the next request on.
    pub fn set_reason(&self, reason: impl Into<String>) {
        *crate::lock(&self.inner.reason) = reason.into();
    }

    /// Serves `listener` until `until` completes, then gives the listener back with `until`'s
    /// output, for [`crate::Proxy::serve`]. Connections are closed after one request; at most
    /// [`DEFAULT_MAX_CONNECTIONS`] are served at once (more are closed at once), each given
    /// [`DEFAULT_HEADER_READ_TIMEOUT`] to send its headers.
    ///
    /// # Errors
    /// [`ProxyError::ClientTokenRequired`] for a TCP listener without a client token.
    pub async fn serve<T>(
        &self,
        listener: Listener,
        until: impl Future<Output = T>,
    ) -> Result<(Listener, T), ProxyError> {
        if matches!(listener, Listener::Tcp(_)) && self.inner.client_token.is_none() {
            return Err(ProxyError::ClientTokenRequired);
        }
        let permits = Arc::new(Semaphore::new(DEFAULT_MAX_CONNECTIONS));
        tokio::pin!(until);
        let output = loop {
            let accepted = tokio::select! {
                output = &mut until => break output,
                accepted = accept(&listener) => accepted,
            };
            let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
                continue;
            };
            let waiting = self.clone();
            match accepted {
                Ok(Accepted::Tcp(stream)) => {
                    tokio::spawn(async move {
                        waiting.serve_one(stream, true).await;
                        drop(permit);
                    });
                }
                Ok(Accepted::Unix(stream)) => {
                    tokio::spawn(async move {
                        waiting.serve_one(stream, false).await;
                        drop(permit);
                    });
                }
                Err(error) => {
                    // Out of file descriptors, most likely: back off rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        };
        Ok((listener, output))
    }

    async fn serve_one<I>(&self, io: I, require_token: bool)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let waiting = self.clone();
        let service = service_fn(move |request: Request<Incoming>| {
            let response = waiting.answer(&request, require_token);
            async move { Ok::<_, Infallible>(response) }
        });
        let served = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(DEFAULT_HEADER_READ_TIMEOUT)
            .keep_alive(false)
            .serve_connection(TokioIo::new(io), service)
            .await;
        if let Err(error) = served {
            tracing::debug!(%error, "client connection ended with an error");
        }
    }

    fn answer(&self, request: &Request<Incoming>, require_token: bool) -> Response<ProxyBody> {
        let authorized = !require_token
            || self
                .inner
                .client_token
                .as_ref()
                .is_some_and(|token| token.matches_bearer(request.headers()));
        let reason = crate::lock(&self.inner.reason).clone();
        if request.method() == Method::GET {
            match request.uri().path() {
                LIVE_PATH => return live(),
                READY_PATH => {
                    return json_response(
                        StatusCode::SERVICE_UNAVAILABLE,
                        &json!({ "ready": false, "state": "waiting" }),
                    );
                }
                HEALTH_PATH => {
                    let body = if authorized {
                        json!({
                            "state": "waiting",
                            "last_error": {"error": "waiting_for_credentials", "message": reason},
                        })
                    } else {
                        json!({ "state": "waiting" })
                    };
                    return json_response(StatusCode::SERVICE_UNAVAILABLE, &body);
                }
                _ => {}
            }
        }
        if !authorized {
            return json_error(
                StatusCode::UNAUTHORIZED,
                "client_token_required",
                "send the proxy's client token as Authorization: Bearer <token>",
            );
        }
        let mut response = json_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting_for_credentials",
            &reason,
        );
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECS),
        );
        response
    }
}

/// Checks `upstream` as [`crate::ProxyBuilder::build`] does, before there is a manager to build
/// the proxy with, and returns it parsed.
///
/// # Errors
/// [`ProxyError::InvalidUpstream`], as `build` says.
pub fn check_upstream(upstream: &str) -> Result<url::Url, ProxyError> {
    crate::proxy::Upstream::parse(upstream).map(|upstream| upstream.url)
}

/// Serves `GET /metrics` on `listener` with what `render` returns (the Prometheus text of the
/// recorder the application installed, as [`crate::ProxyBuilder::metrics`] serves it behind the
/// token), without a client token: the caller binds `listener` to loopback. Anything else gets
/// 404. Runs until dropped.
pub async fn serve_metrics(
    listener: TcpListener,
    render: impl Fn() -> String + Send + Sync + 'static,
) {
    let render = Arc::new(render);
    let permits = Arc::new(Semaphore::new(DEFAULT_MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                tracing::warn!(%error, "accept failed on the metrics listener");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue;
        };
        let render = Arc::clone(&render);
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let response = if request.method() == Method::GET
                    && request.uri().path() == METRICS_LISTENER_PATH
                {
                    metrics_response(render())
                } else {
                    json_error(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        "only GET /metrics is served here",
                    )
                };
                async move { Ok::<_, Infallible>(response) }
            });
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(DEFAULT_HEADER_READ_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .await;
            if let Err(error) = served {
                tracing::debug!(%error, "metrics connection ended with an error");
            }
            drop(permit);
        });
    }
}

/// A Prometheus text exposition: `text` with its content type.
pub(crate) fn metrics_response(text: String) -> Response<ProxyBody> {
    let mut response = Response::new(full(text.into()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    response
}
