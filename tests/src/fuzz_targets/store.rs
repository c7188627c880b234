//! The fuzz targets over the files a home holds beside `auth.json`: a token file that another
//! program writes, and the runtime cache (`agent-identity-cache.json`).

use std::time::Duration;

use agent_identity_jwt::StaticJwksSource;
use agent_identity_manager::{
    CredentialStore as _, RUNTIME_CACHE_FILE_NAME, Status, TokenFileStore,
};

use super::{FixedClock, JWT_NOW_UNIX, assert_not_echoed, at, write_private};

/// The runtime the runtime cache target looks tasks up for; the seed corpus uses it too.
pub const CACHE_RUNTIME_ID: &str = "agent-123";
/// The token fingerprint the runtime cache target looks tasks up for.
pub const CACHE_TOKEN_SHA256: &str =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
/// The AuthAPI the runtime cache target looks tasks up for.
pub const CACHE_AUTHAPI_BASE: &str = "https://chatgpt.com/backend-api";
/// The key set URL the runtime cache target looks a cached key set up for.
pub const CACHE_JWKS_URL: &str = "https://chatgpt.com/backend-api/agent-identity/jwks";
/// The task the runtime cache target caches over whatever the file held.
pub const CACHE_NEW_TASK: &str = "task-fuzz";

/// A token file's bytes, read through the public `TokenFileStore` from a private file (0600),
/// then the offline status over that store, which decodes the token it read.
///
/// Checks: a token file is never read as "logged out"; a token read is the file's text, trimmed,
/// in three segments; neither the load error nor the status's `Debug` contains the file's text.
pub fn token_file(data: &[u8]) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("token");
    write_private(&path, data);
    let store = TokenFileStore::new(&path);
    let text = String::from_utf8_lossy(data);
    match store.load() {
        Ok(Some(token)) => {
            let read = std::str::from_utf8(data).expect("a token is only read from UTF-8 text");
            assert_eq!(
                token.expose_secret(),
                read.trim(),
                "the token is the file's text"
            );
            assert_eq!(
                token.expose_secret().split('.').count(),
                3,
                "a token has 3 segments"
            );
        }
        Ok(None) => panic!("a token file is read as logged out"),
        Err(error) => assert_not_echoed(&text, &format!("{error} {error:?}"), "a token file error"),
    }
    let status = Status::read(
        &store,
        &FixedClock(at(JWT_NOW_UNIX)),
        Duration::from_secs(60),
    );
    assert_not_echoed(text.trim(), &format!("{status:?}"), "a status");
}

/// `agent-identity-cache.json` bytes in a fresh private home, read as a manager's first load
/// reads them (a task for a binding, the newest task for a runtime and token, a cached key set,
/// whose text is then parsed as the verifier would), then a task cached over them.
///
/// Checks: a task cached reads back whatever the file held (an unusable file is replaced, never
/// fatal); a task found for the binding is also found as the runtime and token's newest.
pub fn runtime_cache(data: &[u8]) {
    let home = tempfile::tempdir().expect("a temporary home");
    write_private(&home.path().join(RUNTIME_CACHE_FILE_NAME), data);
    let read = agent_identity_manager::fuzzing::runtime_cache(
        home.path(),
        CACHE_RUNTIME_ID,
        CACHE_TOKEN_SHA256,
        CACHE_AUTHAPI_BASE,
        CACHE_JWKS_URL,
        CACHE_NEW_TASK,
    );
    if let Some(json) = &read.key_set {
        let _ = StaticJwksSource::from_json(json);
    }
    if read.task.is_some() {
        assert!(
            read.newest_task.is_some(),
            "a task bound to the runtime and token is not found as their newest"
        );
    }
    assert_eq!(
        read.task_after_put.as_deref(),
        Some(CACHE_NEW_TASK),
        "a task cached over the file does not read back"
    );
}
