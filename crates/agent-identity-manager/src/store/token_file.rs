//! A token file that something else writes and rotates: a Kubernetes secret, a SPIFFE-style
//! helper's output, a file a deployment tool drops. Read-only, re-read on every load.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use agent_identity_jwt::IdentityJwt;

use super::{ClearOutcome, CredentialStore, Insecurity, RuntimeCache, StoreError, safety};

/// 64 KiB: a token is a few KiB (and a verifier refuses one over 16 KiB); more is not a token.
const MAX_TOKEN_FILE_BYTES: u64 = 64 * 1024;

/// A read-only credential source: the token in a file that another program writes and rotates.
///
/// Every [`load`](CredentialStore::load) reads the file afresh, following symlinks, so an
/// atomic rename and Kubernetes' `..data` symlink swap are both seen; combined with
/// [`AuthManager::watch_credentials`](crate::AuthManager::watch_credentials), a rotated token is
/// picked up without a restart. A file caught half-written (empty, or not shaped like a token) is
/// [`StoreError::Corrupt`]: a reload keeps the identity it has, and the next one reads the
/// finished file. The file must be a regular file owned by us or root and not writable by group
/// or others; being readable by others (a secret volume's default mode) is allowed.
#[derive(Debug, Clone)]
pub struct TokenFileStore {
    path: PathBuf,
    cache_home: Option<PathBuf>,
}

impl TokenFileStore {
    /// The token in the file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            cache_home: None,
        }
    }

    /// Keeps the runtime cache (the registered task, the key set) in `home`, so that restarts
    /// with this token file cost no round trip. Defaults to none: a task per process.
    #[must_use]
    pub fn with_runtime_cache_home(mut self, home: impl Into<PathBuf>) -> Self {
        self.cache_home = Some(home.into());
        self
    }

    /// The token file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, operation: &'static str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io {
            path: self.path.clone(),
            operation,
            source: std::sync::Arc::new(source),
        }
    }

    fn corrupt(&self, reason: &'static str) -> StoreError {
        StoreError::Corrupt {
            path: self.path.clone(),
            reason,
        }
    }
}

impl CredentialStore for TokenFileStore {
    fn load(&self) -> Result<Option<IdentityJwt>, StoreError> {
        let file = safety::open_following(&self.path).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                StoreError::TokenFileMissing {
                    path: self.path.clone(),
                }
            } else {
                self.io("reading")(error)
            }
        })?;
        let metadata = file.metadata().map_err(self.io("reading"))?;
        if !metadata.is_file() {
            return Err(StoreError::Insecure {
                path: self.path.clone(),
                problem: Insecurity::NotRegularFile,
            });
        }
        if let Some(problem) = safety::trust_problem_of(&metadata) {
            return Err(StoreError::Insecure {
                path: self.path.clone(),
                problem,
            });
        }
        let mut text = String::new();
        file.take(MAX_TOKEN_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|_| self.corrupt("not UTF-8 text"))?;
        if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
            return Err(self.corrupt("larger than 64 KiB"));
        }
        let token = text.trim();
        // A writer caught mid-write leaves an empty or cut-off file: that is not "logged out".
        if token.is_empty() {
            return Err(self.corrupt("empty (being written?)"));
        }
        if !looks_like_a_token(token) {
            return Err(self.corrupt("not a compact JWT (being written?)"));
        }
        Ok(Some(IdentityJwt::new(token)))
    }

    fn save(&self, _token: &IdentityJwt) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly("a token file"))
    }

    fn clear(&self) -> Result<ClearOutcome, StoreError> {
        Err(StoreError::ReadOnly("a token file"))
    }

    fn check_writable(&self) -> Result<(), StoreError> {
        Err(StoreError::ReadOnly("a token file"))
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    /// A read takes no lock and reads at most 64 KiB.
    fn load_may_block(&self) -> bool {
        false
    }

    fn runtime_cache(&self) -> Option<RuntimeCache> {
        self.cache_home.as_ref().map(RuntimeCache::in_home)
    }

    fn watched_paths(&self) -> Vec<PathBuf> {
        vec![self.path.clone()]
    }
}

/// Three non-empty base64url segments: the shape of a whole compact JWS, so a file cut off
/// mid-write is told from a finished one before anything tries to verify it.
fn looks_like_a_token(text: &str) -> bool {
    let segments: Vec<&str> = text.split('.').collect();
    segments.len() == 3
        && segments.iter().all(|segment| {
            !segment.is_empty()
                && segment
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        })
}

#[cfg(test)]
mod tests;
