//! `verify`: check a token against the key set and print its claims, the private key redacted.

use serde_json::{Value, json};

use crate::cli::TokenArgs;
use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::{Output, aligned, sanitize};

pub(crate) async fn run(
    config: &Config<'_>,
    args: &TokenArgs,
    out: Output,
) -> Result<Exit, Failure> {
    let token = config.token(args)?;
    let verifier = config.verifier()?;
    let record = verifier.verify(&token).await?;
    // `AgentIdentityRecord`'s `Serialize` writes `agent_private_key` as "<redacted>".
    let claims = serde_json::to_value(&record).map_err(|error| {
        Failure::new(
            "internal",
            format!("cannot show the claims: {error}"),
            Exit::Rejected,
        )
    })?;
    if out.is_json() {
        out.json_line(&json!({ "ok": true, "claims": claims }));
        return Ok(Exit::Success);
    }
    // Claims are the issuer's text: sanitized one by one, so none can break the line.
    out.line(format!(
        "ok: the token verifies; runtime {} in account {}",
        sanitize(record.runtime_id().as_str()),
        sanitize(record.account_id().as_str())
    ));
    if let Value::Object(claims) = claims {
        let rows: Vec<(&str, String)> = claims
            .iter()
            .map(|(name, value)| (name.as_str(), show(name, value)))
            .collect();
        out.line(aligned(&rows));
    }
    Ok(Exit::Success)
}

/// A claim value for people: strings unquoted, times with their RFC 3339 form.
fn show(name: &str, value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => "-".to_owned(),
        Value::Number(seconds) if matches!(name, "iat" | "exp" | "nbf") => {
            match seconds.as_i64().and_then(crate::output::rfc3339) {
                Some(when) => format!("{seconds} ({when})"),
                None => seconds.to_string(),
            }
        }
        other => other.to_string(),
    }
}
