//! How a command fails: a stable kind, a secret-free message, and the exit code it maps to.

use std::fmt;
use std::process::ExitCode;

use agent_identity_jwt::JwtError;
use agent_identity_manager::{AuthError, StoreError};
use agent_identity_task::{TaskError, TaskErrorKind};

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
}

impl Failure {
    pub(crate) fn new(kind: &'static str, message: impl Into<String>, exit: Exit) -> Self {
        Self {
            kind,
            message: message.into(),
            exit,
        }
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

/// The message of `error` and its sources, joined with `: ` on one line, skipping a source whose
/// text the message already contains, and [`redact`]ed: a cause may quote a path the user gave.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    redact(&one_line(&message))
}

/// Replaces line breaks and other control characters, so an error is always one line.
pub(crate) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

impl From<JwtError> for Failure {
    fn from(error: JwtError) -> Self {
        Self::new(error.kind(), chain(&error), exit_for(error.is_transient()))
    }
}

impl From<AuthError> for Failure {
    fn from(error: AuthError) -> Self {
        if let AuthError::Task(task) = &error
            && task.kind() == TaskErrorKind::Config
        {
            return Self::from(task.clone());
        }
        if let AuthError::Config { .. } = &error {
            return Self::usage(chain(&error));
        }
        Self::new(error.kind(), chain(&error), exit_for(error.is_transient()))
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        Self::from(AuthError::Store(error))
    }
}

impl From<TaskError> for Failure {
    fn from(error: TaskError) -> Self {
        if error.kind() == TaskErrorKind::Config {
            return Self::new("config", chain(&error), Exit::Usage);
        }
        Self::from(AuthError::Task(error))
    }
}

#[cfg(test)]
mod tests;
