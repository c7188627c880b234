//! `logout`: remove the stored agent identity (other credentials in a shared `auth.json` stay).
//!
//! The file is cleared directly rather than through `AuthManager::logout`, because building a
//! manager loads the stored identity (verify, register): logging out must work offline.

use agent_identity_manager::ClearOutcome;
use serde_json::json;

use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::{Output, redact};

pub(crate) fn run(config: &Config<'_>, out: Output) -> Result<Exit, Failure> {
    let store = config.durable_store()?;
    let outcome = store.clear()?;
    // The home may be anything the user typed, a pasted token included.
    let path = redact(&store.describe());
    if out.is_json() {
        let mut report = json!({
            "ok": true,
            "state": "logged_out",
            "store": path,
            "removed": outcome.removed(),
            "outcome": outcome.name(),
        });
        if let ClearOutcome::KeptOtherLogin(mode) = &outcome {
            report["kept"] = json!(mode);
        }
        out.json_line(&report);
        return Ok(Exit::Success);
    }
    out.line(match &outcome {
        ClearOutcome::Removed => format!("logged out: removed the agent identity from {path}"),
        ClearOutcome::RemovedCorrupt => format!("logged out: deleted the corrupt {path}"),
        ClearOutcome::KeptOtherLogin(mode) => {
            format!("logged out: no agent identity in {path}; its {mode} login was left untouched")
        }
        _ => format!("logged out: nothing was stored in {path}"),
    });
    if let Some(variable) = config.overriding_variable() {
        out.warning(&format!(
            "{variable} is still set: it overrides the file, so this process's environment \
             stays logged in until it is unset"
        ));
    }
    Ok(Exit::Success)
}
