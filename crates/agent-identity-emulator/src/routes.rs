//! The HTTP endpoints: the router, the JWKS, task registration (wire-format §3), the protected
//! echo endpoint (§5), and the loopback guard of the admin endpoints under `/_emulator/` (their
//! handlers are in `admin`, agent registration's in `chatgpt`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agent_identity_task::{
    ACCOUNT_ID_HEADER, AUTHORIZATION_HEADER, AssertionError, FEDRAMP_HEADER,
    seal_task_id_for_public_key, verify_assertion, verify_registration_request,
};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::admin;
use crate::chatgpt::{self, AGENT_REGISTER_PATH};
use crate::random::hex_id;
use crate::state::Shared;

/// The JWKS path, under the ChatGPT base `/backend-api` (wire-format §2).
pub(crate) const JWKS_PATH: &str = "/backend-api/wham/agent-identities/jwks";
/// The AuthAPI base path.
pub(crate) const AUTHAPI_PATH: &str = "/api/accounts";
/// The protected endpoint.
pub(crate) const ECHO_PATH: &str = "/echo";
/// Every path under the protected endpoint, as a route.
const ECHO_PREFIX_ROUTE: &str = "/echo/{*rest}";
/// The protected server-sent-events endpoint.
pub(crate) const EVENTS_PATH: &str = "/echo/events";
/// Events `/echo/events` sends unless `?count=` says otherwise.
const DEFAULT_EVENT_COUNT: u32 = 5;
/// The pause between two events unless `?interval_ms=` says otherwise: long enough that a proxy
/// which buffered the stream would visibly deliver the first event late.
const DEFAULT_EVENT_INTERVAL: Duration = Duration::from_millis(100);
/// At most this many events per request, so a typo cannot keep a connection busy for hours.
const MAX_EVENT_COUNT: u32 = 1_000;
/// The prefix of the admin endpoints, which answer loopback peers only and are exempt from faults.
pub(crate) const ADMIN_PREFIX: &str = "/_emulator/";
/// `Cache-Control` of the JWKS response: five minutes, as a real key endpoint might say.
const JWKS_CACHE_CONTROL: &str = "public, max-age=300";

/// Builds the router over the shared state.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let admin = Router::new()
        .route("/_emulator/mint", post(admin::mint))
        .route("/_emulator/faults", post(admin::faults))
        .route("/_emulator/counters", get(admin::counters))
        .route(
            "/_emulator/chatgpt-login",
            post(chatgpt::admin_chatgpt_login),
        )
        .route_layer(middleware::from_fn(admin_guard));
    Router::new()
        .route(JWKS_PATH, get(jwks))
        .route(
            "/api/accounts/v1/agent/{runtime_id}/task/register",
            post(register),
        )
        .route(AGENT_REGISTER_PATH, post(chatgpt::register_agent))
        // `/echo` and everything under it (`/echo/chat/completions`, `/echo/v1/models`), so an
        // SDK whose base URL is `/echo` reaches a verifying endpoint whatever path it appends;
        // `/echo/events`, a static path, wins over the wildcard.
        .route(ECHO_PATH, any(echo))
        .route("/echo/", any(echo))
        .route(ECHO_PREFIX_ROUTE, any(echo))
        .route(EVENTS_PATH, get(events))
        .merge(admin)
        .with_state(shared)
}

/// A JSON body with a status.
pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    (status, axum::Json(body)).into_response()
}

pub(crate) fn error_response(status: StatusCode, kind: &str) -> Response {
    json_response(status, json!({ "error": kind }))
}

/// An injected failure: the configured status (500 if it is not a valid status code) and a small
/// JSON body saying so.
pub(crate) fn injected_fault(status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(
        status,
        json!({ "error": "injected_fault", "status": status.as_u16() }),
    )
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    shared.count_jwks_fetch();
    if let Some(status) = shared.take_jwks_fault() {
        return injected_fault(status);
    }
    let keys: Result<Vec<Value>, _> = shared.keys().iter().map(|key| key.jwk()).collect();
    let Ok(keys) = keys else {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, "key_unavailable");
    };
    let mut response = json_response(StatusCode::OK, json!({ "keys": keys }));
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(JWKS_CACHE_CONTROL),
    );
    response
}

async fn register(
    State(shared): State<Arc<Shared>>,
    Path(runtime_id): Path<String>,
    body: Bytes,
) -> Response {
    if let Some(status) = shared.take_registration_fault() {
        return injected_fault(status);
    }
    let Some(public_key) = shared.public_key(&runtime_id) else {
        return error_response(StatusCode::NOT_FOUND, "unknown_runtime");
    };
    let verified = verify_registration_request(
        &runtime_id,
        &body,
        &public_key,
        SystemTime::now(),
        shared.config.assertion_skew,
    );
    if let Err(error) = verified {
        let status = match error {
            AssertionError::Malformed(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::UNAUTHORIZED,
        };
        return error_response(status, assertion_error_kind(&error));
    }
    let Ok(task_id) = hex_id("task-", 16) else {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, "random_unavailable");
    };
    let form = shared.registration_form();
    let value = if form.is_encrypted() {
        match seal_task_id_for_public_key(&public_key, &task_id) {
            Ok(sealed) => sealed,
            Err(_) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, "seal_failed"),
        }
    } else {
        task_id.clone()
    };
    if !shared.issue_task(&runtime_id, &task_id) {
        return error_response(StatusCode::NOT_FOUND, "unknown_runtime");
    }
    shared.count_registration();
    json_response(StatusCode::OK, json!({ form.field(): value }))
}

/// The protected endpoint. An accepted request's body is read to its end as it arrives (never
/// held whole, so a 100 MB upload costs no memory) and reported as `body_length` and
/// `body_sha256` (lowercase hex).
async fn echo(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    let outcome = check_echo(&shared, &headers);
    shared.count_assertion(outcome.is_ok());
    let mut reply = match outcome {
        Ok(reply) => reply,
        Err(kind) => return error_response(StatusCode::UNAUTHORIZED, kind),
    };
    let mut digest = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut length: u64 = 0;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else {
            return error_response(StatusCode::BAD_REQUEST, "body_unreadable");
        };
        length += chunk.len() as u64;
        digest.update(&chunk);
    }
    reply["method"] = json!(method.as_str());
    reply["path"] = json!(uri.path());
    reply["body_length"] = json!(length);
    reply["body_sha256"] = json!(hex(digest.finish().as_ref()));
    json_response(StatusCode::OK, reply)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `?count=` and `?interval_ms=` of `/echo/events`; a value that is not a number is ignored.
fn events_query(query: Option<&str>) -> (u32, Duration) {
    let mut count = DEFAULT_EVENT_COUNT;
    let mut interval = DEFAULT_EVENT_INTERVAL;
    for (name, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        match &*name {
            "count" => count = value.parse().unwrap_or(count),
            "interval_ms" => interval = value.parse().map_or(interval, Duration::from_millis),
            _ => {}
        }
    }
    (count.min(MAX_EVENT_COUNT), interval)
}

/// The protected server-sent-events endpoint: checks the headers as `/echo` does, then sends
/// `count` events `interval_ms` apart, each `data: {"seq":N,"sent_at_unix_ms":T}` with the time it
/// was written, so a client can tell whether events reach it as they are sent.
async fn events(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let outcome = check_echo(&shared, &headers);
    shared.count_assertion(outcome.is_ok());
    if let Err(kind) = outcome {
        return error_response(StatusCode::UNAUTHORIZED, kind);
    }
    let (count, interval) = events_query(query.as_deref());
    let stream = futures_util::stream::unfold(0_u32, move |seq| async move {
        if seq >= count {
            return None;
        }
        if seq > 0 {
            tokio::time::sleep(interval).await;
        }
        let sent_at = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |since| since.as_millis());
        let event = format!(
            "data: {}\n\n",
            json!({ "seq": seq, "sent_at_unix_ms": sent_at })
        );
        Some((
            Ok::<_, std::convert::Infallible>(Bytes::from(event)),
            seq + 1,
        ))
    });
    let mut response = Response::new(axum::body::Body::from_stream(stream));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// Checks the assertion and its companion headers; the error is the `error` kind to answer.
fn check_echo(shared: &Shared, headers: &HeaderMap) -> Result<Value, &'static str> {
    let authorization = headers
        .get(AUTHORIZATION_HEADER)
        .ok_or("missing_authorization")?
        .to_str()
        .map_err(|_| "malformed")?;
    let lookup = (
        |runtime: &str| shared.public_key(runtime),
        |runtime: &str, task: &str| shared.task_issued(runtime, task),
    );
    let verified = verify_assertion(
        authorization,
        &lookup,
        SystemTime::now(),
        shared.config.assertion_skew,
    )
    .map_err(|error| assertion_error_kind(&error))?;
    let (account_id, fedramp) = shared
        .account(verified.runtime_id().as_str())
        .ok_or("unknown_runtime")?;
    let sent_account = headers
        .get(ACCOUNT_ID_HEADER)
        .and_then(|value| value.to_str().ok());
    if sent_account != Some(account_id.as_str()) {
        return Err("account_mismatch");
    }
    if fedramp {
        let sent_fedramp = headers
            .get(FEDRAMP_HEADER)
            .and_then(|value| value.to_str().ok());
        if sent_fedramp != Some("true") {
            return Err("missing_fedramp_header");
        }
    }
    Ok(json!({
        "runtime_id": verified.runtime_id().as_str(),
        "task_id": verified.task_id().as_str(),
        "account_id": account_id,
    }))
}

/// A stable snake_case name for an assertion or registration failure.
fn assertion_error_kind(error: &AssertionError) -> &'static str {
    match error {
        AssertionError::Malformed(_) => "malformed",
        AssertionError::UnknownRuntime => "unknown_runtime",
        AssertionError::BadSignature => "bad_signature",
        AssertionError::TaskNotIssued => "task_not_issued",
        AssertionError::Stale => "stale",
        _ => "invalid_assertion",
    }
}

/// Guards the admin endpoints, which hand out tokens and change behaviour:
///
/// - the peer must be on a loopback address (403 `admin_endpoints_are_loopback_only`);
/// - the `Host` header (and an absolute request target, if any) must name `127.0.0.1`,
///   `localhost` or `[::1]`, any port, and an `Origin`, if sent, a loopback origin too (403
///   `admin_host_not_loopback`): with DNS rebinding a web page reaches 127.0.0.1 under its own
///   host name, which this refuses;
/// - a request that may carry a body (anything but `GET` and `HEAD`) must say
///   `Content-Type: application/json` (415 `admin_body_must_be_json`): a page can send
///   `text/plain` or a form across origins without asking, but not JSON.
async fn admin_guard(request: Request, next: Next) -> Response {
    let loopback = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|ConnectInfo(peer)| is_loopback(peer));
    if !loopback {
        return error_response(StatusCode::FORBIDDEN, "admin_endpoints_are_loopback_only");
    }
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let target = request
        .uri()
        .authority()
        .map(|authority| authority.as_str());
    let origin = headers.get(header::ORIGIN);
    let host_ok = host.is_some_and(is_loopback_authority)
        && target.is_none_or(is_loopback_authority)
        && origin.is_none_or(|origin| origin.to_str().is_ok_and(is_loopback_origin));
    if !host_ok {
        return error_response(StatusCode::FORBIDDEN, "admin_host_not_loopback");
    }
    let may_have_body = !matches!(*request.method(), Method::GET | Method::HEAD);
    if may_have_body && !is_json(headers.get(header::CONTENT_TYPE)) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "admin_body_must_be_json",
        );
    }
    next.run(request).await
}

/// Whether an authority (`Host` header value) is `127.0.0.1`, `localhost` or `[::1]`, with or
/// without a port. Nothing else: not other names, not other addresses, no user info.
pub(crate) fn is_loopback_authority(authority: &str) -> bool {
    // `port` is empty or `:` and the digits.
    let (host, port) = match authority.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some(split) => split,
            None => return false,
        },
        None => match authority.find(':') {
            Some(colon) => authority.split_at(colon),
            None => (authority, ""),
        },
    };
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|digits| {
            (1..=5).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
        });
    // "::1" can only have come from between brackets: unbracketed, the host ends at its first `:`.
    port_ok && (host == "127.0.0.1" || host == "::1" || host.eq_ignore_ascii_case("localhost"))
}

/// Whether an `Origin` is `http://` (or `https://`) and a loopback authority.
fn is_loopback_origin(origin: &str) -> bool {
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(is_loopback_authority)
}

/// Whether a `Content-Type` is `application/json`, with any parameters (`; charset=utf-8`).
fn is_json(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// Loopback, counting IPv4 addresses mapped into IPv6 (a dual-stack listener reports them so).
pub(crate) fn is_loopback(peer: &SocketAddr) -> bool {
    match peer {
        SocketAddr::V4(v4) => v4.ip().is_loopback(),
        SocketAddr::V6(v6) => {
            v6.ip().is_loopback() || v6.ip().to_ipv4_mapped().is_some_and(|ip| ip.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests;
