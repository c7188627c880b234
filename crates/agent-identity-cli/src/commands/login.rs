//! `login`: verify the token, register a task eagerly, and only then store it.

use agent_identity_manager::AuthManager;
use serde_json::json;

use crate::cli::TokenArgs;
use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::{Output, aligned, redact};

pub(crate) async fn run(
    config: &Config<'_>,
    args: &TokenArgs,
    out: Output,
) -> Result<Exit, Failure> {
    let token = config.login_token(args)?;
    let verifier = config.verifier()?;
    let tasks = config.task_client()?;
    let store = config.durable_store()?;
    // The home may be anything the user typed, a pasted token included.
    let path = redact(&store.describe());
    // Starts logged out: no point setting up the identity this login replaces.
    let manager = AuthManager::without_credentials(verifier, tasks, store, config.task_reuse());
    // `AuthManager::login` verifies, registers, and only then saves: a failure writes nothing.
    let auth = manager.login(token).await?;
    let record = auth.record();
    if out.is_json() {
        out.json_line(&json!({
            "ok": true,
            "state": "ready",
            "runtime_id": record.runtime_id().as_str(),
            "account_id": record.account_id().as_str(),
            "task_id": auth.task_id().as_str(),
            "store": path,
        }));
    } else {
        out.line("logged in: the token verifies and a task is registered");
        out.line(aligned(&[
            ("account", record.account_id().to_string()),
            ("runtime id", record.runtime_id().to_string()),
            ("task id", auth.task_id().to_string()),
            ("stored in", path),
        ]));
    }
    if let Some(variable) = config.overriding_variable() {
        out.warning(&format!(
            "{variable} is set and overrides the stored credentials until it is unset"
        ));
    }
    Ok(Exit::Success)
}
