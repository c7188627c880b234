//! A loaded agent identity: a verified record and the concrete task id registered for it.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use agent_identity_jwt::AgentIdentityRecord;
use agent_identity_task::{RequestHeaders, TaskClient, TaskId, request_headers};
use arc_swap::ArcSwapOption;

use crate::error::AuthError;

/// A verified agent identity whose task is registered.
///
/// There is no "not yet registered" value of this type: [`AgentIdentityAuth::load`] registers
/// before it returns, so whoever holds one holds a concrete [`TaskId`]. Clones share one
/// allocation.
#[derive(Clone)]
pub struct AgentIdentityAuth {
    inner: Arc<Inner>,
}

/// Aligned to a cache line (128 bytes covers the adjacent-line prefetcher too), so that its
/// reference count, which every `auth()` writes, shares no line with another allocation: false
/// sharing with a neighbour made `auth()` under contention several times slower in some runs.
#[repr(align(128))]
struct Inner {
    record: AgentIdentityRecord,
    task_id: TaskId,
    /// The record's `exp`, copied here beside the reference count that `auth()` has just written:
    /// reading it through the record would touch another cache line, which under contention is
    /// as likely as not to be shared with some other hot allocation.
    expires_at: SystemTime,
    /// The headers of the last second asked for. An assertion's timestamp has whole seconds and
    /// Ed25519 is deterministic, so every request within one second gets byte-identical headers:
    /// computing them once per second is the same as computing them every time, minus the
    /// signatures.
    last: ArcSwapOption<(u64, RequestHeaders)>,
}

impl AgentIdentityAuth {
    /// Registers a task for `record` and returns the loaded auth.
    ///
    /// # Errors
    /// [`AuthError::Task`] when registration fails (after the client's retries).
    pub async fn load(record: AgentIdentityRecord, tasks: &TaskClient) -> Result<Self, AuthError> {
        let task_id = tasks.register_task(&record).await?;
        Ok(Self::from_parts(record, task_id))
    }

    /// Pairs a record with a task id registered elsewhere.
    pub fn from_parts(record: AgentIdentityRecord, task_id: TaskId) -> Self {
        Self {
            inner: Arc::new(Inner {
                expires_at: record.expires_at(),
                record,
                task_id,
                last: ArcSwapOption::empty(),
            }),
        }
    }

    /// The verified identity.
    pub fn record(&self) -> &AgentIdentityRecord {
        &self.inner.record
    }

    /// The task registered for this process.
    pub fn task_id(&self) -> &TaskId {
        &self.inner.task_id
    }

    /// The headers of one request: a fresh `AgentAssertion` signed at `now`, `ChatGPT-Account-ID`,
    /// and `X-OpenAI-Fedramp` for FedRAMP accounts.
    ///
    /// # Errors
    /// [`AuthError::Task`] when the key cannot sign or `now` cannot be written as a timestamp.
    pub fn headers_at(&self, now: SystemTime) -> Result<RequestHeaders, AuthError> {
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .ok()
            .map(|since| since.as_secs());
        if let Some(second) = second
            && let Some(last) = self.inner.last.load().as_ref()
            && last.0 == second
        {
            return Ok(last.1.clone());
        }
        let headers = request_headers(&self.inner.record, &self.inner.task_id, now)?;
        if let Some(second) = second {
            self.inner
                .last
                .store(Some(Arc::new((second, headers.clone()))));
        }
        Ok(headers)
    }

    /// [`AgentIdentityAuth::headers_at`] the system time.
    ///
    /// # Errors
    /// As [`AgentIdentityAuth::headers_at`].
    pub fn headers(&self) -> Result<RequestHeaders, AuthError> {
        self.headers_at(SystemTime::now())
    }

    /// Whether `exp + leeway` is at or before `now`.
    pub(crate) fn is_expired_at(&self, now: SystemTime, leeway: std::time::Duration) -> bool {
        // A leeway so large that the sum overflows means "not expired".
        self.inner
            .expires_at
            .checked_add(leeway)
            .is_some_and(|deadline| deadline <= now)
    }

    pub(crate) fn same_as(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl fmt::Debug for AgentIdentityAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentIdentityAuth")
            .field("runtime_id", self.inner.record.runtime_id())
            .field("account_id", self.inner.record.account_id())
            .field("task_id", &self.inner.task_id)
            .finish_non_exhaustive()
    }
}
