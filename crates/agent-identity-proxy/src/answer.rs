//! The proxy's own answers: a body of held bytes, the JSON errors (`{"error","message"}`, and
//! `fix` when the identity is not ready), each message with its causes.

use agent_identity_manager::AuthError;
use hyper::body::Bytes;
use hyper::http::header::{self, HeaderValue};
use hyper::http::{Response, StatusCode};
use serde_json::{Value, json};

use crate::body::ProxyBody;

pub(crate) fn full(bytes: Bytes) -> ProxyBody {
    ProxyBody::full(bytes)
}

/// 503 for a transient reason, else 401: `{"error","message","fix"}`, the message with its
/// causes (the URL that could not be reached, say) and the fix in a sentence.
pub(crate) fn not_ready(error: &AuthError) -> Response<ProxyBody> {
    let status = if error.is_transient() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::UNAUTHORIZED
    };
    json_response(
        status,
        &json!({
            "error": error.kind(),
            "message": with_causes(error),
            "fix": fix_for(error),
        }),
    )
}

/// The error and its causes, `: `-separated (each `Display` leaves its source out). No cause
/// in this chain carries a token, key or assertion: the library's errors never do.
pub(crate) fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

/// What the operator does about `error`, in one sentence.
fn fix_for(error: &AuthError) -> &'static str {
    match error {
        AuthError::NotLoggedIn => {
            "no identity is stored: run `agent-identity login`, or start the proxy with --jwt-file"
        }
        AuthError::Expired => {
            "the identity has expired: log in with a fresh token (`agent-identity login`), or have whatever writes the token file write a new one"
        }
        _ if error.is_transient() => {
            "a service the proxy needs did not answer (the message names it): check that it is reachable; the proxy retries by itself"
        }
        _ => "run `agent-identity doctor` for the cause and the fix",
    }
}

pub(crate) fn json_error(status: StatusCode, kind: &str, message: &str) -> Response<ProxyBody> {
    json_response(status, &json!({ "error": kind, "message": message }))
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response<ProxyBody> {
    let mut response = Response::new(full(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}
