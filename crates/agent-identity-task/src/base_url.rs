//! The AuthAPI base URL: where it comes from (wire-format §4) and what makes it acceptable.

use std::fmt;

use agent_identity_jwt::UrlRule;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::env::AUTHAPI_BASE_URL_ENV_VARS;
use crate::error::{Operation, TaskError, TaskErrorKind};

/// The production AuthAPI base URL, used when nothing else is configured (wire-format §4).
pub const PRODUCTION_AUTHAPI_BASE_URL: &str = "https://auth.openai.com/api/accounts";

/// Everything but RFC 3986's unreserved characters is escaped, so a runtime id is always exactly
/// one path segment: `/`, `?`, `#`, `%` and spaces included.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A validated AuthAPI base URL, without a trailing `/`.
///
/// `https` is required, except for the loopback hosts `localhost`, `127.0.0.0/8` and `[::1]`,
/// which may use `http` (for emulators and tests). A query, a fragment or credentials in the URL
/// are refused, because request paths are appended to it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuthApiBaseUrl {
    text: String,
}

impl AuthApiBaseUrl {
    /// Resolves the base URL from `explicit` configuration, then the environment variables of
    /// [`AUTHAPI_BASE_URL_ENV_VARS`] in order, then [`PRODUCTION_AUTHAPI_BASE_URL`]. Values are
    /// trimmed and an empty value counts as unset.
    ///
    /// # Errors
    /// A [`TaskErrorKind::Config`] error when the first value found is not an acceptable URL; a
    /// bad value is never skipped in favour of the next source.
    pub fn resolve(explicit: Option<&str>) -> Result<Self, TaskError> {
        Self::resolve_with(explicit, |name| std::env::var(name).ok())
    }

    /// [`resolve`](Self::resolve) with the environment read through `env`, so tests and embedders
    /// need not touch the process environment.
    ///
    /// # Errors
    /// As for [`resolve`](Self::resolve).
    pub fn resolve_with(
        explicit: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, TaskError> {
        if let Some(value) = explicit.filter(|value| !value.trim().is_empty()) {
            return Self::parse(value);
        }
        for name in AUTHAPI_BASE_URL_ENV_VARS {
            if let Some(value) = env(name).filter(|value| !value.trim().is_empty()) {
                return Self::parse(&value).map_err(|error| {
                    let detail = error.detail().unwrap_or_default();
                    TaskError::new(Operation::ResolveBaseUrl, TaskErrorKind::Config)
                        .with_detail(format!("{name}: {detail}"))
                });
            }
        }
        Self::parse(PRODUCTION_AUTHAPI_BASE_URL)
    }

    /// Validates one base URL: trimmed, trailing `/` removed, then the workspace's
    /// [`UrlRule`] (`https` unless the host is loopback; no credentials, query or fragment).
    ///
    /// # Errors
    /// A [`TaskErrorKind::Config`] error naming what is wrong.
    pub fn parse(value: &str) -> Result<Self, TaskError> {
        let config = |detail: &'static str| {
            TaskError::new(Operation::ResolveBaseUrl, TaskErrorKind::Config).with_detail(detail)
        };
        let text = value.trim().trim_end_matches('/');
        if text.is_empty() {
            return Err(config("the url is empty"));
        }
        // The workspace's one URL rule, strict: request paths are appended to this URL.
        let url = UrlRule::new()
            .parse(text)
            .map_err(|refusal| config(refusal.reason()))?;
        // `Url` normalises (lowercases the host, resolves dot segments); keep its form, without
        // the trailing `/` it adds to an empty path.
        let text = url.as_str().trim_end_matches('/').to_owned();
        Ok(Self { text })
    }

    /// The base URL, without a trailing `/`.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// `{base}/v1/agent/{runtime_id}/task/register`, the runtime id percent-encoded as one path
    /// segment (wire-format §3).
    ///
    /// # Errors
    /// A [`TaskErrorKind::InvalidRuntimeId`] error for `.` and `..` (and their encodings), which
    /// URL normalisation would turn into a different path, and for an empty id.
    pub fn registration_url(&self, runtime_id: &str) -> Result<String, TaskError> {
        if matches!(runtime_id, "" | "." | "..") {
            return Err(TaskError::new(
                Operation::Register,
                TaskErrorKind::InvalidRuntimeId,
            ));
        }
        let segment = utf8_percent_encode(runtime_id, PATH_SEGMENT);
        Ok(format!("{}/v1/agent/{segment}/task/register", self.text))
    }
}

impl fmt::Display for AuthApiBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for AuthApiBaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AuthApiBaseUrl({:?})", self.text)
    }
}

impl std::str::FromStr for AuthApiBaseUrl {
    type Err = TaskError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Self::parse(value)
    }
}

#[cfg(test)]
mod tests;
