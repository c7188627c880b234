//! Ready [`AgentDirectory`]s: a fixed map, and one that a source you provide refreshes in the
//! background while requests keep reading the last good copy.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use agent_identity_task::{AgentDirectory, KnownRuntime};
use arc_swap::ArcSwap;

/// A fixed directory: the runtimes and the valid tasks it was built with.
///
/// Build it from what the issuer told you, never from an agent's token (see the
/// [module documentation](super#where-the-directory-comes-from)).
///
/// # Examples
/// ```
/// use agent_identity_sdk::server::{AgentAssertionLayer, KnownRuntime, StaticDirectory};
///
/// # let public_key = [0u8; 32];
/// let directory = StaticDirectory::new()
///     .with_runtime("runtime-1", KnownRuntime::new(public_key, "account-1"))
///     .with_task("runtime-1", "task-1");
/// let layer = AgentAssertionLayer::new(directory);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StaticDirectory {
    runtimes: HashMap<String, KnownRuntime>,
    tasks: HashSet<(String, String)>,
}

impl StaticDirectory {
    /// An empty directory: every request is refused as `unknown_runtime`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a runtime.
    pub fn with_runtime(mut self, runtime_id: impl Into<String>, runtime: KnownRuntime) -> Self {
        self.runtimes.insert(runtime_id.into(), runtime);
        self
    }

    /// Records `task_id` as issued to `runtime_id` and valid.
    pub fn with_task(mut self, runtime_id: impl Into<String>, task_id: impl Into<String>) -> Self {
        self.tasks.insert((runtime_id.into(), task_id.into()));
        self
    }
}

impl AgentDirectory for StaticDirectory {
    fn runtime(&self, runtime_id: &str) -> Option<KnownRuntime> {
        self.runtimes.get(runtime_id).cloned()
    }

    fn task_valid(&self, runtime_id: &str, task_id: &str) -> bool {
        // A borrowed lookup would need the tuple's owned form; the set is small and the key
        // short, so an allocation per request is the simple choice.
        self.tasks
            .contains(&(runtime_id.to_owned(), task_id.to_owned()))
    }
}

/// A directory that is replaced as a whole: by [`replace`](Self::replace), or by a source you
/// provide, polled with [`refresh_every`](Self::refresh_every).
///
/// Requests read the current copy without waiting for a refresh (an atomic load). A refresh that
/// fails keeps the last good copy: an issuer that is briefly unreachable does not lock agents
/// out. Cheap to clone; clones share the copy.
#[derive(Debug, Clone)]
pub struct RefreshingDirectory {
    current: Arc<ArcSwap<StaticDirectory>>,
}

impl RefreshingDirectory {
    /// Starts with `initial`.
    pub fn new(initial: StaticDirectory) -> Self {
        Self {
            current: Arc::new(ArcSwap::from_pointee(initial)),
        }
    }

    /// Replaces the whole directory; requests verified after this see `next`.
    pub fn replace(&self, next: StaticDirectory) {
        self.current.store(Arc::new(next));
    }

    /// The current copy.
    pub fn snapshot(&self) -> Arc<StaticDirectory> {
        self.current.load_full()
    }

    /// Calls `source` now and then every `interval` on the current tokio runtime, replacing the
    /// directory with each `Ok`; an `Err` keeps the last good copy and is passed to `on_error`
    /// (to log or count it). The refresh stops when the returned [`Refresher`] is dropped.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub fn refresh_every<F, Fut, E>(
        &self,
        interval: Duration,
        mut source: F,
        on_error: impl Fn(E) + Send + 'static,
    ) -> Refresher
    where
        F: FnMut() -> Fut + Send + 'static,
        Fut: Future<Output = Result<StaticDirectory, E>> + Send,
        E: Send + 'static,
    {
        let directory = self.clone();
        let task = tokio::spawn(async move {
            let mut ticks = tokio::time::interval(interval);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match source().await {
                    Ok(next) => directory.replace(next),
                    Err(error) => on_error(error),
                }
            }
        });
        Refresher { task }
    }
}

impl AgentDirectory for RefreshingDirectory {
    fn runtime(&self, runtime_id: &str) -> Option<KnownRuntime> {
        self.current.load().runtime(runtime_id)
    }

    fn task_valid(&self, runtime_id: &str, task_id: &str) -> bool {
        self.current.load().task_valid(runtime_id, task_id)
    }
}

/// The background refresh of a [`RefreshingDirectory`]; dropping it stops the refresh.
#[derive(Debug)]
#[must_use = "the refresh stops when this is dropped"]
pub struct Refresher {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Refresher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
