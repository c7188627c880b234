//! The SDK's errors as Python exceptions: the classes live in `agent_identity_sdk._errors`, and
//! this maps an `AuthError` onto them with its stable `kind` and `is_transient`.
//!
//! The message is the error's `Display`, which never contains a token, a key or an assertion.

use agent_identity_sdk::AuthError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// The Python module declaring the exception hierarchy.
const ERRORS_MODULE: &str = "agent_identity_sdk._errors";

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The exception class named `name` in the errors module.
fn class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyType>> {
    let module = MODULE.get_or_try_init(py, || py.import(ERRORS_MODULE).map(Bound::unbind))?;
    module
        .bind(py)
        .getattr(name)?
        .cast_into::<PyType>()
        .map_err(PyErr::from)
}

/// The class an error maps to: callers branch on these without parsing messages.
fn class_name(error: &AuthError) -> &'static str {
    match error {
        AuthError::NotLoggedIn => "NotLoggedIn",
        AuthError::Config { .. } => "ConfigError",
        error if error.is_transient() => "Unavailable",
        error if error.revokes_identity() => "Rejected",
        _ => "AgentIdentityError",
    }
}

/// An exception instance of `class_name` with `kind` and `is_transient` set.
fn instance(
    py: Python<'_>,
    class_name: &str,
    kind: &str,
    transient: bool,
    message: &str,
) -> PyResult<Py<PyAny>> {
    let class = class(py, class_name)?;
    let exception = class.call1((message, kind, transient))?;
    Ok(exception.unbind())
}

/// The Python exception instance for `error` (for `ReloadOutcome.error` and `Degraded.error`).
pub(crate) fn exception_object(py: Python<'_>, error: &AuthError) -> PyResult<Py<PyAny>> {
    instance(
        py,
        class_name(error),
        error.kind(),
        error.is_transient(),
        &error.to_string(),
    )
}

/// `error` raised as its Python exception.
pub(crate) fn to_py(error: &AuthError) -> PyErr {
    Python::attach(|py| match exception_object(py, error) {
        Ok(exception) => PyErr::from_value(exception.into_bound(py)),
        Err(failure) => failure,
    })
}

/// A base-class `AgentIdentityError` with its own kind, for failures that are not an
/// `AuthError` (a forked child, a runtime that cannot start, an emulator that cannot).
pub(crate) fn new_error(kind: &str, transient: bool, message: &str) -> PyErr {
    Python::attach(
        |py| match instance(py, "AgentIdentityError", kind, transient, message) {
            Ok(exception) => PyErr::from_value(exception.into_bound(py)),
            Err(failure) => failure,
        },
    )
}

/// The runtime could not start (out of threads or file descriptors).
pub(crate) fn runtime_error(message: &str) -> PyErr {
    PyRuntimeError::new_err(message.to_owned())
}
