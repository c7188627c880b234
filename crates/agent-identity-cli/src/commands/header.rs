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
        Err(AuthError::NotLoggedIn) => return Err(not_logged_in()),
        // A rejected identity's verdict: say so, then why.
        Err(error) if matches!(manager.logout_reason(), Some(LogoutReason::Revoked(_))) => {
            return Err(Failure::from(error).context("the stored agent identity was rejected"));
        }
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

/// Nothing is stored: say how to log in. (A rejected identity's `auth()` is its verdict instead.)
fn not_logged_in() -> Failure {
    Failure::new(
        "not_logged_in",
        "not logged in: run `agent-identity login --jwt-file FILE`",
        Exit::Rejected,
    )
}
