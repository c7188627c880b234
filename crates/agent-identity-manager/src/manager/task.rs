//! Getting a task for an identity: the token is verified first, then the home's cached task
//! is reused or a new one registered (one sequence for a load and for a recovery, told apart by
//! [`Need`]), and a new task is committed to the home's runtime cache.

use agent_identity_flight::lock;
use agent_identity_jwt::{AgentIdentityRecord, IdentityJwt};
use agent_identity_task::TaskId;
use tracing::Instrument as _;

use super::reload::verify_and_check_key;
use super::store_io::blocking;
use super::{AuthManager, REGISTRATION_LOCK_WAIT, TaskReuse};
use crate::auth::AgentIdentityAuth;
use crate::error::AuthError;
use crate::store::{RegistrationLock, RuntimeCache, TaskBinding};

impl AuthManager {
    /// Verifies `token`, and only then gets a task for it: the home's cached one, or a
    /// registration.
    ///
    /// Nothing is done on a token's behalf before its signature verifies: no cache lookup, no
    /// home registration lock, and no registration request, which would be signed with a key
    /// taken from a token nobody has vouched for yet. A cold start therefore pays the key set's
    /// round trip and the registration's one after the other; a warm home (key set and task
    /// cached) pays neither.
    pub(super) async fn verify_and_register(
        &self,
        token: &IdentityJwt,
    ) -> Result<AgentIdentityAuth, AuthError> {
        let record = verify_and_check_key(&self.inner.verifier, token).await?;
        let obtained = self.obtain_task(record, Need::Any).await?;
        self.save_key_set().await;
        Ok(self.commit(obtained).await)
    }

    /// The runtime cache and this record's binding in it, when tasks are shared per home.
    pub(super) fn task_cache(
        &self,
        record: &AgentIdentityRecord,
    ) -> Option<(RuntimeCache, TaskBinding)> {
        if self.inner.task_reuse == TaskReuse::PerProcess {
            return None;
        }
        let cache = self.runtime_cache()?.clone();
        let binding = TaskBinding::new(
            record.runtime_id().as_str(),
            record.token().fingerprint(),
            self.inner.tasks.base_url().to_string(),
        );
        Some((cache, binding))
    }

    /// The task cached for `binding`, if it may be reused and `need` accepts it.
    pub(super) async fn cached_task(
        &self,
        cache: &RuntimeCache,
        binding: &TaskBinding,
        need: Need<'_>,
    ) -> Option<TaskId> {
        // The constructor's read, once; later lookups read the file again. Lock-free reads of a
        // few KiB run in place: a hop to the blocking pool costs more than the read.
        let startup = lock(&self.inner.startup_cache).take();
        let cached = match startup {
            Some(snapshot) => snapshot.task(binding),
            None => cache.task(binding),
        }?;
        if let TaskReuse::PerHome {
            max_age: Some(max_age),
        } = self.inner.task_reuse
        {
            let age = self
                .inner
                .verifier
                .clock()
                .now()
                .duration_since(cached.registered_at());
            // A registration time in the future is not trusted to be young.
            if age.map_or(true, |age| age > max_age) {
                return None;
            }
        }
        Some(cached.task_id().clone()).filter(|task_id| need.accepts(task_id))
    }

    /// A task for `record`, as `need` asks: the home's cached one (if `need` accepts it), or
    /// (waiting first for another process of the home that is registering one, then looking
    /// again) a new registration, to be cached by [`AuthManager::commit`].
    pub(super) async fn obtain_task(
        &self,
        record: AgentIdentityRecord,
        need: Need<'_>,
    ) -> Result<Obtained, AuthError> {
        let Some((cache, binding)) = self.task_cache(&record) else {
            return Ok(Obtained::uncached(self.register_for(record, need).await?));
        };
        if let Some(task_id) = self.cached_task(&cache, &binding, need).await {
            need.reusing(&task_id);
            return Ok(Obtained::uncached(AgentIdentityAuth::from_parts(
                record, task_id,
            )));
        }
        let lock = cache.lock_registration(REGISTRATION_LOCK_WAIT).await;
        if lock.is_some()
            && let Some(task_id) = self.cached_task(&cache, &binding, need).await
        {
            need.reusing(&task_id);
            return Ok(Obtained::uncached(AgentIdentityAuth::from_parts(
                record, task_id,
            )));
        }
        let auth = self.register_for(record, need).await?;
        Ok(Obtained {
            auth,
            to_cache: Some((cache, binding, lock)),
        })
    }

    /// Caches a newly registered task for the home (then lets the next process in), and returns
    /// the auth.
    pub(super) async fn commit(&self, obtained: Obtained) -> AgentIdentityAuth {
        let Obtained { auth, to_cache } = obtained;
        if let Some((cache, binding, lock)) = to_cache {
            let task_id = auth.task_id().clone();
            let now = self.inner.verifier.clock().now();
            blocking(move || {
                cache.put_task(&binding, &task_id, now);
                drop(lock);
            })
            .await;
        }
        auth
    }

    /// The store's runtime cache, if it has one (asked of the store once).
    pub(super) fn runtime_cache(&self) -> Option<&RuntimeCache> {
        self.inner
            .runtime_cache
            .get_or_init(|| self.inner.store.runtime_cache())
            .as_ref()
    }

    /// Reads the runtime cache once: seeds the verifier's empty key cache with its key set, and
    /// keeps the rest for the first load's task lookup.
    pub(super) fn read_startup_cache(&self) {
        let Some(cache) = self.runtime_cache() else {
            return;
        };
        // In place, as in `cached_task`.
        let snapshot = cache.snapshot();
        if let Some(url) = self.inner.verifier.key_set_url()
            && let Some(key_set) = snapshot.key_set(url.as_str())
            && self.inner.verifier.seed_key_set(&key_set)
        {
            *lock(&self.inner.key_set_cached) = Some(key_set.fetched_at());
        }
        *lock(&self.inner.startup_cache) = Some(snapshot);
    }

    /// Writes the verifier's key set to the runtime cache, if it was fetched since the one there.
    pub(super) async fn save_key_set(&self) {
        let (Some(cache), Some(url), Some(snapshot)) = (
            self.runtime_cache().cloned(),
            self.inner.verifier.key_set_url(),
            self.inner.verifier.key_set_snapshot(),
        ) else {
            return;
        };
        {
            let mut cached = lock(&self.inner.key_set_cached);
            if *cached == Some(snapshot.fetched_at()) {
                return;
            }
            *cached = Some(snapshot.fetched_at());
        }
        let url = url.to_string();
        blocking(move || cache.put_key_set(&url, &snapshot)).await;
    }

    /// [`AuthManager::register`], counted as a recovery when `need` is one.
    pub(super) async fn register_for(
        &self,
        record: AgentIdentityRecord,
        need: Need<'_>,
    ) -> Result<AgentIdentityAuth, AuthError> {
        let result = self.register(record).await;
        if let Need::Replacement { .. } = need {
            crate::metrics::recovery(if result.is_ok() {
                "registered"
            } else {
                "failed"
            });
        }
        result
    }

    pub(super) async fn register(
        &self,
        record: AgentIdentityRecord,
    ) -> Result<AgentIdentityAuth, AuthError> {
        let span = tracing::info_span!(
            "agent_identity.register",
            runtime_id = %record.runtime_id(),
            outcome = tracing::field::Empty,
        );
        let result = AgentIdentityAuth::load(record, &self.inner.tasks)
            .instrument(span.clone())
            .await;
        match &result {
            Ok(auth) => {
                crate::metrics::task("registration");
                span.record("outcome", tracing::field::display(auth.task_id()))
            }
            Err(error) => span.record("outcome", error.kind()),
        };
        result
    }
}

/// A task for an identity, and, when it was just registered for a home, where to cache it (with
/// the home's registration lock, held until it is cached).
pub(super) struct Obtained {
    auth: AgentIdentityAuth,
    to_cache: Option<(RuntimeCache, TaskBinding, Option<RegistrationLock>)>,
}

impl Obtained {
    /// A task that is not to be cached: reused from the cache, or registered without one.
    fn uncached(auth: AgentIdentityAuth) -> Self {
        Self {
            auth,
            to_cache: None,
        }
    }
}

/// What [`AuthManager::obtain_task`] is getting a task for, which decides the cached tasks it
/// may take and how it counts what it did.
#[derive(Debug, Clone, Copy)]
pub(super) enum Need<'a> {
    /// A newly loaded identity: any task the home cached for it.
    Any,
    /// A replacement for `refused`, the task a resource server refused: the task another
    /// process of the home recovered to already, or a new one; never `refused` itself.
    Replacement { refused: &'a TaskId },
}

impl Need<'_> {
    fn accepts(self, task_id: &TaskId) -> bool {
        match self {
            Self::Any => true,
            Self::Replacement { refused } => task_id != refused,
        }
    }

    /// Logs and counts the reuse of a cached task.
    fn reusing(self, task_id: &TaskId) {
        match self {
            Self::Any => {
                tracing::debug!(task_id = %task_id, "reusing the home's task");
                crate::metrics::task("cache");
            }
            Self::Replacement { .. } => {
                tracing::info!(task_id = %task_id, "adopting the task another process recovered to");
                crate::metrics::recovery("adopted");
            }
        }
    }
}
