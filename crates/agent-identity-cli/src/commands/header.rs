//! `header`: load the identity as a service would (verify, then the home's task or a
//! registration) and print fresh request headers, in the form a caller needs. The values are a
//! short-lived signed assertion and the account id, not the token: printing them is what this
//! command is for.

use agent_identity_manager::{AgentIdentityAuth, AuthError, AuthManager, LogoutReason};
use serde_json::json;

use crate::cli::{HeaderArgs, HeaderFormat};
use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::{Output, shell_quote};

mod env;

pub(crate) async fn run(
    config: &Config<'_>,
    args: &HeaderArgs,
    out: Output,
) -> Result<Exit, Failure> {
    let verifier = config.verifier()?;
    let tasks = config.task_client()?;
    let store = config.store()?;
    let manager = AuthManager::with_task_reuse(verifier, tasks, store, config.task_reuse()).await?;
    let auth = loaded(&manager)?;
    let headers = auth.headers()?;
    let format = if out.is_json() {
        HeaderFormat::Json
    } else {
        args.format
    };
    match format {
        HeaderFormat::Json => out.json_line(&json!({
            "authorization": headers.authorization(),
            "chatgpt_account_id": headers.chatgpt_account_id(),
            "fedramp": headers.fedramp(),
            "task_id": auth.task_id().as_str(),
        })),
        HeaderFormat::Value => out.line(headers.authorization()),
        HeaderFormat::Curl => out.line(curl_arguments(headers.iter())),
        HeaderFormat::Http => {
            for (name, value) in headers.iter() {
                out.line(format!("{name}: {value}"));
            }
        }
        HeaderFormat::Env => {
            out.line(format!(
                "{}={}",
                env::AUTHORIZATION,
                shell_quote(headers.authorization())
            ));
            out.line(format!(
                "{}={}",
                env::ACCOUNT_ID,
                shell_quote(headers.chatgpt_account_id())
            ));
            out.line(format!("{}={}", env::FEDRAMP, headers.fedramp()));
        }
    }
    Ok(Exit::Success)
}

/// The identity `manager` loaded, or why there is none as a failure: not logged in (exit 1, with
/// how to log in), the verdict on a rejected identity (exit 1), or the transient error that kept
/// it from loading (exit 75).
pub(crate) fn loaded(manager: &AuthManager) -> Result<AgentIdentityAuth, Failure> {
    match manager.auth() {
        Ok(auth) => Ok(auth),
        Err(AuthError::NotLoggedIn) => Err(not_logged_in()),
        // A rejected identity's verdict: say so, then why.
        Err(error) if matches!(manager.logout_reason(), Some(LogoutReason::Revoked(_))) => {
            Err(Failure::from(error).context("the stored agent identity was rejected"))
        }
        // `Unavailable` carries the transient error that kept the runtime from being set up: exit 75.
        Err(error) => Err(error.into()),
    }
}

/// `-H 'name: value'` for each header, for a curl command line: every value sanitized, then
/// quoted, so that the shell splits the line back into exactly these arguments.
fn curl_arguments<'a, 'b>(headers: impl IntoIterator<Item = (&'a str, &'b str)>) -> String {
    headers
        .into_iter()
        .map(|(name, value)| format!("-H {}", shell_quote(&format!("{name}: {value}"))))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Nothing is stored: say how to log in. (A rejected identity's `auth()` is its verdict instead.)
fn not_logged_in() -> Failure {
    Failure::new(
        "not_logged_in",
        "not logged in: run `agent-identity login --jwt-file FILE`",
        Exit::Rejected,
    )
}

#[cfg(test)]
mod tests;
