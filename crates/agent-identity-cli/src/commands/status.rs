//! `status`: what is stored, read offline. The token is decoded, not verified: a login verified it.

use std::time::SystemTime;

use agent_identity_jwt::{AgentIdentityRecord, SystemClock};
use agent_identity_manager::{Status, StatusState};
use serde_json::{Value, json};

use crate::commands::object;
use crate::config::Config;
use crate::error::{Exit, Failure, chain};
use crate::output::{Output, aligned, redact, rfc3339};

pub(crate) fn run(config: &Config<'_>, out: Output) -> Result<Exit, Failure> {
    let store = config.store()?;
    let status = Status::read(&*store, &SystemClock, config.leeway());
    let exit = match (status.state(), status.error()) {
        (StatusState::Ready, _) => Exit::Success,
        // A token file that does not exist is a wrong setting: waiting will not fix it.
        (_, Some(error))
            if error.is_transient() && config.global().missing_token_file().is_none() =>
        {
            Exit::TempFail
        }
        _ => Exit::Rejected,
    };
    if out.is_json() {
        let mut fields = vec![
            ("state", json!(status.state().name())),
            // The home may be anything the user typed, a pasted token included.
            ("store", json!(redact(status.store()))),
        ];
        if let Some(form) = status.form() {
            fields.push(("form", json!(form)));
        }
        if let Some(kind) = status.record_kind() {
            fields.push(("record_file", json!(kind.name())));
        }
        if let Some(identity) = status.identity() {
            fields.extend(identity_fields(identity));
        }
        if let Some(task_id) = status.task_id() {
            fields.push(("task_id", json!(task_id.as_str())));
            let registered = status.task_registered_at().and_then(unix_seconds);
            fields.push((
                "task_registered_at",
                json!(
                    registered
                        .and_then(|at| i64::try_from(at).ok())
                        .and_then(rfc3339)
                ),
            ));
        }
        if let Some(error) = status.error() {
            fields.push(("error", json!(error.kind())));
            fields.push(("message", json!(chain(error))));
        }
        out.json_line(&object(fields));
        return Ok(exit);
    }
    let mut rows = vec![("state", status.state().to_string())];
    if let Some(form) = status.form() {
        let form = match (form, status.record_kind()) {
            ("record", Some(kind)) => format!("record ({} file)", kind.name()),
            ("record", None) => "record".to_owned(),
            _ => "jwt".to_owned(),
        };
        rows.push(("form", form));
    }
    if let Some(identity) = status.identity() {
        rows.extend([
            ("account", identity.account_id().to_string()),
            ("runtime id", identity.runtime_id().to_string()),
            ("user id", identity.chatgpt_user_id().to_owned()),
            ("email", identity.email().unwrap_or("-").to_owned()),
            (
                "plan",
                identity.plan().map_or("-", |plan| plan.as_str()).to_owned(),
            ),
            ("fedramp", identity.is_fedramp().to_string()),
            ("expires", expiry(identity)),
        ]);
    }
    if let Some(task_id) = status.task_id() {
        let registered = status
            .task_registered_at()
            .and_then(unix_seconds)
            .and_then(|at| i64::try_from(at).ok())
            .and_then(rfc3339)
            .unwrap_or_else(|| "-".to_owned());
        rows.push(("task", format!("{task_id} (registered {registered})")));
    }
    rows.push(("store", redact(status.store())));
    if let Some(error) = status.error() {
        rows.push(("problem", chain(error)));
    }
    out.line(aligned(&rows));
    Ok(exit)
}

fn unix_seconds(time: SystemTime) -> Option<u64> {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|since| since.as_secs())
}

fn identity_fields(identity: &AgentIdentityRecord) -> Vec<(&'static str, Value)> {
    // A record has no expiry: both fields are null.
    let expires = identity
        .expiry()
        .and_then(unix_seconds)
        .and_then(|at| i64::try_from(at).ok());
    vec![
        ("account_id", json!(identity.account_id().as_str())),
        ("runtime_id", json!(identity.runtime_id().as_str())),
        ("chatgpt_user_id", json!(identity.chatgpt_user_id())),
        ("email", json!(identity.email())),
        ("plan", json!(identity.plan().map(|plan| plan.as_str()))),
        ("fedramp", json!(identity.is_fedramp())),
        ("expires_at", json!(expires.and_then(rfc3339))),
        (
            "expires_at_unix",
            json!(identity.expiry().and_then(unix_seconds)),
        ),
    ]
}

/// `2026-04-27T18:03:11Z (in 59 min)` or `(3 h ago)`.
fn expiry(identity: &AgentIdentityRecord) -> String {
    if identity.expiry().is_none() {
        return "never (a record has no expiry)".to_owned();
    }
    let at = i64::try_from(identity.expires_at_unix())
        .ok()
        .and_then(rfc3339)
        .unwrap_or_else(|| identity.expires_at_unix().to_string());
    let relative = match identity.expires_at().duration_since(SystemTime::now()) {
        Ok(left) => format!("in {}", span(left.as_secs())),
        Err(past) => format!("{} ago", span(past.duration().as_secs())),
    };
    format!("{at} ({relative})")
}

fn span(seconds: u64) -> String {
    match seconds {
        0..120 => format!("{seconds} s"),
        120..7200 => format!("{} min", seconds / 60),
        7200..172_800 => format!("{} h", seconds / 3600),
        _ => format!("{} days", seconds / 86_400),
    }
}
