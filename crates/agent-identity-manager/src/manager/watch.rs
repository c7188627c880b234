//! Watching: the store's files, for a reload when they change, and the identity's expiry, so
//! that subscribers hear of it even if nobody asks for auth.

use std::sync::Arc;
use std::time::Duration;

use super::AuthManager;
use super::outcome_name;
use super::store_io::blocking;
use crate::auth::AgentIdentityAuth;

impl AuthManager {
    /// Reloads whenever one of the store's files changes ([`CredentialStore::watched_paths`](crate::CredentialStore::watched_paths):
    /// `auth.json`, or a rotated token file, Kubernetes' `..data` symlink swap included), with
    /// the usual reload semantics (a transient failure, or a file caught half-written, keeps the
    /// identity). The files are looked at every `every`; a change is acted on once it has held
    /// still for one more look, so a writer's burst costs one reload. Dropping the returned
    /// handle stops the watch; so does dropping the last manager.
    pub fn watch_credentials(&self, every: Duration) -> CredentialWatch {
        let weak = Arc::downgrade(&self.inner);
        let paths = self.inner.store.watched_paths();
        // Taken now, not in the task: a change right after this call must count as one.
        let mut seen = states_of(&paths);
        let task = tokio::spawn(async move {
            let mut pending = None;
            loop {
                tokio::time::sleep(every).await;
                let now = file_states(paths.clone()).await;
                if now == seen {
                    pending = None;
                    continue;
                }
                if pending.as_ref() != Some(&now) {
                    // Changed since the last look: wait for it to hold still.
                    pending = Some(now);
                    continue;
                }
                let Some(inner) = weak.upgrade() else { return };
                let manager = AuthManager { inner };
                tracing::info!("the credentials changed; reloading");
                let outcome = manager.reload().await;
                tracing::info!(
                    outcome = outcome_name(&outcome),
                    "reloaded after the credentials changed"
                );
                seen = now;
                pending = None;
            }
        });
        CredentialWatch { task }
    }

    /// Publishes `Expired` when the identity's time is up, so subscribers hear of it even if
    /// nobody asks for auth. `auth()` checks the clock as well, so a late timer never serves an
    /// expired identity.
    pub(super) fn watch_expiry(&self, auth: &AgentIdentityAuth) {
        // A stored record has no expiry: there is nothing to watch for.
        if auth.record().expiry().is_none() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let weak = Arc::downgrade(&self.inner);
        let auth = auth.clone();
        // Ends as soon as another state is published or the manager is dropped (its sender with
        // it), not at its next wake: a process that reloads often keeps one watchdog, not one
        // per reload for up to an hour each.
        let mut published = self.inner.notify.subscribe();
        runtime.spawn(async move {
            loop {
                let Some(inner) = weak.upgrade() else { return };
                let manager = AuthManager { inner };
                let still_current = manager
                    .inner
                    .state
                    .load()
                    .auth()
                    .is_some_and(|now| now.same_as(&auth));
                if !still_current {
                    return;
                }
                let Some(deadline) = auth
                    .record()
                    .expires_at()
                    .checked_add(manager.inner.verifier.leeway())
                else {
                    return;
                };
                let now = manager.inner.verifier.clock().now();
                match deadline.duration_since(now) {
                    Ok(remaining) if !remaining.is_zero() => {
                        drop(manager);
                        // Wake at least hourly, so a clock that jumps (suspend) is noticed.
                        let wake = std::pin::pin!(tokio::time::sleep(
                            remaining.min(Duration::from_secs(3600))
                        ));
                        let changed = std::pin::pin!(published.changed());
                        if let futures_util::future::Either::Right((Err(_), _)) =
                            futures_util::future::select(wake, changed).await
                        {
                            return;
                        }
                    }
                    _ => {
                        let _ = manager.auth();
                        return;
                    }
                }
            }
        });
    }
}

/// A running [`AuthManager::watch_credentials`]; dropping it stops the watch.
#[derive(Debug)]
pub struct CredentialWatch {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CredentialWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What identifies a file's content without reading it: the followed file's device, inode, size
/// and modification time (`None` while it is missing).
pub(super) type FileState = Option<(u64, u64, u64, Option<std::time::SystemTime>)>;

pub(super) async fn file_states(paths: Vec<std::path::PathBuf>) -> Vec<FileState> {
    blocking(move || states_of(&paths))
        .await
        .unwrap_or_default()
}

pub(super) fn states_of(paths: &[std::path::PathBuf]) -> Vec<FileState> {
    paths
        .iter()
        .map(|path| {
            let metadata = std::fs::metadata(path).ok()?;
            #[cfg(unix)]
            let (device, inode) = {
                use std::os::unix::fs::MetadataExt as _;
                (metadata.dev(), metadata.ino())
            };
            #[cfg(not(unix))]
            let (device, inode) = (0, 0);
            Some((device, inode, metadata.len(), metadata.modified().ok()))
        })
        .collect()
}
