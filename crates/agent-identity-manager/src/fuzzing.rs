//! Entry points for the fuzz targets into steps that are otherwise private. Not part of the
//! public API; for fuzzing.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use agent_identity_task::TaskId;

use crate::store::{RuntimeCache, TaskBinding};

/// What the runtime cache of a home made of its `agent-identity-cache.json`, through the reads
/// and the read-modify-write a manager does.
///
/// Not part of the public API; for fuzzing. It may change or go away in any release.
#[doc(hidden)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeCacheRead {
    /// The task cached for the binding, before the write.
    pub task: Option<String>,
    /// The newest task cached for the runtime and token, whatever the AuthAPI, before the write.
    pub newest_task: Option<String>,
    /// The key set text cached for the URL, before the write.
    pub key_set: Option<String>,
    /// The task cached for the binding after `new_task` was put for it.
    pub task_after_put: Option<String>,
}

/// Reads the runtime cache in `home` as a manager's first load does (a task for the binding of
/// `runtime_id`, `token_sha256` and `authapi_base`; the newest task for the runtime and token;
/// the key set of `key_set_url`), then caches `new_task` for the binding the way a registration
/// does (a read-modify-write that replaces an unusable document) and reads it back.
///
/// Not part of the public API; for fuzzing. It may change or go away in any release.
#[doc(hidden)]
pub fn runtime_cache(
    home: &Path,
    runtime_id: &str,
    token_sha256: &str,
    authapi_base: &str,
    key_set_url: &str,
    new_task: &str,
) -> RuntimeCacheRead {
    let cache = RuntimeCache::in_home(home);
    let binding = TaskBinding::new(runtime_id, token_sha256, authapi_base);
    let snapshot = cache.snapshot();
    let task = snapshot
        .task(&binding)
        .map(|cached| cached.task_id().as_str().to_owned());
    let newest_task = snapshot
        .newest_task_for(runtime_id, token_sha256)
        .map(|cached| cached.task_id().as_str().to_owned());
    let key_set = snapshot
        .key_set(key_set_url)
        .map(|key_set| key_set.json().to_owned());
    // 2026-04-27T12:00:00Z: a fixed time, so the document written depends on the input alone.
    let registered_at = UNIX_EPOCH + Duration::from_secs(1_777_291_200);
    cache.put_task(&binding, &TaskId::new(new_task), registered_at);
    let task_after_put = cache
        .task(&binding)
        .map(|cached| cached.task_id().as_str().to_owned());
    RuntimeCacheRead {
        task,
        newest_task,
        key_set,
        task_after_put,
    }
}
