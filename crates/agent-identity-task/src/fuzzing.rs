//! Entry points for the fuzz targets into steps that are otherwise private. Not part of the
//! public API; for fuzzing.

use agent_identity_jwt::AgentKey;

use crate::error::TaskError;
use crate::task_id::TaskId;

/// Reads the task id out of a 2xx registration response body exactly as [`crate::TaskClient`]
/// does once the body has been read: the four response forms, then opening a sealed task id with
/// `key`.
///
/// Not part of the public API; for fuzzing. It may change or go away in any release.
///
/// # Errors
/// The [`TaskError`] the client would return for this body.
#[doc(hidden)]
pub fn registration_response(body: &[u8], key: &AgentKey) -> Result<TaskId, TaskError> {
    crate::sealed::task_id_from_response(body, key, None)
}
