//! The emulator's shared state: signing keys, the runtimes it minted and the tasks it issued,
//! counters, and the fault knobs. Locks are `std::sync::Mutex`, held only for map and field
//! updates and never across an `.await`; counters are atomics.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_identity_jwt::{AgentKey, SigningAlgorithm};
use serde::Serialize;

pub use agent_identity_task::{RegistrationForm, UnknownRegistrationForm};

use crate::error::EmulatorError;
use crate::signing::IssuerKey;

/// Stores a registration form in an atomic knob.
fn form_to_u8(form: RegistrationForm) -> u8 {
    match form {
        RegistrationForm::Plain => 0,
        RegistrationForm::Camel => 1,
        RegistrationForm::Encrypted => 2,
        RegistrationForm::EncryptedCamel => 3,
    }
}

/// Reads a registration form back from its atomic knob.
fn form_from_u8(value: u8) -> RegistrationForm {
    match value {
        0 => RegistrationForm::Plain,
        1 => RegistrationForm::Camel,
        3 => RegistrationForm::EncryptedCamel,
        _ => RegistrationForm::Encrypted,
    }
}

/// What the emulator knows about a runtime it minted or registered.
#[derive(Debug, Clone)]
pub(crate) struct Runtime {
    /// The private key of a runtime the emulator minted; `None` for one registered through
    /// `/v1/agent/register`, whose agent keeps its key to itself.
    pub(crate) key: Option<AgentKey>,
    pub(crate) public_key: [u8; 32],
    pub(crate) account_id: String,
    pub(crate) fedramp: bool,
    pub(crate) tasks: HashSet<String>,
}

/// The ChatGPT account behind an access token the emulator issued.
#[derive(Debug, Clone)]
pub(crate) struct ChatGptAccount {
    pub(crate) account_id: String,
    pub(crate) fedramp: bool,
    /// The access token's `exp`, in seconds since the Unix epoch.
    pub(crate) expires_at: i64,
}

/// Fixed configuration, chosen by the builder.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) issuer: String,
    pub(crate) audience: String,
    pub(crate) algorithm: SigningAlgorithm,
    pub(crate) assertion_skew: Duration,
}

/// A pending "fail the next n" fault.
#[derive(Debug, Clone, Copy, Default)]
struct FailNext {
    remaining: u32,
    status: u16,
}

/// Everything the handlers and the handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    /// Every key ever used, oldest first; the last one signs new tokens.
    keys: Mutex<Vec<Arc<IssuerKey>>>,
    runtimes: Mutex<HashMap<String, Runtime>>,
    /// The ChatGPT access tokens issued by `/_emulator/chatgpt-login`, and their accounts.
    logins: Mutex<HashMap<String, ChatGptAccount>>,
    jwks_fetches: AtomicU64,
    agent_registrations: AtomicU64,
    registrations: AtomicU64,
    assertions_accepted: AtomicU64,
    assertions_rejected: AtomicU64,
    fail_registrations: Mutex<FailNext>,
    fail_jwks: Mutex<FailNext>,
    fail_agent_registrations: Mutex<FailNext>,
    /// Added latency in nanoseconds.
    latency_nanos: AtomicU64,
    drop_connections: AtomicU32,
    registration_form: AtomicU8,
}

/// A snapshot of the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub(crate) struct Counters {
    pub(crate) jwks_fetches: u64,
    pub(crate) registrations: u64,
    pub(crate) assertions_accepted: u64,
    pub(crate) assertions_rejected: u64,
    pub(crate) agent_registrations: u64,
}

/// Every critical section leaves the data consistent, so a panic elsewhere must not take the
/// emulator down with it: the workspace's one rule for a poisoned mutex.
pub(crate) use agent_identity_flight::lock;

impl Shared {
    pub(crate) fn new(config: Config, form: RegistrationForm) -> Result<Self, EmulatorError> {
        let key = IssuerKey::generate(config.algorithm)?;
        Ok(Self {
            config,
            keys: Mutex::new(vec![Arc::new(key)]),
            runtimes: Mutex::new(HashMap::new()),
            logins: Mutex::new(HashMap::new()),
            jwks_fetches: AtomicU64::new(0),
            agent_registrations: AtomicU64::new(0),
            registrations: AtomicU64::new(0),
            assertions_accepted: AtomicU64::new(0),
            assertions_rejected: AtomicU64::new(0),
            fail_registrations: Mutex::new(FailNext::default()),
            fail_jwks: Mutex::new(FailNext::default()),
            fail_agent_registrations: Mutex::new(FailNext::default()),
            latency_nanos: AtomicU64::new(0),
            drop_connections: AtomicU32::new(0),
            registration_form: AtomicU8::new(form_to_u8(form)),
        })
    }

    // --- keys ---

    /// The key new tokens are signed with.
    pub(crate) fn current_key(&self) -> Arc<IssuerKey> {
        let keys = lock(&self.keys);
        // The list starts with one key and only grows.
        Arc::clone(
            keys.last()
                .unwrap_or_else(|| unreachable!("the key list is never empty")),
        )
    }

    /// Every published key, oldest first.
    pub(crate) fn keys(&self) -> Vec<Arc<IssuerKey>> {
        lock(&self.keys).clone()
    }

    /// Generates a new key, publishes it beside the old ones, and makes it the signing key.
    pub(crate) fn rotate(&self) -> Result<String, EmulatorError> {
        // Generated outside the lock: an RSA key takes a while.
        let key = Arc::new(IssuerKey::generate(self.config.algorithm)?);
        let kid = key.kid().to_owned();
        lock(&self.keys).push(key);
        Ok(kid)
    }

    // --- runtimes and tasks ---

    /// Records a minted runtime and returns the key it is to carry: `key` if given; otherwise the
    /// key already on record for the runtime, so that earlier tokens stay usable; otherwise a fresh
    /// one. The account and the FedRAMP flag are those of the latest mint.
    pub(crate) fn record_runtime(
        &self,
        runtime_id: &str,
        key: Option<AgentKey>,
        account_id: &str,
        fedramp: bool,
    ) -> Result<AgentKey, EmulatorError> {
        let existing = lock(&self.runtimes)
            .get(runtime_id)
            .and_then(|runtime| runtime.key.clone());
        let key = match key.or(existing) {
            Some(key) => key,
            None => AgentKey::generate().map_err(|_| EmulatorError::Random)?,
        };
        let public_key = key.public_key().map_err(|_| EmulatorError::Signing)?;
        let mut runtimes = lock(&self.runtimes);
        let runtime = runtimes
            .entry(runtime_id.to_owned())
            .or_insert_with(|| Runtime {
                key: Some(key.clone()),
                public_key,
                account_id: String::new(),
                fedramp,
                tasks: HashSet::new(),
            });
        if runtime.public_key != public_key || runtime.key.is_none() {
            // An explicit new key replaces the old one; tasks issued to the old key stay issued.
            runtime.key = Some(key.clone());
            runtime.public_key = public_key;
        }
        account_id.clone_into(&mut runtime.account_id);
        runtime.fedramp = fedramp;
        Ok(key)
    }

    /// Records a runtime registered through `/v1/agent/register`: its public key, and the
    /// account and FedRAMP flag of the ChatGPT login that registered it.
    pub(crate) fn record_registered_runtime(
        &self,
        runtime_id: &str,
        public_key: [u8; 32],
        account_id: &str,
        fedramp: bool,
    ) {
        lock(&self.runtimes).insert(
            runtime_id.to_owned(),
            Runtime {
                key: None,
                public_key,
                account_id: account_id.to_owned(),
                fedramp,
                tasks: HashSet::new(),
            },
        );
    }

    // --- ChatGPT logins ---

    /// Remembers an access token the emulator issued, and the login it stands for.
    pub(crate) fn record_login(&self, access_token: &str, login: ChatGptAccount) {
        lock(&self.logins).insert(access_token.to_owned(), login);
    }

    /// The login an access token stands for, if the emulator issued it.
    pub(crate) fn login(&self, access_token: &str) -> Option<ChatGptAccount> {
        lock(&self.logins).get(access_token).cloned()
    }

    /// The public key on record for a runtime.
    pub(crate) fn public_key(&self, runtime_id: &str) -> Option<[u8; 32]> {
        lock(&self.runtimes)
            .get(runtime_id)
            .map(|runtime| runtime.public_key)
    }

    /// The account and FedRAMP flag on record for a runtime.
    pub(crate) fn account(&self, runtime_id: &str) -> Option<(String, bool)> {
        lock(&self.runtimes)
            .get(runtime_id)
            .map(|runtime| (runtime.account_id.clone(), runtime.fedramp))
    }

    /// Records `task_id` as issued to `runtime_id`; false if the runtime is unknown.
    pub(crate) fn issue_task(&self, runtime_id: &str, task_id: &str) -> bool {
        match lock(&self.runtimes).get_mut(runtime_id) {
            Some(runtime) => {
                runtime.tasks.insert(task_id.to_owned());
                true
            }
            None => false,
        }
    }

    /// Revokes every task issued so far: the protected endpoints answer 401 to assertions
    /// naming them, as a real AuthAPI does for a revoked task. Returns how many were revoked.
    pub(crate) fn revoke_tasks(&self) -> usize {
        lock(&self.runtimes)
            .values_mut()
            .map(|runtime| std::mem::take(&mut runtime.tasks).len())
            .sum()
    }

    /// Whether `task_id` was issued to `runtime_id`.
    pub(crate) fn task_issued(&self, runtime_id: &str, task_id: &str) -> bool {
        lock(&self.runtimes)
            .get(runtime_id)
            .is_some_and(|runtime| runtime.tasks.contains(task_id))
    }

    // --- counters ---

    pub(crate) fn count_jwks_fetch(&self) {
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_registration(&self) {
        self.registrations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_agent_registration(&self) {
        self.agent_registrations.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn count_assertion(&self, accepted: bool) {
        let counter = if accepted {
            &self.assertions_accepted
        } else {
            &self.assertions_rejected
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn counters(&self) -> Counters {
        Counters {
            jwks_fetches: self.jwks_fetches.load(Ordering::Relaxed),
            registrations: self.registrations.load(Ordering::Relaxed),
            assertions_accepted: self.assertions_accepted.load(Ordering::Relaxed),
            assertions_rejected: self.assertions_rejected.load(Ordering::Relaxed),
            agent_registrations: self.agent_registrations.load(Ordering::Relaxed),
        }
    }

    // --- faults ---

    pub(crate) fn fail_next_registrations(&self, n: u32, status: u16) {
        *lock(&self.fail_registrations) = FailNext {
            remaining: n,
            status,
        };
    }

    pub(crate) fn fail_next_jwks(&self, n: u32, status: u16) {
        *lock(&self.fail_jwks) = FailNext {
            remaining: n,
            status,
        };
    }

    pub(crate) fn fail_next_agent_registrations(&self, n: u32, status: u16) {
        *lock(&self.fail_agent_registrations) = FailNext {
            remaining: n,
            status,
        };
    }

    /// Consumes one pending agent registration fault and returns its status.
    pub(crate) fn take_agent_registration_fault(&self) -> Option<u16> {
        take(&self.fail_agent_registrations)
    }

    /// Consumes one pending registration fault and returns its status.
    pub(crate) fn take_registration_fault(&self) -> Option<u16> {
        take(&self.fail_registrations)
    }

    /// Consumes one pending JWKS fault and returns its status.
    pub(crate) fn take_jwks_fault(&self) -> Option<u16> {
        take(&self.fail_jwks)
    }

    pub(crate) fn set_latency(&self, latency: Duration) {
        let nanos = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.latency_nanos.store(nanos, Ordering::Relaxed);
    }

    pub(crate) fn latency(&self) -> Duration {
        Duration::from_nanos(self.latency_nanos.load(Ordering::Relaxed))
    }

    pub(crate) fn drop_next_connections(&self, n: u32) {
        self.drop_connections.store(n, Ordering::Relaxed);
    }

    /// Consumes one pending connection drop; true if this request's connection is to be dropped.
    pub(crate) fn take_connection_drop(&self) -> bool {
        self.drop_connections
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    }

    pub(crate) fn set_registration_form(&self, form: RegistrationForm) {
        self.registration_form
            .store(form_to_u8(form), Ordering::Relaxed);
    }

    pub(crate) fn registration_form(&self) -> RegistrationForm {
        form_from_u8(self.registration_form.load(Ordering::Relaxed))
    }
}

fn take(fault: &Mutex<FailNext>) -> Option<u16> {
    let mut fault = lock(fault);
    if fault.remaining == 0 {
        return None;
    }
    fault.remaining -= 1;
    Some(fault.status)
}

#[cfg(test)]
mod tests;
