//! The key cache: lock-free reads of known keys, one fetch in flight, bounded refetching.
//!
//! Reads load an immutable snapshot from an `ArcSwap`; they never take a lock a fetch holds. A
//! fetch is a single flight (`agent_identity_flight`): it runs as a task of its own, every caller
//! that needs it awaits the same one and gets the same result, and it finishes (and frees its
//! slot) whether or not anybody still waits for it. Within the TTL a known `kid` is served from the snapshot. Past the TTL it is still
//! served at once while a background refresh runs (stale-while-revalidate), up to the maximum
//! staleness; after that, verification waits for a fetch and fails closed if the fetch fails.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime};

use agent_identity_flight::{Cooldown, Flight, SingleFlight, lock};
use arc_swap::ArcSwapOption;
use jwks_client_rs::source::JwksSource;
use tokio::time::Instant;

use crate::error::JwtError;
use crate::jwks::{VerifyingKey, build_keys, key_set_json, parse_key_set};
use crate::types::Clock;
use crate::verify::FETCH_FAILURE_COOLDOWN;

/// How long fetched keys are fresh, and how far past that they may still be used.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CachePolicy {
    pub(crate) ttl: Duration,
    pub(crate) max_staleness: Duration,
    pub(crate) refetch_interval: Duration,
    pub(crate) fetch_timeout: Duration,
}

type FetchResult = Result<Arc<Snapshot>, JwtError>;

pub(crate) struct Snapshot {
    keys: HashMap<String, Arc<VerifyingKey>>,
    fetched_at: Instant,
    /// The usable keys as a JWK Set document, and the wall-clock time they were fetched: what a
    /// [`KeySetSnapshot`] carries to another process.
    document: Arc<str>,
    fetched_wall: SystemTime,
}

/// A key set as fetched, to persist and seed another verifier's cache with (a process restart
/// need not fetch keys it fetched a moment ago). Public keys only: not a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySetSnapshot {
    json: Arc<str>,
    fetched_at: SystemTime,
}

impl KeySetSnapshot {
    /// A snapshot of the JWK Set document `json`, fetched at `fetched_at`.
    pub fn new(json: impl Into<String>, fetched_at: SystemTime) -> Self {
        Self {
            json: Arc::from(json.into()),
            fetched_at,
        }
    }

    /// The JWK Set document.
    pub fn json(&self) -> &str {
        &self.json
    }

    /// When the keys were fetched.
    pub fn fetched_at(&self) -> SystemTime {
        self.fetched_at
    }
}

pub(crate) struct KeyCache {
    shared: Arc<CacheShared>,
}

struct CacheShared {
    source: Arc<dyn JwksSource + Send + Sync>,
    policy: CachePolicy,
    clock: Arc<dyn Clock>,
    snapshot: ArcSwapOption<Snapshot>,
    /// The fetch in flight, if any.
    flight: SingleFlight<FetchResult>,
    /// The last failed fetch, handed to callers that need a fetch until its cooldown ends, so a
    /// cold cache with its source down makes one fetch per cooldown, not one per verification.
    failures: Cooldown<JwtError>,
    /// When the last fetch started; bounds refetches for unknown kids and background refreshes.
    last_attempt: Mutex<Option<Instant>>,
}

impl KeyCache {
    pub(crate) fn new(
        source: Arc<dyn JwksSource + Send + Sync>,
        policy: CachePolicy,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            shared: Arc::new(CacheShared {
                source,
                policy,
                clock,
                snapshot: ArcSwapOption::empty(),
                flight: SingleFlight::new(),
                failures: Cooldown::new(FETCH_FAILURE_COOLDOWN, policy.refetch_interval),
                last_attempt: Mutex::new(None),
            }),
        }
    }

    /// The verification key for `kid`.
    ///
    /// # Errors
    /// [`JwtError::UntrustedKid`] when a key set fetched for this very lookup has no such key;
    /// [`JwtError::KidNotYetKnown`] when the cached key set has no such key and refetching must
    /// wait for the refetch interval; [`JwtError::KeySourceUnavailable`] when no usable key set
    /// can be had.
    pub(crate) async fn key(&self, kid: &str) -> Result<Arc<VerifyingKey>, JwtError> {
        let shared = &self.shared;
        let now = Instant::now();
        let snapshot = shared.snapshot.load_full();
        let snapshot = match snapshot {
            Some(snapshot)
                if now.duration_since(snapshot.fetched_at) < shared.policy.max_staleness =>
            {
                if let Some(key) = snapshot.keys.get(kid) {
                    if now.duration_since(snapshot.fetched_at) >= shared.policy.ttl {
                        self.refresh_in_background(now);
                    }
                    return Ok(Arc::clone(key));
                }
                // An unknown kid may mean the keys were rotated: refetch, but at most once per
                // interval, so a storm of bogus kids cannot turn into a storm of fetches.
                match self.flight_for_unknown_kid(now) {
                    Some(flight) => {
                        crate::metrics::unknown_kid("refetch");
                        landed(flight.await)?
                    }
                    // Not a verdict: the key may have been rotated in since the last fetch.
                    None => {
                        crate::metrics::unknown_kid("refused");
                        return Err(JwtError::kid_not_yet_known(
                            kid,
                            self.until_next_attempt(now),
                        ));
                    }
                }
            }
            // Cold, or too stale to trust: wait for a fetch and fail closed if it fails, or
            // fail at once while the last failure's cooldown lasts.
            _ => {
                if let Some((error, _)) = shared.failures.active(now) {
                    return Err(error);
                }
                landed(self.flight(now).await)?
            }
        };
        snapshot
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| JwtError::untrusted_kid(kid))
    }

    /// The kids of the cached key set, else of one fetched now (as a cold [`KeyCache::key`]
    /// would, sharing its flight and its failure cooldown).
    pub(crate) async fn key_ids(&self) -> Result<Vec<String>, JwtError> {
        let now = Instant::now();
        let snapshot = match self.shared.snapshot.load_full() {
            Some(snapshot) => snapshot,
            None => {
                if let Some((error, _)) = self.shared.failures.active(now) {
                    return Err(error);
                }
                landed(self.flight(now).await)?
            }
        };
        let mut kids: Vec<String> = snapshot.keys.keys().cloned().collect();
        kids.sort();
        Ok(kids)
    }

    /// The key set last fetched (or seeded), if any.
    pub(crate) fn snapshot(&self) -> Option<KeySetSnapshot> {
        self.shared
            .snapshot
            .load()
            .as_ref()
            .map(|snapshot| KeySetSnapshot {
                json: Arc::clone(&snapshot.document),
                fetched_at: snapshot.fetched_wall,
            })
    }

    /// Fills an empty cache with `snapshot`, aged by the time since it was fetched, so that
    /// within the TTL no fetch is needed and past it the usual refresh rules apply. Returns
    /// whether it was used: not when the cache holds keys already, the snapshot is past the
    /// maximum staleness or not a usable key set, or its age cannot be placed on this process's
    /// monotonic clock.
    pub(crate) fn seed(&self, snapshot: &KeySetSnapshot) -> bool {
        let shared = &self.shared;
        if shared.snapshot.load().is_some() {
            return false;
        }
        // A fetch time in the future is not trusted as fresh: it is due for a refresh.
        let age = shared
            .clock
            .now()
            .duration_since(snapshot.fetched_at)
            .unwrap_or(shared.policy.ttl);
        if age >= shared.policy.max_staleness {
            return false;
        }
        let Some(fetched_at) = Instant::now().checked_sub(age) else {
            return false;
        };
        let Ok(set) = parse_key_set(snapshot.json.as_bytes()) else {
            return false;
        };
        let keys = build_keys(set);
        if keys.is_empty() {
            return false;
        }
        let seeded = Arc::new(Snapshot {
            keys,
            fetched_at,
            document: Arc::clone(&snapshot.json),
            fetched_wall: snapshot.fetched_at,
        });
        // Another seed or a fetch may have landed meanwhile; the first one stays.
        let previous = shared
            .snapshot
            .compare_and_swap(&None::<Arc<Snapshot>>, Some(seeded));
        previous.is_none()
    }

    fn flight_for_unknown_kid(&self, now: Instant) -> Option<Flight<FetchResult>> {
        if let Some(flight) = self.shared.flight.current() {
            return Some(flight);
        }
        self.may_attempt(now).then(|| self.flight(now))
    }

    fn refresh_in_background(&self, now: Instant) {
        // Outside a Tokio runtime there is nothing to run a background task on; the stale keys
        // keep serving until a caller past the maximum staleness fetches in the foreground.
        if tokio::runtime::Handle::try_current().is_err()
            || self.shared.flight.is_running()
            || !self.may_attempt(now)
        {
            return;
        }
        // Starting the flight is enough: it runs as a task of its own. A failed refresh is
        // already logged by the fetch, and the stale keys stay in place.
        drop(self.flight(now));
    }

    fn until_next_attempt(&self, now: Instant) -> Duration {
        let last = *lock(&self.shared.last_attempt);
        last.map_or(Duration::ZERO, |last| {
            self.shared
                .policy
                .refetch_interval
                .saturating_sub(now.duration_since(last))
        })
    }

    fn may_attempt(&self, now: Instant) -> bool {
        let last = *lock(&self.shared.last_attempt);
        last.is_none_or(|last| now.duration_since(last) >= self.shared.policy.refetch_interval)
    }

    /// Joins the fetch in flight, or starts one.
    fn flight(&self, now: Instant) -> Flight<FetchResult> {
        let shared = &self.shared;
        shared.flight.join_or_start(|| {
            *lock(&shared.last_attempt) = Some(now);
            let source = Arc::clone(&shared.source);
            let clock = Arc::clone(&shared.clock);
            let fetch_timeout = shared.policy.fetch_timeout;
            // The flight must not keep the cache alive: a cache dropped mid-fetch is freed when
            // the fetch ends.
            let weak: Weak<CacheShared> = Arc::downgrade(shared);
            async move {
                // A fetch that landed after the caller looked (it lost the race to the slot's
                // previous flight) already answers it: no second fetch.
                if let Some(shared) = weak.upgrade()
                    && let Some(current) = shared.snapshot.load_full()
                    && current.fetched_at > now
                {
                    return Ok(current);
                }
                // The source's own timeout may be missing (a custom source) or longer: a fetch
                // that never ends would hold the flight slot, and so every refresh, forever.
                let fetched = fetch(&*source, &*clock);
                let outcome = match tokio::time::timeout(fetch_timeout, fetched).await {
                    Ok(outcome) => outcome,
                    Err(_) => {
                        tracing::warn!(?fetch_timeout, "fetching the key set timed out");
                        crate::metrics::key_set_fetch("timed_out");
                        Err(unavailable("the key set fetch timed out"))
                    }
                };
                if let Some(shared) = weak.upgrade() {
                    match &outcome {
                        Ok(snapshot) => {
                            shared.snapshot.store(Some(Arc::clone(snapshot)));
                            shared.failures.succeeded();
                        }
                        Err(error) => shared.failures.failed(error.clone(), Instant::now()),
                    }
                }
                outcome
            }
        })
    }
}

/// A flight's outcome, with a panicking or cancelled fetch reported as the source unavailable.
fn landed(outcome: Result<FetchResult, agent_identity_flight::Aborted>) -> FetchResult {
    outcome.unwrap_or_else(|aborted| {
        tracing::warn!(%aborted, "the key set fetch did not finish");
        Err(unavailable("the key set fetch did not finish"))
    })
}

fn unavailable(why: &'static str) -> JwtError {
    JwtError::KeySourceUnavailable(Some(Arc::new(FetchFailure(why))))
}

async fn fetch(source: &(dyn JwksSource + Send + Sync), clock: &dyn Clock) -> FetchResult {
    match source.fetch_keys().await {
        Ok(set) => {
            let listed = set.keys();
            let document = Arc::from(key_set_json(&listed));
            let keys = build_keys(listed.into());
            // An answer with no usable key is more likely a broken endpoint than every key revoked
            // at once; it must not replace a good snapshot and turn every token untrusted.
            if keys.is_empty() {
                tracing::warn!("the fetched key set has no usable key; keeping the cached keys");
                crate::metrics::key_set_fetch("no_usable_key");
                return Err(unavailable("the key set has no usable key"));
            }
            tracing::debug!(keys = keys.len(), "fetched the key set");
            crate::metrics::key_set_fetch("ok");
            Ok(Arc::new(Snapshot {
                keys,
                fetched_at: Instant::now(),
                document,
                fetched_wall: clock.now(),
            }))
        }
        Err(error) => {
            tracing::warn!(error = %error, "fetching the key set failed");
            crate::metrics::key_set_fetch("failed");
            Err(JwtError::KeySourceUnavailable(Some(Arc::new(error))))
        }
    }
}

/// Why a fetch that reached the source still gave no key set.
#[derive(Debug)]
struct FetchFailure(&'static str);

impl std::fmt::Display for FetchFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for FetchFailure {}
