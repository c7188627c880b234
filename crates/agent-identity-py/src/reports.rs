//! The typed objects `Identity` methods return: `Status`, `ReloadOutcome` and `Degraded`.
//!
//! Plain values copied out of the SDK's types (ids, states, kinds, times), never a secret.

use std::time::{SystemTime, UNIX_EPOCH};

use agent_identity_sdk::{AuthError, ReloadOutcome, Status};
use pyo3::prelude::*;

use crate::errors;

/// A `datetime` in UTC for `at`.
fn datetime(py: Python<'_>, at: SystemTime) -> PyResult<Py<PyAny>> {
    let seconds = at
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64());
    let module = py.import("datetime")?;
    let utc = module.getattr("timezone")?.getattr("utc")?;
    Ok(module
        .getattr("datetime")?
        .call_method1("fromtimestamp", (seconds, utc))?
        .unbind())
}

/// `Identity.status()`: what is loaded, read offline.
#[pyclass(frozen, get_all, module = "agent_identity_sdk", name = "Status")]
pub(crate) struct IdentityStatus {
    /// `ready`, `logged_out`, `expired`, `unavailable` or `corrupt`.
    state: String,
    account_id: Option<String>,
    runtime_id: Option<String>,
    task_id: Option<String>,
    expires_at: Option<Py<PyAny>>,
    /// The error behind a state that is not `ready`, as its stable kind.
    error_kind: Option<String>,
}

impl IdentityStatus {
    pub(crate) fn of(py: Python<'_>, status: &Status) -> Self {
        let identity = status.identity();
        Self {
            state: status.state().name().to_owned(),
            account_id: identity.map(|record| record.account_id().as_str().to_owned()),
            runtime_id: identity.map(|record| record.runtime_id().as_str().to_owned()),
            task_id: status.task_id().map(|task| task.as_str().to_owned()),
            expires_at: identity
                .and_then(|record| record.expiry())
                .and_then(|at| datetime(py, at).ok()),
            error_kind: status.error().map(|error| error.kind().to_owned()),
        }
    }
}

#[pymethods]
impl IdentityStatus {
    fn __repr__(&self) -> String {
        format!(
            "Status(state={:?}, account_id={}, runtime_id={}, task_id={})",
            self.state,
            optional(self.account_id.as_deref()),
            optional(self.runtime_id.as_deref()),
            optional(self.task_id.as_deref()),
        )
    }
}

/// `'text'` or `None`, as Python writes them.
fn optional(text: Option<&str>) -> String {
    text.map_or_else(|| "None".to_owned(), |text| format!("{text:?}"))
}

/// `Identity.reload()`: what the reload did.
#[pyclass(frozen, get_all, module = "agent_identity_sdk", name = "ReloadOutcome")]
pub(crate) struct IdentityReload {
    /// `unchanged`, `updated`, `logged_out` or `kept_cached`.
    outcome: &'static str,
    /// The failure behind `logged_out` or `kept_cached`.
    error: Option<Py<PyAny>>,
}

impl IdentityReload {
    pub(crate) fn of(py: Python<'_>, outcome: ReloadOutcome) -> PyResult<Self> {
        let (name, error) = match outcome {
            ReloadOutcome::Unchanged => ("unchanged", None),
            ReloadOutcome::Updated => ("updated", None),
            ReloadOutcome::LoggedOut { reason } => (
                "logged_out",
                match reason {
                    agent_identity_sdk::LogoutReason::Revoked(error) => Some(error),
                    _ => Some(AuthError::NotLoggedIn),
                },
            ),
            ReloadOutcome::KeptCached { error } => ("kept_cached", Some(error)),
            _ => ("unchanged", None),
        };
        Ok(Self {
            outcome: name,
            error: error
                .map(|error| errors::exception_object(py, &error))
                .transpose()?,
        })
    }
}

#[pymethods]
impl IdentityReload {
    fn __repr__(&self, py: Python<'_>) -> String {
        let error = self
            .error
            .as_ref()
            .and_then(|error| error.bind(py).repr().ok())
            .map_or_else(|| "None".to_owned(), |repr| repr.to_string());
        format!("ReloadOutcome(outcome={:?}, error={error})", self.outcome)
    }
}

/// `Identity.degraded()`: the identity works from cached state because something failed.
#[pyclass(frozen, get_all, module = "agent_identity_sdk", name = "Degraded")]
pub(crate) struct IdentityDegraded {
    since: Py<PyAny>,
    error: Py<PyAny>,
}

impl IdentityDegraded {
    pub(crate) fn of(py: Python<'_>, since: SystemTime, error: &AuthError) -> PyResult<Self> {
        Ok(Self {
            since: datetime(py, since)?,
            error: errors::exception_object(py, error)?,
        })
    }
}

#[pymethods]
impl IdentityDegraded {
    fn __repr__(&self, py: Python<'_>) -> String {
        let error = self
            .error
            .bind(py)
            .repr()
            .map_or_else(|_| "?".to_owned(), |repr| repr.to_string());
        format!("Degraded(error={error})")
    }
}
