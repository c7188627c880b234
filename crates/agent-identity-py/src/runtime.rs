//! The extension's one tokio runtime, and what happens to it across `os.fork()`.
//!
//! Every call into the SDK runs on this runtime, with the GIL released. After a fork the child
//! has the parent's runtime in memory but none of its threads, so using it would hang. The child
//! therefore gets a new runtime on its first call (the old one is leaked: dropping it would wait
//! for threads that do not exist), and objects made before the fork refuse to work in the child
//! with [`forked`]: their connections and tasks belonged to the parent.

use std::future::Future;
use std::sync::{Arc, Mutex};

use agent_identity_flight::lock;

use pyo3::prelude::*;
use tokio::runtime::Runtime;

use crate::errors;

/// The runtime and the process it was made in.
struct Owned {
    pid: u32,
    runtime: Arc<Runtime>,
}

/// Only ever locked with the GIL held (see [`runtime`]), so a fork, which also holds the GIL,
/// cannot copy it locked into the child.
static RUNTIME: Mutex<Option<Owned>> = Mutex::new(None);

/// Two workers: the SDK's work is short network calls and one signature per request.
const WORKER_THREADS: usize = 2;

/// The runtime of this process, made on first use (again in a forked child).
pub(crate) fn runtime(_py: Python<'_>) -> PyResult<Arc<Runtime>> {
    let pid = std::process::id();
    let mut slot = lock(&RUNTIME);
    if let Some(owned) = slot.as_ref().filter(|owned| owned.pid == pid) {
        return Ok(Arc::clone(&owned.runtime));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name("agent-identity")
        .enable_all()
        .build()
        .map_err(|error| errors::runtime_error(&format!("cannot start the runtime: {error}")))?;
    let runtime = Arc::new(runtime);
    if let Some(stale) = slot.replace(Owned {
        pid,
        runtime: Arc::clone(&runtime),
    }) {
        // The parent's runtime, copied by fork without its threads: dropping it would join them.
        std::mem::forget(stale);
    }
    Ok(runtime)
}

/// Runs `future` to completion on the runtime with the GIL released.
pub(crate) fn block_on<F>(py: Python<'_>, future: F) -> PyResult<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    let runtime = runtime(py)?;
    Ok(py.detach(|| runtime.block_on(future)))
}

/// The process an object was made in, so that a forked child can refuse to use it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Birth {
    pid: u32,
}

impl Birth {
    /// Now, in this process.
    pub(crate) fn here() -> Self {
        Self {
            pid: std::process::id(),
        }
    }

    /// `Ok` in the process that made the object; the clear error in a forked child.
    pub(crate) fn check(self, what: &str) -> PyResult<()> {
        if self.pid == std::process::id() {
            Ok(())
        } else {
            Err(forked(what))
        }
    }
}

/// The error for an object used in a child it was inherited by through `os.fork()`.
pub(crate) fn forked(what: &str) -> PyErr {
    errors::new_error(
        "forked",
        false,
        &format!(
            "this {what} was created before os.fork() and cannot be used in the child process: \
             create a new one in the child (the package itself works after a fork)"
        ),
    )
}
