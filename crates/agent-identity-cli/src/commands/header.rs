//! `header`: load the identity as a service would (verify, register a task) and print a fresh
//! `Authorization` value. The value is a short-lived signed assertion, not the token: printing it
//! is what this command is for.

use agent_identity_manager::{AuthError, AuthManager, LogoutReason};
use serde_json::json;

use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::Output;

pub(crate) async fn run(config: &Config<'_>, out: Output) -> Result<Exit, Failure> {
    let verifier = config.verifier()?;
    let tasks = config.task_client()?;
    let store = config.store()?;
    let manager = AuthManager::with_task_reuse(verifier, tasks, store, config.task_reuse()).await?;
    let auth = match manager.auth() {
        Ok(auth) => auth,
        Err(AuthError::NotLoggedIn) => return Err(why_logged_out(&manager)),
        // `Unavailable` carries the transient error that kept the runtime from being set up: exit 75.
        Err(error) => return Err(error.into()),
    };
    let headers = auth.headers()?;
    if out.is_json() {
        out.json_line(&json!({
            "authorization": headers.authorization(),
            "chatgpt_account_id": headers.chatgpt_account_id(),
            "fedramp": headers.fedramp(),
            "task_id": auth.task_id().as_str(),
        }));
    } else {
        out.line(headers.authorization());
    }
    Ok(Exit::Success)
}

/// Why the manager came up logged out: the verdict of its load, if it reached one.
fn why_logged_out(manager: &AuthManager) -> Failure {
    if let Some(LogoutReason::Revoked(error)) = manager.logout_reason() {
        return Failure::from(error).context("the stored agent identity was rejected");
    }
    Failure::new(
        "not_logged_in",
        "not logged in: run `agent-identity login --jwt-file FILE`",
        Exit::Rejected,
    )
}
