//! `header`: load the identity as a service would (verify, register a task) and print a fresh
//! `Authorization` value. The value is a short-lived signed assertion, not the token: printing it
//! is what this command is for.

use agent_identity_manager::{AuthError, AuthManager, LogoutReason, ReloadOutcome};
use serde_json::json;

use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::Output;

pub(crate) async fn run(config: &Config<'_>, out: Output) -> Result<Exit, Failure> {
    let verifier = config.verifier()?;
    let tasks = config.task_client()?;
    let store = config.store()?;
    let manager = AuthManager::new(verifier, tasks, store.clone()).await?;
    let auth = match manager.auth() {
        Ok(auth) => auth,
        Err(AuthError::NotLoggedIn) => return Err(why_logged_out(&manager, &*store).await),
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

/// The manager logs out on a rejected token without keeping the verdict; when something is stored,
/// one more reload (keys are cached by now) says why it was rejected.
async fn why_logged_out(
    manager: &AuthManager,
    store: &dyn agent_identity_manager::CredentialStore,
) -> Failure {
    let stored = matches!(store.load(), Ok(Some(_)));
    if stored
        && let ReloadOutcome::LoggedOut {
            reason: LogoutReason::Revoked(error),
        } = manager.reload().await
    {
        return Failure::from(error).context("the stored agent identity was rejected");
    }
    Failure::new(
        "not_logged_in",
        "not logged in: run `agent-identity login --jwt-file FILE`",
        Exit::Rejected,
    )
}
