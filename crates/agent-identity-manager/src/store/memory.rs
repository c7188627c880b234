//! [`MemoryStore`]: credentials in memory, for tests and for embedding.

use std::sync::{Arc, Mutex};

use agent_identity_flight::lock;
use agent_identity_jwt::IdentityJwt;

use super::{ClearOutcome, CredentialStore, StoreError};

/// Credentials in memory, for tests and for embedding.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    token: Arc<Mutex<Option<IdentityJwt>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `token`.
    pub fn with_token(token: IdentityJwt) -> Self {
        Self {
            token: Arc::new(Mutex::new(Some(token))),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<IdentityJwt>> {
        lock(&self.token)
    }
}

impl CredentialStore for MemoryStore {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        Ok(self.slot().clone())
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        *self.slot() = Some(token.clone());
        Ok(())
    }

    fn clear(&self) -> Result<ClearOutcome, StoreError> {
        Ok(match self.slot().take() {
            Some(_) => ClearOutcome::Removed,
            None => ClearOutcome::NothingStored,
        })
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }

    fn may_block(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
