//! How a command fails: a stable kind, a secret-free message, and the exit code it maps to.

use std::fmt;
use std::process::ExitCode;

use agent_identity_jwt::JwtError;
use agent_identity_manager::{AuthError, StoreError};
use agent_identity_task::TaskError;

use crate::output::redact;

/// The exit codes of the CLI, documented in the README's CLI reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exit {
    /// 0: the command did what it was asked.
    Success,
    /// 1: rejected, invalid, or logged out.
    Rejected,
    /// 2: a usage error (clap uses the same code for the errors it finds).
    Usage,
    /// 75 (`EX_TEMPFAIL` of sysexits.h): a transient failure, such as the AuthAPI or the JWKS
    /// endpoint unreachable after retries. Trying again later may succeed.
    TempFail,
    /// 126: the command `exec` was given cannot be run (not executable, a directory), as shells
    /// and `env` answer.
    CommandNotRunnable,
    /// 127: the command `exec` was given does not exist, as shells and `env` answer.
    CommandNotFound,
    /// The exit status of the command `exec` ran (128 + the signal when a signal ended it).
    Child(u8),
}

impl Exit {
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Rejected => 1,
            Self::Usage => 2,
            Self::TempFail => 75,
            Self::CommandNotRunnable => 126,
            Self::CommandNotFound => 127,
            Self::Child(code) => code,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

/// A failed command. The message comes from our own error types, which never contain a token or
/// a key, or is written here; it is shown as one line, redacted and sanitized by
/// [`Output::failure`](crate::output::Output::failure) in case it quotes what the user typed.
#[derive(Debug)]
pub(crate) struct Failure {
    kind: &'static str,
    message: String,
    exit: Exit,
    /// Whether the message ends in a network failure (a connect error, a timeout), which
    /// [`crate::commands`] follows with the server it was trying to reach.
    network: bool,
}

impl Failure {
    pub(crate) fn new(kind: &'static str, message: impl Into<String>, exit: Exit) -> Self {
        Self {
            kind,
            message: message.into(),
            exit,
            network: false,
        }
    }

    /// Whether the message ends in a network failure.
    pub(crate) fn is_network(&self) -> bool {
        self.network
    }

    /// Adds what to do next (or more of what was found) after the message.
    pub(crate) fn hint(mut self, hint: &str) -> Self {
        self.message = format!("{}{hint}", self.message);
        self
    }

    /// A usage error found after parsing (an unusable URL, a missing token source).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self::new("usage", message, Exit::Usage)
    }

    /// The stable snake_case kind shown as `"error"` in JSON output.
    pub(crate) fn kind(&self) -> &'static str {
        self.kind
    }

    pub(crate) fn message(&self) -> &str {
        &self.message
    }

    pub(crate) fn exit(&self) -> Exit {
        self.exit
    }

    /// Prefixes the message with what was being done, keeping kind and exit code.
    pub(crate) fn context(mut self, what: &str) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn exit_for(transient: bool) -> Exit {
    if transient {
        Exit::TempFail
    } else {
        Exit::Rejected
    }
}

/// The message of `error` and its sources, joined with `: ` on one line, and [`redact`]ed: a
/// cause may quote a path the user gave. (No error of ours repeats its source in its message.)
///
/// A network failure among the sources ends the chain in plain words ("could not connect to
/// 127.0.0.1:9 (connection refused)") instead of the HTTP client's layers of wording.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let network = network_failure(error);
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some((plain, http)) = &network {
            // Stop at the first cause that is, or wraps, the network failure.
            let text = cause.to_string();
            if text.contains(http.as_str()) {
                for vague in [
                    ": could not connect to the authapi",
                    ": the authapi did not answer in time",
                ] {
                    if let Some(head) = message.strip_suffix(vague) {
                        message = head.to_owned();
                    }
                }
                message.push_str(": ");
                message.push_str(plain);
                break;
            }
        }
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    redact(&one_line(&message))
}

/// Whether `error`'s message ends in a network failure [`chain`] put in plain words.
pub(crate) fn is_network_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    network_failure(error).is_some()
}

/// A connect failure or a timeout among `error`'s sources: its plain description, and the HTTP
/// client error's own text (to find where the chain reaches it).
fn network_failure(error: &(dyn std::error::Error + 'static)) -> Option<(String, String)> {
    let mut source = Some(error);
    while let Some(cause) = source {
        if let Some(http) = cause.downcast_ref::<reqwest::Error>() {
            let place = http
                .url()
                .and_then(|url| {
                    Some(format!(
                        "{}:{}",
                        url.host_str()?,
                        url.port_or_known_default()?
                    ))
                })
                .unwrap_or_else(|| "the server".to_owned());
            let plain = if http.is_connect() {
                format!("could not connect to {place} ({})", io_reason(http))
            } else if http.is_timeout() {
                format!("{place} did not answer in time")
            } else {
                return None;
            };
            return Some((plain, http.to_string()));
        }
        source = cause.source();
    }
    None
}

/// The operating system's reason under a connect failure, in lowercase words.
fn io_reason(error: &(dyn std::error::Error + 'static)) -> String {
    use std::io::ErrorKind;
    let mut found = None;
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            found = Some(match io.kind() {
                ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                ErrorKind::TimedOut => "timed out".to_owned(),
                ErrorKind::HostUnreachable => "host unreachable".to_owned(),
                ErrorKind::NetworkUnreachable => "network unreachable".to_owned(),
                ErrorKind::ConnectionReset => "connection reset".to_owned(),
                ErrorKind::AddrNotAvailable => "address not available".to_owned(),
                _ => {
                    let text = io.to_string();
                    let text = text.split(" (os error").next().unwrap_or_default();
                    text.to_lowercase()
                }
            });
        }
        source = cause.source();
    }
    found.unwrap_or_else(|| "no connection".to_owned())
}

/// Replaces line breaks and other control characters, so an error is always one line.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl From<JwtError> for Failure {
    fn from(error: JwtError) -> Self {
        Self::from(AuthError::from(error))
    }
}

impl From<AuthError> for Failure {
    fn from(error: AuthError) -> Self {
        // A bad setting, whichever layer found it.
        if let AuthError::Config { .. } = &error {
            return Self::new("config", chain(&error), Exit::Usage);
        }
        let mut failure = Self::new(error.kind(), chain(&error), exit_for(error.is_transient()));
        failure.network = is_network_failure(&error);
        failure
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::from(AuthError::Store(error))
    }
}

impl From<TaskError> for Failure {
    fn from(error: TaskError) -> Self {
        Self::from(AuthError::from(error))
    }
}

#[cfg(test)]
mod tests;
