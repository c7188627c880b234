//! `logout`: remove the stored agent identity (other credentials in a shared `auth.json` stay).
//!
//! The file is cleared directly rather than through `AuthManager::logout`, because building a
//! manager loads the stored identity (verify, register): logging out must work offline.

use serde_json::json;

use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::{Output, redact};

pub(crate) fn run(config: &Config<'_>, out: Output) -> Result<Exit, Failure> {
    let store = config.file_store()?;
    let stored = store.path().exists();
    agent_identity_manager::CredentialStore::clear(&store)?;
    // The home may be anything the user typed, a pasted token included.
    let path = redact(&store.path().display().to_string());
    if out.is_json() {
        out.json_line(
            &json!({ "ok": true, "state": "logged_out", "store": path, "removed": stored }),
        );
    } else if stored {
        out.line(format!("logged out: {path} removed"));
    } else {
        out.line(format!("logged out: nothing was stored in {path}"));
    }
    Ok(Exit::Success)
}
