//! `login`: verify the token, register a task eagerly, and only then store it.

use std::sync::{Arc, Mutex, PoisonError};

use agent_identity_jwt::IdentityJwt;
use agent_identity_manager::{AuthManager, CredentialStore, FileStore, StoreError};
use serde_json::json;

use crate::cli::TokenArgs;
use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::{Output, aligned};

pub(crate) async fn run(
    config: &Config<'_>,
    args: &TokenArgs,
    out: Output,
) -> Result<Exit, Failure> {
    let token = config.token(args)?;
    let verifier = config.verifier()?;
    let tasks = config.task_client()?;
    let file = config.file_store()?;
    let path = file.path().display().to_string();
    let manager = AuthManager::new(verifier, tasks, Arc::new(LoginStore::new(file))).await?;
    // `AuthManager::login` verifies, registers, and only then saves: a failure writes nothing.
    let auth = manager.login(token).await?;
    let record = auth.record();
    if out.is_json() {
        out.json_line(&json!({
            "ok": true,
            "state": "ready",
            "runtime_id": record.runtime_id().as_str(),
            "account_id": record.account_id().as_str(),
            "task_id": auth.task_id().as_str(),
            "store": path,
        }));
    } else {
        out.line("logged in: the token verifies and a task is registered");
        out.line(aligned(&[
            ("account", record.account_id().to_string()),
            ("runtime id", record.runtime_id().to_string()),
            ("task id", auth.task_id().to_string()),
            ("stored in", path),
        ]));
    }
    Ok(Exit::Success)
}

/// The file store as a login sees it: it starts empty, so building the manager does not set up
/// (verify and register) whatever identity was stored before, which the login replaces anyway.
/// Writes go to the file; reads return what this process saved.
#[derive(Debug)]
struct LoginStore {
    file: FileStore,
    saved: Mutex<Option<IdentityJwt>>,
}

impl LoginStore {
    fn new(file: FileStore) -> Self {
        Self {
            file,
            saved: Mutex::new(None),
        }
    }

    fn saved(&self) -> std::sync::MutexGuard<'_, Option<IdentityJwt>> {
        self.saved.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl CredentialStore for LoginStore {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        Ok(self.saved().clone())
    }

    fn save(&self, token: &IdentityJwt) -> Result<(), StoreError> {
        self.file.save(token)?;
        *self.saved() = Some(token.clone());
        Ok(())
    }

    fn clear(&self) -> Result<(), StoreError> {
        self.file.clear()?;
        *self.saved() = None;
        Ok(())
    }

    fn describe(&self) -> String {
        self.file.describe()
    }
}
