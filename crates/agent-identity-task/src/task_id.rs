//! [`TaskId`], the id the AuthAPI assigns to a registered task.

use std::fmt;

/// 1 KiB: the longest task id taken from the AuthAPI. Real ids are tens of bytes; an assertion
/// carrying a 1 KiB id stays far below the 8 KiB that verifiers accept
/// ([`MAX_ASSERTION_HEADER_BYTES`](crate::MAX_ASSERTION_HEADER_BYTES)).
pub const MAX_TASK_ID_BYTES: usize = 1024;

/// The id of a registered task (wire-format §3), proven on every request by an `AgentAssertion`.
///
/// Not a secret on its own: an assertion also needs the agent's signature.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// Wraps a task id.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Debug for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TaskId({:?})", self.0)
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TaskId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<String> for TaskId {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for TaskId {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}
