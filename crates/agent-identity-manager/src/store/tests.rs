//! Unit tests of the credential stores as a whole (error secrecy), and the fixtures that the
//! tests of each store share.

pub(super) use super::*;

pub(super) use std::fs::{self, File};
pub(super) use std::path::{Path, PathBuf};
pub(super) use std::sync::Arc;
pub(super) use std::time::Instant;

#[cfg(unix)]
use std::os::unix::fs::PermissionsExt as _;

pub(super) use agent_identity_jwt::IdentityJwt;
pub(super) use serde_json::{Map, Value, json};

pub(super) use crate::env::JWT_ENV_VAR;

/// JWT-shaped, not a real token: `FileStore` does not verify what it stores.
pub(super) const TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZ2VudC0xIn0.c2lnbmF0dXJlLTE";

pub(super) const OTHER_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZ2VudC0yIn0.c2lnbmF0dXJlLTI";

pub(super) fn jwt(token: &str) -> IdentityJwt {
    IdentityJwt::new(token)
}

pub(super) fn home() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::new(dir.path());
    (dir, store)
}

pub(super) fn loaded(store: &dyn CredentialStore) -> Option<String> {
    store
        .load()
        .expect("load")
        .map(|token| token.expose_secret().to_owned())
}

pub(super) fn raw_document(store: &FileStore) -> Value {
    let bytes = fs::read(store.path()).expect("auth.json exists");
    serde_json::from_slice(&bytes).expect("auth.json is valid JSON")
}

pub(super) fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

pub(super) fn temp_files_in(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("read_dir")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.ends_with(".tmp"))
        .collect()
}

#[test]
fn errors_and_debug_output_never_show_the_token() {
    const SECRET: &str = "eyJzZWNyZXQiOnRydWV9.c2VjcmV0LXBheWxvYWQ.c2VjcmV0LXNpZ25hdHVyZQ";
    let (_dir, store) = home();
    let mut errors = Vec::new();

    // Torn and mistyped documents that contain the token.
    for content in [
        format!(r#"{{"auth_mode":"agentIdentity","agent_identity":"{SECRET}"#),
        format!(r#"{{"auth_mode":["{SECRET}"],"agent_identity":"{SECRET}"}}"#),
        format!(r#"["{SECRET}"]"#),
    ] {
        fs::write(store.path(), content).expect("seed");
        errors.push(store.load().expect_err("corrupt"));
    }
    // An I/O failure while the token is being written.
    let (_blocked_dir, blocked) = home();
    fs::create_dir(blocked.path()).expect("directory in the file's place");
    errors.push(blocked.save(&jwt(SECRET)).expect_err("io"));
    // A refused write of the token to an environment source.
    let env =
        EnvOverride::from_env_lookup(Arc::new(MemoryStore::with_token(jwt(SECRET))), |name| {
            (name == JWT_ENV_VAR).then(|| SECRET.to_owned())
        });
    errors.push(env.save(&jwt(SECRET)).expect_err("read-only"));

    for error in &errors {
        for rendered in [
            error.to_string(),
            format!("{error:?}"),
            format!("{error:#?}"),
        ] {
            assert!(!rendered.contains(SECRET), "{rendered}");
            assert!(
                !rendered.contains("c2VjcmV0"),
                "part of the token leaked: {rendered}"
            );
        }
    }
    assert!(!format!("{env:?}").contains(SECRET));
    assert!(!format!("{:?}", MemoryStore::with_token(jwt(SECRET))).contains(SECRET));
}

pub(super) fn insecurity(
    result: Result<impl std::fmt::Debug, StoreError>,
) -> (PathBuf, Insecurity) {
    match result {
        Err(StoreError::Insecure { path, problem }) => (path, problem),
        other => panic!("expected Insecure, got {other:?}"),
    }
}
