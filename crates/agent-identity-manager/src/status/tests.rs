//! Unit tests of the offline status's states for stores that cannot be read.

use std::time::Duration;

use agent_identity_jwt::SystemClock;

use super::*;
use crate::store::FileStore;

fn status_of(store: &FileStore) -> Status {
    Status::read(store, &SystemClock, Duration::from_secs(60))
}

#[test]
fn a_corrupt_file_has_a_status_state_of_its_own() {
    let home = tempfile::tempdir().expect("temporary home");
    let store = FileStore::new(home.path());
    std::fs::write(store.path(), "{ torn").expect("seed");
    let status = status_of(&store);
    assert_eq!(status.state(), "corrupt");
    assert_eq!(status.error().map(AuthError::kind), Some("store_corrupt"));
    assert!(status.identity().is_none());
}

#[test]
fn a_store_that_cannot_be_read_is_unavailable_not_logged_out() {
    let home = tempfile::tempdir().expect("temporary home");
    let store = FileStore::new(home.path());
    let target = home.path().join("elsewhere.json");
    std::fs::write(&target, "{}").expect("target");
    std::os::unix::fs::symlink(&target, store.path()).expect("symlink");
    let status = status_of(&store);
    assert_eq!(status.state(), "unavailable");
    assert_eq!(status.error().map(AuthError::kind), Some("store_insecure"));

    std::fs::remove_file(store.path()).expect("remove the link");
    std::fs::create_dir(store.path()).expect("a directory in the file's place");
    let status = status_of(&store);
    assert_eq!(status.state(), "unavailable");
    assert_eq!(status.error().map(AuthError::kind), Some("store_io"));
    assert!(!status.error().is_some_and(AuthError::is_transient));

    std::fs::remove_dir(store.path()).expect("remove the directory");
    let status = status_of(&store);
    assert_eq!(status.state(), "logged_out");
    assert!(status.error().is_none());
}
