//! The token file: what it reads, what it refuses, and that a half-written file is no logout.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;

use super::*;

const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";

fn file_with(text: &str) -> (tempfile::TempDir, TokenFileStore) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("token");
    fs::write(&path, text).expect("write");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod");
    (dir, TokenFileStore::new(path))
}

#[test]
fn the_token_is_read_trimmed_each_time() {
    let (_dir, store) = file_with(&format!("{TOKEN}\n"));
    assert_eq!(
        store
            .load()
            .expect("read")
            .map(|t| t.expose_secret().to_owned()),
        Some(TOKEN.to_owned())
    );
    fs::write(store.path(), "a.b.c").expect("rotate");
    assert_eq!(
        store
            .load()
            .expect("read")
            .map(|t| t.expose_secret().to_owned()),
        Some("a.b.c".to_owned())
    );
}

#[test]
fn a_half_written_file_is_corrupt_not_logged_out() {
    for text in [
        "",
        "\n",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIi",
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.",
        "a b.c.d",
    ] {
        let (_dir, store) = file_with(text);
        assert!(
            matches!(store.load(), Err(StoreError::Corrupt { .. })),
            "{text:?}"
        );
    }
}

#[test]
fn a_symlink_is_followed_and_a_swap_is_seen() {
    let (dir, _) = file_with("");
    let first = dir.path().join("..2026_01");
    let second = dir.path().join("..2026_02");
    for (folder, token) in [(&first, "a.b.c"), (&second, "d.e.f")] {
        fs::create_dir(folder).expect("mkdir");
        fs::write(folder.join("token"), token).expect("write");
    }
    std::os::unix::fs::symlink("..2026_01", dir.path().join("..data")).expect("link");
    let mounted = dir.path().join("agent-token");
    std::os::unix::fs::symlink("..data/token", &mounted).expect("link");
    let store = TokenFileStore::new(&mounted);
    assert_eq!(
        store
            .load()
            .expect("read")
            .map(|t| t.expose_secret().to_owned()),
        Some("a.b.c".to_owned())
    );
    std::os::unix::fs::symlink("..2026_02", dir.path().join("..data_tmp")).expect("link");
    fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).expect("swap");
    assert_eq!(
        store
            .load()
            .expect("read")
            .map(|t| t.expose_secret().to_owned()),
        Some("d.e.f".to_owned())
    );
}

#[test]
fn a_file_others_may_write_a_fifo_or_an_oversized_file_is_refused() {
    let (_dir, store) = file_with(TOKEN);
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o666)).expect("chmod");
    assert!(matches!(store.load(), Err(StoreError::Insecure { .. })));
    let (_dir, store) = file_with(&"a".repeat(70 * 1024));
    assert!(matches!(store.load(), Err(StoreError::Corrupt { .. })));
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo");
    assert!(made.success());
    let store = TokenFileStore::new(&fifo);
    assert!(matches!(
        store.load(),
        Err(StoreError::Insecure {
            problem: Insecurity::NotRegularFile,
            ..
        })
    ));
}

#[test]
fn it_is_read_only_and_watched() {
    let (dir, store) = file_with(TOKEN);
    assert!(matches!(
        store.save(&IdentityJwt::new(TOKEN)),
        Err(StoreError::ReadOnly(_))
    ));
    assert!(matches!(store.clear(), Err(StoreError::ReadOnly(_))));
    assert_eq!(store.watched_paths(), vec![store.path().to_owned()]);
    assert!(store.runtime_cache().is_none());
    let cached = store.with_runtime_cache_home(dir.path());
    assert!(cached.runtime_cache().is_some());
}
