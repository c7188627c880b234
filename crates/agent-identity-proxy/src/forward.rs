//! One request: local endpoints, the client token, the target check, signing, forwarding, the
//! 401 recovery and replay, and the access-log record.

use std::sync::Arc;
use std::time::Instant;

use agent_identity_manager::{AgentIdentityAuth, AuthError};
use http_body_util::{BodyExt as _, Limited};
use hyper::body::{Body as _, Bytes, Incoming};
use hyper::http::header::{self, HeaderMap, HeaderValue};
use hyper::http::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::TokioIo;

use crate::LOCAL_PREFIX;
use crate::answer::{full, json_error, not_ready, with_causes};
use crate::conn::{Conn, Slot};
use crate::headers::{
    drop_length_beside_transfer_encoding, sign, strip_hop_by_hop, upstream_headers, wants_upgrade,
};
use crate::local::{HEADERS_PATH, HEALTH_PATH, LIVE_PATH, METRICS_PATH, READY_PATH, live};
use crate::log::AccessRecord;
use crate::proxy::Inner;
use crate::target::{host_is_local, request_head_bytes, unsafe_path};
use crate::upstream::SendError;

pub(crate) use crate::body::{BoxError, ProxyBody};

/// What the handler learnt, for the access log.
struct Outcome {
    response: Response<ProxyBody>,
    recovered: bool,
}

impl From<Response<ProxyBody>> for Outcome {
    fn from(response: Response<ProxyBody>) -> Self {
        Self {
            response,
            recovered: false,
        }
    }
}

impl Inner {
    /// Handles one request from a client and reports it to the access log.
    pub(crate) async fn handle(
        self: &Arc<Self>,
        request: Request<Incoming>,
        conn: &Conn,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        // The record is built only when someone reads it: its copies are most of what the
        // proxy adds to a request when nothing logs.
        if self.access_log.is_none() && !tracing::enabled!(tracing::Level::DEBUG) {
            let response = self.route(request, conn).await.response;
            crate::metrics::request(response.status().as_u16(), started.elapsed());
            return response;
        }
        let method = request.method().to_string();
        let path = request.uri().path().to_owned();
        let outcome = self.route(request, conn).await;
        let status = outcome.response.status().as_u16();
        let duration = started.elapsed();
        crate::metrics::request(status, duration);
        tracing::debug!(%method, %path, status, recovered = outcome.recovered, "request");
        if let Some(log) = &self.access_log {
            log(&AccessRecord {
                method,
                path,
                status,
                duration,
                recovered: outcome.recovered,
            });
        }
        outcome.response
    }

    async fn route(self: &Arc<Self>, request: Request<Incoming>, conn: &Conn) -> Outcome {
        // hyper bounds the head by its read buffer only between reads, so a head that arrives in
        // one large read can exceed it: the limit is checked here, on what was parsed.
        if request_head_bytes(&request) > self.limits.max_header_bytes {
            return json_error(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
                "the request line and headers exceed the proxy's --max-header-bytes",
            )
            .into();
        }
        if request.method() == Method::CONNECT {
            return json_error(
                StatusCode::METHOD_NOT_ALLOWED,
                "connect_refused",
                "this proxy forwards to its one upstream; CONNECT is refused",
            )
            .into();
        }
        if let Some(refusal) = self.check_target(request.uri()) {
            return refusal.into();
        }
        let authorized = !conn.require_token || self.token_ok(request.headers());
        if authorized {
            // A connection that showed the token is a client's: it is never shed to make room.
            conn.trust();
        }
        let path = request.uri().path();
        if path.starts_with(LOCAL_PREFIX) && !host_is_local(request.headers(), conn.local_addr) {
            return json_error(
                StatusCode::FORBIDDEN,
                "host_not_local",
                "the proxy's own endpoints answer only a loopback Host or the proxy's own address",
            )
            .into();
        }
        if request.method() == Method::GET {
            match path {
                HEALTH_PATH => return self.health(authorized).into(),
                LIVE_PATH => return live().into(),
                READY_PATH => return self.ready().into(),
                _ => {}
            }
        }
        if !authorized {
            return json_error(
                StatusCode::UNAUTHORIZED,
                "client_token_required",
                "send the proxy's client token as Authorization: Bearer <token>",
            )
            .into();
        }
        if path.starts_with(LOCAL_PREFIX) {
            return if path == HEADERS_PATH && request.method() == Method::GET {
                self.headers_endpoint().await
            } else if path == METRICS_PATH && request.method() == Method::GET {
                self.metrics_endpoint()
            } else {
                json_error(StatusCode::NOT_FOUND, "not_found", "no such local endpoint")
            }
            .into();
        }
        self.forward(request, &conn.slot).await
    }

    /// Refuses absolute-form targets that name another host, anything but origin-form, and a
    /// path with a `.` or `..` segment in any spelling (an upstream that normalises it would
    /// serve, signed, a path outside the upstream URL's base).
    fn check_target(&self, uri: &Uri) -> Option<Response<ProxyBody>> {
        if let Some(authority) = uri.authority() {
            let port = authority.port_u16().or_else(|| match uri.scheme_str() {
                Some("https") => Some(443),
                Some("http") => Some(80),
                _ => None,
            });
            let named =
                port.map(|port| format!("{}:{port}", authority.host().to_ascii_lowercase()));
            if named.as_deref() != Some(self.upstream.authority.as_str()) {
                return Some(json_error(
                    StatusCode::FORBIDDEN,
                    "not_an_open_proxy",
                    "requests go to the configured upstream only",
                ));
            }
        }
        if !uri.path().starts_with('/') {
            return Some(json_error(
                StatusCode::BAD_REQUEST,
                "bad_target",
                "the request target must be a path",
            ));
        }
        if unsafe_path(uri.path()) {
            return Some(json_error(
                StatusCode::BAD_REQUEST,
                "dot_segment",
                "the request path must not contain . or .. segments, in any encoding",
            ));
        }
        None
    }

    fn token_ok(&self, headers: &HeaderMap) -> bool {
        self.client_token
            .as_ref()
            .is_some_and(|token| token.matches_bearer(headers))
    }

    /// The auth to sign with, or the response saying why there is none. An `Unavailable`
    /// manager gets a reload (the manager's cooldown spaces them out); a logged-out or expired
    /// one does not.
    pub(crate) async fn ready_auth(&self) -> Result<AgentIdentityAuth, Response<ProxyBody>> {
        let result = match self.manager.auth() {
            Err(error) if error.is_transient() => self.manager.auth_or_reload().await,
            other => other,
        };
        result.map_err(|error| {
            *crate::lock(&self.health.last_error) = Some((error.kind(), error.to_string()));
            not_ready(&error)
        })
    }

    async fn forward(self: &Arc<Self>, mut request: Request<Incoming>, slot: &Slot) -> Outcome {
        let auth = match self.ready_auth().await {
            Ok(auth) => auth,
            Err(response) => return response.into(),
        };
        let Some(uri) = self.upstream.uri_for(request.uri()) else {
            return json_error(
                StatusCode::BAD_REQUEST,
                "bad_target",
                "unusable request target",
            )
            .into();
        };
        let upgrade = wants_upgrade(request.headers())
            .then(|| (hyper::upgrade::on(&mut request), Arc::clone(slot)));
        let (mut parts, body) = request.into_parts();
        let kept = match self.keep_body(body, &parts.headers).await {
            Ok(kept) => kept,
            Err(response) => return response.into(),
        };
        // The client's headers are taken, not copied: this is every request's path.
        let headers = upstream_headers(
            std::mem::take(&mut parts.headers),
            &self.upstream.host,
            upgrade.is_some(),
        );
        let mut upstream = Request::new(());
        *upstream.method_mut() = parts.method;
        *upstream.uri_mut() = uri;
        *upstream.headers_mut() = headers;
        match (kept, upgrade) {
            // Nearly every request: the body is held and nothing is upgraded.
            (KeptBody::Bytes(bytes), None) => {
                self.forward_held(upstream.map(|()| bytes), auth).await
            }
            (kept, upgrade) => self.forward_streamed(upstream, kept, auth, upgrade).await,
        }
    }

    /// A request whose body is held: written from here with freshly signed headers, and read
    /// again (not copied) for a replay after a recovery.
    async fn forward_held(&self, request: Request<Bytes>, auth: AgentIdentityAuth) -> Outcome {
        let response = match self.send_held(&request, &auth, false).await {
            Ok(response) => response,
            Err(refusal) => return refusal.into(),
        };
        if response.status() != StatusCode::UNAUTHORIZED {
            return self.pass_on(response, None).into();
        }
        let Some(recovered) = self.recover(&auth).await else {
            return self.pass_on(response, None).into();
        };
        drop(response);
        match self.send_held(&request, &recovered, true).await {
            Ok(response) => Outcome {
                response: self.pass_on(response, None),
                recovered: true,
            },
            Err(refusal) => refusal.into(),
        }
    }

    /// Signs `request` as `auth` and sends it; a `replay` is counted once it is signed, as the
    /// streamed path counts one.
    async fn send_held(
        &self,
        request: &Request<Bytes>,
        auth: &AgentIdentityAuth,
        replay: bool,
    ) -> Result<Response<ProxyBody>, Response<ProxyBody>> {
        let signed = auth.headers().map_err(|error| not_ready(&error))?;
        let identity = signed
            .header_values()
            .map_err(|error| not_ready(&AuthError::from(error)))?;
        if replay {
            crate::metrics::recovery("replayed");
        }
        self.send(self.client.request_held(request, identity)).await
    }

    /// A request with a streamed body, or an upgrade: hyper's client connection carries it. A
    /// held body (an upgrade's) is still replayed after a recovery, from a copy of the headers.
    async fn forward_streamed(
        &self,
        request: Request<()>,
        kept: KeptBody,
        auth: AgentIdentityAuth,
        upgrade: Option<(hyper::upgrade::OnUpgrade, Slot)>,
    ) -> Outcome {
        let (parts, ()) = request.into_parts();
        let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
        let (first_body, replay) = match kept {
            KeptBody::Bytes(bytes) => (full(bytes.clone()), Some(bytes)),
            KeptBody::Stream(body) => (ProxyBody::Stream(body), None),
        };
        let build = |auth: &AgentIdentityAuth, body: ProxyBody, mut headers: HeaderMap| {
            sign(&mut headers, auth)?;
            let mut upstream = Request::new(body);
            *upstream.method_mut() = method.clone();
            *upstream.uri_mut() = uri.clone();
            *upstream.headers_mut() = headers;
            Ok::<_, AuthError>(upstream)
        };
        // A copy is kept only for a request that may be replayed after a recovery.
        let for_replay = replay.as_ref().map(|_| headers.clone());
        let first = match build(&auth, first_body, headers) {
            Ok(first) => first,
            Err(error) => return not_ready(&error).into(),
        };
        let response = match self.send(self.client.request(first)).await {
            Ok(response) => response,
            Err(refusal) => return refusal.into(),
        };
        if response.status() != StatusCode::UNAUTHORIZED {
            return self.pass_on(response, upgrade).into();
        }
        let Some(recovered) = self.recover(&auth).await else {
            return self.pass_on(response, upgrade).into();
        };
        let (Some(bytes), Some(headers)) = (replay, for_replay) else {
            crate::metrics::recovery("streamed");
            tracing::debug!("the request body was streamed; passing the 401 on after the recovery");
            return self.pass_on(response, upgrade).into();
        };
        drop(response);
        let again = match build(&recovered, full(bytes), headers) {
            Ok(again) => again,
            Err(error) => return not_ready(&error).into(),
        };
        crate::metrics::recovery("replayed");
        match self.send(self.client.request(again)).await {
            Ok(response) => Outcome {
                response: self.pass_on(response, upgrade),
                recovered: true,
            },
            Err(refusal) => refusal.into(),
        }
    }

    /// After an upstream 401 (its task may have been revoked): one recovery for every request
    /// that meets this at the same time (the manager shares and rate-limits it). The auth to
    /// replay with, or `None` when the 401 is to be passed on: the recovery failed, or it was
    /// cooled down and no new task exists (a replay would carry the task just refused).
    async fn recover(&self, auth: &AgentIdentityAuth) -> Option<AgentIdentityAuth> {
        let recovered = match self.manager.recover_unauthorized().await {
            Ok(recovered) => recovered,
            Err(error) => {
                crate::metrics::recovery("failed");
                tracing::warn!(
                    kind = error.kind(),
                    "recovery after an upstream 401 failed; passing the 401 on"
                );
                *crate::lock(&self.health.last_error) = Some((error.kind(), error.to_string()));
                return None;
            }
        };
        if recovered.task_id() == auth.task_id() {
            crate::metrics::recovery("no_new_task");
            tracing::debug!("no new task after the 401; passing it on without a replay");
            return None;
        }
        Some(recovered)
    }

    /// Keeps a body of known length up to the replay limit; streams anything else.
    async fn keep_body(
        &self,
        body: Incoming,
        headers: &HeaderMap,
    ) -> Result<KeptBody, Response<ProxyBody>> {
        if body.is_end_stream() {
            return Ok(KeptBody::Bytes(Bytes::new()));
        }
        let length = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        match length {
            Some(length) if length <= self.limits.replay_limit as u64 => {
                match Limited::new(body, self.limits.replay_limit).collect().await {
                    Ok(collected) => Ok(KeptBody::Bytes(collected.to_bytes())),
                    Err(_) => Err(json_error(
                        StatusCode::BAD_REQUEST,
                        "request_body_unreadable",
                        "the request body could not be read",
                    )),
                }
            }
            _ => Ok(KeptBody::Stream(body)),
        }
    }

    /// An exchange with the upstream under the response-header timeout; a failure as the
    /// client's answer (502, or 504 for the timeout).
    async fn send(
        &self,
        exchange: impl Future<Output = Result<Response<ProxyBody>, SendError>>,
    ) -> Result<Response<ProxyBody>, Response<ProxyBody>> {
        match tokio::time::timeout(self.limits.response_header_timeout, exchange).await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(error)) => {
                crate::metrics::upstream_error(if error.is_connect() {
                    "connect"
                } else {
                    "failed"
                });
                let message = if error.is_connect() {
                    "cannot connect to the upstream"
                } else {
                    "the upstream connection failed, or its response head was unusable"
                };
                tracing::warn!(error = %with_causes(&error), "upstream request failed");
                Err(json_error(
                    StatusCode::BAD_GATEWAY,
                    "upstream_unavailable",
                    message,
                ))
            }
            Err(_) => Err({
                crate::metrics::upstream_error("timeout");
                json_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    "upstream_timeout",
                    "the upstream sent no response headers in time",
                )
            }),
        }
    }

    /// The upstream's response, hop-by-hop fields removed, its body streamed. A `101` joins the
    /// two upgraded connections; the joined streams keep the client connection's slot.
    fn pass_on(
        &self,
        mut response: Response<ProxyBody>,
        client_upgrade: Option<(hyper::upgrade::OnUpgrade, Slot)>,
    ) -> Response<ProxyBody> {
        let switching = response.status() == StatusCode::SWITCHING_PROTOCOLS;
        let upgrade_value = response.headers().get(header::UPGRADE).cloned();
        drop_length_beside_transfer_encoding(response.headers_mut());
        strip_hop_by_hop(response.headers_mut());
        if switching && let Some((client_upgrade, slot)) = client_upgrade {
            let upstream_upgrade = hyper::upgrade::on(&mut response);
            tokio::spawn(async move {
                let _slot = slot;
                let (Ok(client), Ok(upstream)) = (client_upgrade.await, upstream_upgrade.await)
                else {
                    tracing::debug!("an upgrade did not complete");
                    return;
                };
                let _ = tokio::io::copy_bidirectional(
                    &mut TokioIo::new(client),
                    &mut TokioIo::new(upstream),
                )
                .await;
            });
            let headers = response.headers_mut();
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            if let Some(value) = upgrade_value {
                headers.insert(header::UPGRADE, value);
            }
        }
        response
    }
}

enum KeptBody {
    Bytes(Bytes),
    Stream(Incoming),
}
