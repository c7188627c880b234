//! The endpoints the proxy answers itself under `/_agent-identity/`: liveness and readiness
//! (for anyone, as probes expect), health (the state for anyone, the detail behind the client
//! token) and the signed headers (behind the token).

use std::time::SystemTime;

use agent_identity_manager::AuthState;
use hyper::http::header::{self, HeaderValue};
use hyper::http::{Response, StatusCode};
use serde_json::json;

use crate::answer::{json_response, not_ready};
use crate::body::ProxyBody;
use crate::proxy::Inner;

pub(crate) const HEALTH_PATH: &str = "/_agent-identity/health";
pub(crate) const HEADERS_PATH: &str = "/_agent-identity/headers";
/// The library's and the proxy's metrics in the Prometheus text format, behind the token.
pub(crate) const METRICS_PATH: &str = "/_agent-identity/metrics";
/// Liveness, as a Kubernetes `livenessProbe` wants it: the process serves.
pub(crate) const LIVE_PATH: &str = "/_agent-identity/live";
/// Readiness, as a `readinessProbe` wants it: a request now would be signed.
pub(crate) const READY_PATH: &str = "/_agent-identity/ready";

/// 200 `{"live":true}` whenever the proxy answers at all; no token needed.
pub(crate) fn live() -> Response<ProxyBody> {
    json_response(StatusCode::OK, &json!({ "live": true }))
}

impl Inner {
    /// 200 when the manager holds an identity it can sign with now, else 503; with the state's
    /// name and nothing else, so it needs no token.
    /// What the renderer given to [`crate::ProxyBuilder::metrics`] renders, or 404 without one.
    pub(crate) fn metrics_endpoint(&self) -> Response<ProxyBody> {
        let Some(render) = &self.metrics else {
            return crate::answer::json_error(
                StatusCode::NOT_FOUND,
                "not_found",
                "this proxy was started without metrics",
            );
        };
        let mut response = Response::new(crate::answer::full(render().into()));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        response
    }

    pub(crate) fn ready(&self) -> Response<ProxyBody> {
        let state = self.manager.state();
        let ready = state.auth().is_some();
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        json_response(status, &json!({ "ready": ready, "state": state.name() }))
    }

    /// The state, and with the client token (or on the unix socket) the detail: identity, task,
    /// since when the state holds, the latest error, and whether the manager is degraded.
    pub(crate) fn health(&self, detail: bool) -> Response<ProxyBody> {
        let state = self.manager.state();
        let auth = state.auth();
        let status = if auth.is_some() {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        if !detail {
            return json_response(status, &json!({ "state": state.name() }));
        }
        let since = crate::lock(&self.health.since)
            .and_then(|at| at.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|since| since.as_secs());
        let last_error = match &*state {
            AuthState::Unavailable { error, .. } => Some((error.kind(), error.to_string())),
            _ => crate::lock(&self.health.last_error).clone(),
        };
        let degraded = self.manager.degraded().map(|degraded| {
            json!({
                "since_unix": degraded
                    .since()
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .ok()
                    .map(|since| since.as_secs()),
                "error": degraded.error().kind(),
                "message": degraded.to_string(),
            })
        });
        let body = json!({
            "state": state.name(),
            "runtime_id": state.identity().map(|identity| identity.runtime_id().as_str()),
            "task_id": auth.map(|auth| auth.task_id().as_str()),
            "since_unix": since,
            "last_error": last_error.map(|(kind, message)| json!({"error": kind, "message": message})),
            "degraded": degraded,
            "upstream": self.upstream.url.as_str(),
        });
        json_response(status, &body)
    }

    pub(crate) async fn headers_endpoint(&self) -> Response<ProxyBody> {
        let auth = match self.ready_auth().await {
            Ok(auth) => auth,
            Err(response) => return response,
        };
        match auth.headers() {
            Ok(headers) => {
                let mut response = json_response(
                    StatusCode::OK,
                    &json!({
                        "authorization": headers.authorization(),
                        "chatgpt_account_id": headers.chatgpt_account_id(),
                        "fedramp": headers.fedramp(),
                    }),
                );
                response
                    .headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Err(error) => not_ready(&error),
        }
    }
}
