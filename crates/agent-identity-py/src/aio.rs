//! The async twins: a future run on the extension's runtime, awaited from asyncio.
//!
//! The call returns an `asyncio.Future` of the running loop at once; the work runs on the tokio
//! runtime, and its outcome is handed back to the loop with `call_soon_threadsafe`. A future the
//! caller cancelled meanwhile is left alone.

use std::future::Future;

use agent_identity_sdk::AuthError;
use pyo3::prelude::*;
use pyo3::types::PyCFunction;

/// A Python value made from the outcome, with the GIL held.
pub(crate) type Convert<T> = fn(Python<'_>, T) -> PyResult<Py<PyAny>>;

/// An awaitable that resolves to `convert(outcome of future)`, or raises its error. The error
/// becomes a Python exception only once the GIL is held, after the future is done.
pub(crate) fn awaitable<'py, F, T>(
    py: Python<'py>,
    future: F,
    convert: Convert<T>,
) -> PyResult<Bound<'py, PyAny>>
where
    F: Future<Output = Result<T, AuthError>> + Send + 'static,
    T: Send + 'static,
{
    let event_loop = py.import("asyncio")?.call_method0("get_running_loop")?;
    let result = event_loop.call_method0("create_future")?;
    let runtime = crate::runtime::runtime(py)?;
    let loop_handle = event_loop.unbind();
    let result_handle = result.clone().unbind();
    runtime.spawn(async move {
        let outcome = future.await;
        // Nothing to hand the outcome to once the interpreter is gone.
        let _ = Python::try_attach(|py| {
            let outcome = outcome.map_err(|error| crate::errors::to_py(&error));
            let (ok, value) = match outcome.and_then(|value| convert(py, value)) {
                Ok(value) => (true, value),
                Err(error) => (false, error.into_value(py).into_any()),
            };
            let complete = PyCFunction::new_closure(py, None, None, complete)?;
            loop_handle.call_method1(
                py,
                "call_soon_threadsafe",
                (complete, result_handle, ok, value),
            )?;
            Ok::<_, PyErr>(())
        });
    });
    Ok(result)
}

/// Sets the future's result or exception, unless it was cancelled (or otherwise done).
fn complete(
    args: &Bound<'_, pyo3::types::PyTuple>,
    _kwargs: Option<&Bound<'_, pyo3::types::PyDict>>,
) -> PyResult<()> {
    let (future, ok, value): (Bound<'_, PyAny>, bool, Bound<'_, PyAny>) = args.extract()?;
    if future.call_method0("done")?.is_truthy()? {
        return Ok(());
    }
    let method = if ok { "set_result" } else { "set_exception" };
    future.call_method1(method, (value,))?;
    Ok(())
}
