//! The admin endpoints' handlers under `/_emulator/` (mint, faults, counters) and the parsing of
//! their JSON bodies; `routes` mounts them behind its loopback guard.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use crate::mint::MintRequest;
use crate::routes::{error_response, json_response};
use crate::state::{RegistrationForm, Shared};

/// Parses an optional JSON body: empty means all defaults. The error is the message for a 400.
pub(crate) fn parse_body<T: for<'de> Deserialize<'de> + Default>(body: &[u8]) -> Result<T, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|error| error.to_string())
}

/// The answer to an admin body that does not parse.
pub(crate) fn malformed_body(message: String) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        json!({ "error": "malformed", "message": message }),
    )
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    runtime_id: Option<String>,
    account_id: Option<String>,
    chatgpt_user_id: Option<String>,
    email: Option<String>,
    plan_type: Option<String>,
    fedramp: Option<bool>,
    lifetime_seconds: Option<u64>,
    issuer: Option<String>,
    audience: Option<String>,
}

/// 9999-12-31T23:59:59Z: the latest `exp` the verifier accepts; a later one could only mint a
/// token nothing trusts, and a lifetime overflowing the clock made `exp == iat` silently.
const MAX_EXP: u64 = 253_402_300_799;

/// Whether a token minted at `now` with a lifetime of `seconds` has an `exp` of at most
/// [`MAX_EXP`].
fn lifetime_fits(seconds: u64, now: SystemTime) -> bool {
    let now = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    now.checked_add(seconds).is_some_and(|exp| exp <= MAX_EXP)
}

pub(crate) async fn mint(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: MintBody = match parse_body(&body) {
        Ok(body) => body,
        Err(message) => return malformed_body(message),
    };
    let mut request = MintRequest::new(&shared).email(body.email);
    if let Some(runtime_id) = body.runtime_id {
        request = request.runtime_id(runtime_id);
    }
    if let Some(account_id) = body.account_id {
        request = request.account_id(account_id);
    }
    if let Some(user_id) = body.chatgpt_user_id {
        request = request.chatgpt_user_id(user_id);
    }
    if let Some(plan_type) = body.plan_type {
        request = request.plan_type(plan_type);
    }
    if let Some(fedramp) = body.fedramp {
        request = request.fedramp(fedramp);
    }
    if let Some(issuer) = body.issuer {
        request = request.issuer(issuer);
    }
    if let Some(audience) = body.audience {
        request = request.audience(audience);
    }
    if let Some(seconds) = body.lifetime_seconds {
        if !lifetime_fits(seconds, SystemTime::now()) {
            return malformed_body(format!(
                "lifetime_seconds is too large: exp must not pass {MAX_EXP} (9999-12-31T23:59:59Z)"
            ));
        }
        request = request.lifetime(Duration::from_secs(seconds));
    }
    match request.issue() {
        // The token is a secret; this endpoint hands it out on purpose, as a test fixture.
        Ok(minted) => json_response(
            StatusCode::OK,
            json!({
                "token": minted.token.expose_secret(),
                "runtime_id": minted.runtime_id.as_str(),
                "kid": minted.kid,
            }),
        ),
        Err(crate::EmulatorError::LifetimeOverflow) => {
            malformed_body("lifetime_seconds is too large: exp overflows".to_owned())
        }
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "mint_failed"),
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct FailSpec {
    n: u32,
    status: u16,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    fail_next_registrations: Option<FailSpec>,
    fail_next_jwks: Option<FailSpec>,
    fail_next_agent_registrations: Option<FailSpec>,
    latency_ms: Option<u64>,
    drop_next_connections: Option<u32>,
    registration_form: Option<RegistrationForm>,
    #[serde(default)]
    rotate_signing_key: bool,
    #[serde(default)]
    revoke_tasks: bool,
}

pub(crate) async fn faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body: FaultsBody = match parse_body(&body) {
        Ok(body) => body,
        Err(message) => return malformed_body(message),
    };
    if let Some(FailSpec { n, status }) = body.fail_next_registrations {
        shared.fail_next_registrations(n, status);
    }
    if let Some(FailSpec { n, status }) = body.fail_next_jwks {
        shared.fail_next_jwks(n, status);
    }
    if let Some(FailSpec { n, status }) = body.fail_next_agent_registrations {
        shared.fail_next_agent_registrations(n, status);
    }
    if let Some(ms) = body.latency_ms {
        shared.set_latency(Duration::from_millis(ms));
    }
    if let Some(n) = body.drop_next_connections {
        shared.drop_next_connections(n);
    }
    if let Some(form) = body.registration_form {
        shared.set_registration_form(form);
    }
    let rotated_kid = if body.rotate_signing_key {
        match shared.rotate() {
            Ok(kid) => Some(kid),
            Err(_) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, "rotate_failed"),
        }
    } else {
        None
    };
    let revoked_tasks = body.revoke_tasks.then(|| shared.revoke_tasks());
    json_response(
        StatusCode::OK,
        json!({
            "ok": true,
            "rotated_kid": rotated_kid,
            "revoked_tasks": revoked_tasks,
            "registration_form": shared.registration_form().as_str(),
        }),
    )
}

pub(crate) async fn counters(State(shared): State<Arc<Shared>>) -> Response {
    json_response(StatusCode::OK, json!(shared.counters()))
}
