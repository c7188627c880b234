//! `header`: load the identity as a service would (verify, then the home's task or a
//! registration) and print fresh request headers, in the form a caller needs. The values are a
//! short-lived signed assertion and the account id, not the token: printing them is what this
//! command is for.

use agent_identity_manager::{AuthError, AuthManager, LogoutReason};
use serde_json::json;

use crate::cli::{HeaderArgs, HeaderFormat};
use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::Output;

pub(crate) async fn run(
    config: &Config<'_>,
    args: &HeaderArgs,
    out: Output,
) -> Result<Exit, Failure> {
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
        HeaderFormat::Curl => out.line(
            headers
                .iter()
                .map(|(name, value)| format!("-H {}", shell_quote(&format!("{name}: {value}"))))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        HeaderFormat::Http => {
            for (name, value) in headers.iter() {
                out.line(format!("{name}: {value}"));
            }
        }
        HeaderFormat::Env => {
            out.line(format!(
                "AGENT_IDENTITY_AUTHORIZATION={}",
                shell_quote(headers.authorization())
            ));
            out.line(format!(
                "AGENT_IDENTITY_ACCOUNT_ID={}",
                shell_quote(headers.chatgpt_account_id())
            ));
            out.line(format!("AGENT_IDENTITY_FEDRAMP={}", headers.fedramp()));
        }
    }
    Ok(Exit::Success)
}

/// `text` as one POSIX shell word: single-quoted, an embedded `'` written `'\''`.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// Nothing is stored: say how to log in. (A rejected identity's `auth()` is its verdict instead.)
fn not_logged_in() -> Failure {
    Failure::new(
        "not_logged_in",
        "not logged in: run `agent-identity login --jwt-file FILE`",
        Exit::Rejected,
    )
}
