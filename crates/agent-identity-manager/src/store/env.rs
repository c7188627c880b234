//! [`EnvOverride`]: a read-only JWT from the environment, layered over a fallback store.

use std::path::PathBuf;
use std::sync::Arc;

use agent_identity_jwt::{AgentRuntimeId, IdentityJwt};
use agent_identity_task::TaskId;

use super::{ClearOutcome, CredentialStore, RuntimeCache, StoreError};
use crate::credential::{AgentRecord, Credential};
use crate::env::{JWT_ENV_VAR, JWT_ENV_VAR_COMPAT};

/// A JWT from the environment (`AGENT_IDENTITY_JWT`, else `CODEX_ACCESS_TOKEN`) that takes
/// precedence over a fallback store. While the variable is set the credentials are read-only and
/// never written to disk; when it is unset, every call goes to the fallback.
#[derive(Debug, Clone)]
pub struct EnvOverride {
    env: Option<(&'static str, IdentityJwt)>,
    fallback: Arc<dyn CredentialStore>,
}

impl EnvOverride {
    /// Reads the variables now, layering them over `fallback`.
    pub fn from_env(fallback: Arc<dyn CredentialStore>) -> Self {
        Self::from_env_lookup(fallback, |name| std::env::var(name).ok())
    }

    /// Like [`EnvOverride::from_env`], with the variables looked up by `lookup`.
    pub fn from_env_lookup(
        fallback: Arc<dyn CredentialStore>,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Self {
        let env = [JWT_ENV_VAR, JWT_ENV_VAR_COMPAT]
            .into_iter()
            .find_map(|name| {
                lookup(name)
                    .filter(|value| !value.trim().is_empty())
                    .map(|value| (name, IdentityJwt::new(value)))
            });
        Self { env, fallback }
    }

    /// Whether the environment supplies the credentials.
    pub fn is_overridden(&self) -> bool {
        self.env.is_some()
    }
}

impl CredentialStore for EnvOverride {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        match &self.env {
            Some((_, token)) => Ok(Some(token.clone())),
            None => self.fallback.load(),
        }
    }

    fn load_credential(&self) -> Result<Option<Credential>, StoreError> {
        match &self.env {
            Some((_, token)) => Ok(Some(Credential::Jwt(token.clone()))),
            None => self.fallback.load_credential(),
        }
    }

    fn save_record_task(
        &self,
        runtime_id: &AgentRuntimeId,
        task_id: &TaskId,
    ) -> Result<bool, StoreError> {
        match &self.env {
            Some((name, _)) => Err(StoreError::ReadOnly(name)),
            None => self.fallback.save_record_task(runtime_id, task_id),
        }
    }

    fn save_record(&self, record: &AgentRecord) -> Result<(), StoreError> {
        match &self.env {
            Some((name, _)) => Err(StoreError::ReadOnly(name)),
            None => self.fallback.save_record(record),
        }
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        match &self.env {
            Some((name, _)) => Err(StoreError::ReadOnly(name)),
            None => self.fallback.save(token),
        }
    }

    fn clear(&self) -> Result<ClearOutcome, StoreError> {
        match &self.env {
            Some((name, _)) => Err(StoreError::ReadOnly(name)),
            None => self.fallback.clear(),
        }
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        match &self.env {
            Some((name, _)) => Err(StoreError::ReadOnly(name)),
            None => self.fallback.check_writable(),
        }
    }

    fn describe(&self) -> String {
        match &self.env {
            Some((name, _)) => format!("environment ({name})"),
            None => self.fallback.describe(),
        }
    }

    fn may_block(&self) -> bool {
        self.env.is_none() && self.fallback.may_block()
    }

    fn load_may_block(&self) -> bool {
        self.env.is_none() && self.fallback.load_may_block()
    }

    /// The fallback store's: a token from the environment is never written, but the task it
    /// registered and the key set are cached in the home all the same.
    fn runtime_cache(&self) -> Option<RuntimeCache> {
        self.fallback.runtime_cache()
    }

    /// The fallback's, unless a variable overrides it (a variable cannot change under us).
    fn watched_paths(&self) -> Vec<PathBuf> {
        if self.env.is_some() {
            Vec::new()
        } else {
            self.fallback.watched_paths()
        }
    }
}

#[cfg(test)]
mod tests;
