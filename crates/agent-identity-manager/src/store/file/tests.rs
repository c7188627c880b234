//! The `auth.json` file store: atomic private writes, the lock, the safety checks on the home
//! and the file, and temporary files left by dead writers.
//!
//! One piece: the cases share one fixture (a private home and a store over it) and read as one
//! catalogue of what the file store refuses and keeps.

use super::*;
use crate::store::tests::*;

use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};

#[test]
fn a_missing_file_reads_as_logged_out() {
    let (_dir, store) = home();
    assert_eq!(loaded(&store), None);
}

#[test]
fn reading_a_missing_home_neither_fails_nor_creates_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("not-yet");
    let store = FileStore::new(&missing);
    assert_eq!(loaded(&store), None);
    assert!(!missing.exists(), "a read created the home directory");
}

#[test]
fn corrupt_files_are_reported_never_read_as_logged_out() {
    let valid = format!(
        r#"{{"auth_mode":"agentIdentity","OPENAI_API_KEY":null,"agent_identity":"{TOKEN}"}}"#
    );
    // Every torn write: each proper prefix of a valid document, including the empty file.
    let mut cases: Vec<(String, Vec<u8>)> = (0..valid.len())
        .map(|length| {
            (
                format!("prefix of {length} bytes"),
                valid.as_bytes()[..length].to_vec(),
            )
        })
        .collect();
    let others: [(&str, Vec<u8>); 9] = [
        ("not JSON", b"agent_identity = x".to_vec()),
        ("not UTF-8", vec![b'{', 0xff, 0xfe, b'}']),
        ("null", b"null".to_vec()),
        ("an array", br#"["agentIdentity"]"#.to_vec()),
        ("a string", format!("\"{TOKEN}\"").into_bytes()),
        ("a number", b"42".to_vec()),
        (
            "identity not a string",
            br#"{"auth_mode":"agentIdentity","agent_identity":42}"#.to_vec(),
        ),
        (
            "auth_mode not a string",
            br#"{"auth_mode":7,"agent_identity":"a.b.c"}"#.to_vec(),
        ),
        ("trailing garbage", format!("{valid}}}").into_bytes()),
    ];
    cases.extend(
        others
            .into_iter()
            .map(|(name, bytes)| (name.to_owned(), bytes)),
    );
    let mut oversized = valid.clone().into_bytes();
    oversized.resize(usize::try_from(1u64 << 20).expect("fits") + 1, b' ');
    cases.push(("larger than 1 MiB".to_owned(), oversized));

    let (_dir, store) = home();
    for (name, bytes) in cases {
        fs::write(store.path(), &bytes).expect("seed");
        match store.load() {
            Err(StoreError::Corrupt { path, .. }) => assert_eq!(path, store.path(), "{name}"),
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
    }
}

#[test]
fn saving_over_a_corrupt_file_replaces_it() {
    let (_dir, store) = home();
    let torn = format!(r#"{{"auth_mode":"agentIdentity","agent_identity":"{OTHER_TOKEN}"#);
    fs::write(store.path(), torn).expect("seed");
    assert!(matches!(store.load(), Err(StoreError::Corrupt { .. })));

    store.save(&jwt(TOKEN)).expect("save over a corrupt file");
    assert_eq!(
        raw_document(&store),
        json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": TOKEN})
    );
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
}

#[test]
fn clear_deletes_the_file_and_is_idempotent() {
    let (dir, store) = home();
    store.save(&jwt(TOKEN)).expect("save");
    store.clear().expect("clear");
    assert!(!store.path().exists());
    assert_eq!(loaded(&store), None);
    store.clear().expect("clearing twice");
    assert_eq!(loaded(&store), None);

    let never = FileStore::new(dir.path().join("never-written"));
    never
        .clear()
        .expect("clearing a home that never held credentials");
    assert_eq!(loaded(&never), None);
}

#[test]
fn clear_deletes_a_corrupt_file() {
    for bytes in [
        format!(r#"{{"auth_mode":"agentIdentity","agent_identity":"{TOKEN}"#).into_bytes(),
        br#"["agentIdentity"]"#.to_vec(),
        br#"{"auth_mode":7,"agent_identity":"a.b.c","keep_me":1}"#.to_vec(),
    ] {
        let (_dir, store) = home();
        fs::write(store.path(), &bytes).expect("seed");
        assert!(matches!(store.load(), Err(StoreError::Corrupt { .. })));
        store.clear().expect("clear");
        assert!(
            !store.path().exists(),
            "{}",
            String::from_utf8_lossy(&bytes)
        );
    }
}

#[test]
fn every_save_leaves_the_file_private() {
    let (_dir, store) = home();
    // Codex, an editor or a permissive umask may have left the file readable by others.
    fs::write(
        store.path(),
        json!({"auth_mode": "agentIdentity", "agent_identity": OTHER_TOKEN}).to_string(),
    )
    .expect("seed");
    for (round, loose) in [0o644, 0o666, 0o640, 0o604].into_iter().enumerate() {
        fs::set_permissions(store.path(), fs::Permissions::from_mode(loose)).expect("chmod");
        assert_eq!(mode_of(store.path()), loose);
        let token = if round % 2 == 0 { TOKEN } else { OTHER_TOKEN };
        store.save(&jwt(token)).expect("save");
        assert_eq!(
            mode_of(store.path()),
            0o600,
            "after a save over a {loose:o} file"
        );
        assert_eq!(loaded(&store).as_deref(), Some(token));
    }
}

#[test]
fn the_store_creates_a_private_home_and_lock_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let home = dir.path().join("home");
    let store = FileStore::new(&home);
    store.save(&jwt(TOKEN)).expect("save");
    assert_eq!(mode_of(&home) & 0o077, 0, "home is {:o}", mode_of(&home));
    assert_eq!(mode_of(store.path()), 0o600);
    assert_eq!(mode_of(&home.join("auth.json.lock")) & 0o077, 0);
    assert!(temp_files_in(&home).is_empty());
}

#[test]
fn a_failed_write_removes_its_temporary_file() {
    // Permission tricks do not stop root, so make the rename fail instead: a non-empty directory
    // cannot be replaced by a file. The temporary file has been created and synced by then.
    let (dir, store) = home();
    fs::create_dir(store.path()).expect("directory in the file's place");
    fs::write(store.path().join("occupant"), "x").expect("occupant");
    let mut document = Map::new();
    document.insert("agent_identity".into(), json!(TOKEN));

    let error = store
        .file
        .write_document(&document)
        .expect_err("rename over a directory fails");
    assert!(matches!(error, StoreError::Io { .. }), "{error:?}");
    assert_eq!(temp_files_in(dir.path()), Vec::<String>::new());
    assert!(
        store.path().join("occupant").exists(),
        "the obstacle was disturbed"
    );

    // The same through the public API: an unreadable file is an error, not an empty document.
    let error = store
        .save(&jwt(TOKEN))
        .expect_err("save over a directory fails");
    assert!(matches!(error, StoreError::Io { .. }), "{error:?}");
    assert_eq!(temp_files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn saves_leave_no_temporary_files() {
    let (dir, store) = home();
    for round in 0..5 {
        store
            .save(&jwt(if round % 2 == 0 { TOKEN } else { OTHER_TOKEN }))
            .expect("save");
    }
    assert_eq!(temp_files_in(dir.path()), Vec::<String>::new());
}

/// Runs `call` on a thread and returns its result, or panics if it has not finished within
/// `bound`: a store call that waits on a lock fails the test instead of hanging it.
fn within<T: Send + 'static>(bound: Duration, call: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    receiver
        .recv_timeout(bound)
        .unwrap_or_else(|_| panic!("the call did not finish within {bound:?}"))
}

/// 30 s: a hang guard only, far longer than any store call without a lock wait takes.
const HANG_GUARD: Duration = Duration::from_secs(30);

/// Another process's exclusive lock on the store. `flock` locks belong to an open file
/// description, so a second open of the lock file in this process contends exactly as another
/// process would.
fn hold_the_lock(store: &FileStore) -> File {
    store
        .save(&jwt(TOKEN))
        .expect("seed, creating the lock file");
    let holder = File::open(store.file.lock_path()).expect("open the lock file");
    holder.lock().expect("lock");
    holder
}

#[test]
fn a_read_does_not_wait_for_a_writers_lock() {
    let (_dir, store) = home();
    let _holder = hold_the_lock(&store);
    let reader = store.clone();
    let loaded = within(HANG_GUARD, move || reader.load());
    assert_eq!(
        loaded
            .expect("load while locked")
            .map(|token| token.expose_secret().to_owned())
            .as_deref(),
        Some(TOKEN)
    );
}

#[test]
fn a_write_gives_up_on_a_held_lock_after_its_bound_with_a_transient_error() {
    let (_dir, store) = home();
    let _holder = hold_the_lock(&store);
    let before = fs::read(store.path()).expect("read");
    let bound = Duration::from_millis(200);
    let store = store.with_lock_timeout(bound);

    let writer = store.clone();
    let (save, waited) = within(HANG_GUARD, move || {
        let started = Instant::now();
        (writer.save(&jwt(OTHER_TOKEN)), started.elapsed())
    });
    let error = save.expect_err("save while locked");
    assert!(
        matches!(&error, StoreError::Locked { path, .. } if path == store.file.lock_path()),
        "{error:?}"
    );
    assert!(
        waited >= bound,
        "gave up after {waited:?}, before {bound:?}"
    );
    assert!(error.is_transient());
    assert!(
        error
            .to_string()
            .starts_with("credentials are locked by another process"),
        "{error}"
    );

    let clearer = store.clone();
    let error = within(HANG_GUARD, move || clearer.clear()).expect_err("clear while locked");
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
    assert_eq!(
        fs::read(store.path()).expect("read"),
        before,
        "a write got through"
    );
}

#[test]
fn a_zero_lock_timeout_tries_once() {
    let (_dir, store) = home();
    let _holder = hold_the_lock(&store);
    let store = store.with_lock_timeout(Duration::ZERO);
    let error = within(HANG_GUARD, move || store.clear()).expect_err("clear while locked");
    assert!(matches!(error, StoreError::Locked { .. }), "{error:?}");
}

#[test]
fn a_write_proceeds_once_the_lock_is_released() {
    let (_dir, store) = home();
    let holder = hold_the_lock(&store);
    let writer = store.clone();
    let saving = std::thread::spawn(move || writer.save(&jwt(OTHER_TOKEN)));
    drop(holder);
    saving
        .join()
        .expect("the writer does not panic")
        .expect("save once the lock is free");
    assert_eq!(loaded(&store).as_deref(), Some(OTHER_TOKEN));
}

#[test]
fn the_default_lock_timeout_is_ten_seconds() {
    assert_eq!(DEFAULT_LOCK_TIMEOUT, Duration::from_secs(10));
    let (_dir, store) = home();
    assert_eq!(store.file.lock_timeout(), DEFAULT_LOCK_TIMEOUT);
}

#[test]
fn a_dangling_lock_symlink_is_refused_and_nothing_is_created_where_it_points() {
    let (dir, store) = home();
    store.save(&jwt(TOKEN)).expect("seed");
    fs::remove_file(store.file.lock_path()).expect("remove the lock file");
    let target = dir.path().join("elsewhere");
    std::os::unix::fs::symlink(&target, store.file.lock_path()).expect("symlink");

    for (name, result) in [
        ("clear", store.clear().map(|_| ())),
        ("save", store.save(&jwt(OTHER_TOKEN))),
        ("check_writable", store.check_writable()),
    ] {
        let (path, problem) = insecurity(result);
        assert_eq!(path, store.file.lock_path(), "{name}");
        assert_eq!(problem, Insecurity::Symlink, "{name}");
        assert!(!target.exists(), "{name} created the symlink's target");
    }
    assert_eq!(
        loaded(&store).as_deref(),
        Some(TOKEN),
        "the token was touched"
    );
}

#[test]
fn a_symlinked_auth_json_is_refused_never_replaced() {
    let (dir, store) = home();
    let target = dir.path().join("real-auth.json");
    let document = json!({"auth_mode": "agentIdentity", "agent_identity": TOKEN}).to_string();
    fs::write(&target, &document).expect("target");
    fs::set_permissions(&target, fs::Permissions::from_mode(0o600)).expect("chmod");
    std::os::unix::fs::symlink(&target, store.path()).expect("symlink");

    let (path, problem) = insecurity(store.load());
    assert_eq!(
        (path, problem),
        (store.path().to_owned(), Insecurity::Symlink)
    );
    for (name, result) in [
        ("clear", store.clear().map(|_| ())),
        ("save", store.save(&jwt(OTHER_TOKEN))),
        ("check_writable", store.check_writable()),
    ] {
        let (path, problem) = insecurity(result);
        assert_eq!(path, store.path(), "{name}");
        assert_eq!(problem, Insecurity::Symlink, "{name}");
        assert!(
            fs::symlink_metadata(store.path())
                .expect("still there")
                .file_type()
                .is_symlink(),
            "{name} replaced the link"
        );
        assert_eq!(
            fs::read_to_string(&target).expect("target"),
            document,
            "{name}"
        );
    }
    let error = store.clear().expect_err("refused");
    assert!(!error.is_transient());
    assert!(error.to_string().contains("symbolic link"), "{error}");
}

#[test]
fn a_fifo_auth_json_is_refused_without_hanging() {
    let (_dir, store) = home();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        store.path(),
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .expect("mkfifo");
    let reader = store.clone();
    let (path, problem) = insecurity(within(HANG_GUARD, move || reader.load()));
    assert_eq!(
        (path, problem),
        (store.path().to_owned(), Insecurity::NotRegularFile)
    );
    let clearer = store.clone();
    let (_, problem) = insecurity(within(HANG_GUARD, move || clearer.clear()));
    assert_eq!(problem, Insecurity::NotRegularFile);
    let checker = store.clone();
    let (_, problem) = insecurity(within(HANG_GUARD, move || checker.check_writable()));
    assert_eq!(problem, Insecurity::NotRegularFile);
    assert!(
        fs::symlink_metadata(store.path())
            .expect("still there")
            .file_type()
            .is_fifo()
    );
}

#[test]
fn a_home_writable_by_others_is_refused_with_the_fix() {
    for mode in [0o777, 0o770, 0o1777, 0o702] {
        let (dir, store) = home();
        store.save(&jwt(TOKEN)).expect("seed");
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(mode)).expect("chmod");
        for (name, result) in [
            ("load", store.load().map(|_| ())),
            ("save", store.save(&jwt(OTHER_TOKEN))),
            ("clear", store.clear().map(|_| ())),
            ("check_writable", store.check_writable()),
        ] {
            let error = result.expect_err(name);
            assert!(!error.is_transient(), "{name}");
            let (path, problem) = insecurity(Err::<(), _>(error.clone()));
            assert_eq!(path, dir.path(), "{name} {mode:o}");
            assert_eq!(
                problem,
                Insecurity::WritableByOthers {
                    mode,
                    directory: true
                },
                "{name}"
            );
            let message = error.to_string();
            assert!(
                message.contains(&format!("chmod 700 {}", dir.path().display())),
                "{message}"
            );
        }
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o700)).expect("chmod");
        assert_eq!(loaded(&store).as_deref(), Some(TOKEN), "{mode:o}");
    }
}

#[test]
fn a_credentials_file_writable_by_others_is_refused_on_read_and_repaired_by_a_write() {
    for mode in [0o666, 0o620, 0o602, 0o622] {
        let (_dir, store) = home();
        store.save(&jwt(TOKEN)).expect("seed");
        fs::set_permissions(store.path(), fs::Permissions::from_mode(mode)).expect("chmod");
        let error = store.load().expect_err("refused");
        let (path, problem) = insecurity(Err::<(), _>(error.clone()));
        assert_eq!(path, store.path());
        assert_eq!(
            problem,
            Insecurity::WritableByOthers {
                mode,
                directory: false
            }
        );
        assert!(!error.is_transient());
        assert!(
            error
                .to_string()
                .contains(&format!("chmod 600 {}", store.path().display())),
            "{error}"
        );
        // A login replaces it with a private file of ours.
        store.save(&jwt(OTHER_TOKEN)).expect("save repairs it");
        assert_eq!(mode_of(store.path()), 0o600);
        assert_eq!(loaded(&store).as_deref(), Some(OTHER_TOKEN));
    }
}

/// The ownership check needs a file owned by someone else, which only root can make; the rule
/// itself is unit-tested for every (owner, mode, euid) in `safety`'s tests.
#[test]
fn a_file_or_home_owned_by_another_user_is_refused_when_root_can_make_one() {
    let (dir, store) = home();
    store.save(&jwt(TOKEN)).expect("seed");
    let stranger = 4_000_123;
    if std::os::unix::fs::chown(store.path(), Some(stranger), None).is_err() {
        // Not root: the rule's unit test covers it.
        assert_ne!(safety::euid(), Some(0), "root could not chown");
        return;
    }
    let (path, problem) = insecurity(store.load());
    assert_eq!(path, store.path());
    assert!(
        matches!(problem, Insecurity::OwnedByAnotherUser { owner, directory: false, .. } if owner == stranger),
        "{problem:?}"
    );
    fs::remove_file(store.path()).expect("remove");
    std::os::unix::fs::chown(dir.path(), Some(stranger), None).expect("chown the home");
    let (path, problem) = insecurity(store.save(&jwt(TOKEN)));
    assert_eq!(path, dir.path());
    assert!(
        matches!(
            problem,
            Insecurity::OwnedByAnotherUser {
                directory: true,
                ..
            }
        ),
        "{problem:?}"
    );
    assert!(!store.path().exists());
}

#[test]
fn check_writable_writes_no_credentials() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let home = dir.path().join("new-home");
    let store = FileStore::new(&home);
    store.check_writable().expect("a new home is writable");
    assert!(home.is_dir());
    assert_eq!(mode_of(&home), 0o700);
    assert!(!store.path().exists(), "credentials were written");
    assert_eq!(temp_files_in(&home), Vec::<String>::new());

    // A corrupt file is no obstacle: a save replaces it.
    fs::write(store.path(), "{ torn").expect("seed");
    store
        .check_writable()
        .expect("a corrupt file is replaceable");
    assert_eq!(fs::read(store.path()).expect("read"), b"{ torn");
    assert_eq!(temp_files_in(&home), Vec::<String>::new());

    // The environment is never written.
    let env = EnvOverride::from_env_lookup(Arc::new(store), |name| {
        (name == JWT_ENV_VAR).then(|| TOKEN.to_owned())
    });
    assert!(matches!(
        env.check_writable(),
        Err(StoreError::ReadOnly(JWT_ENV_VAR))
    ));
    assert!(MemoryStore::new().check_writable().is_ok());
}

/// A temporary file as a writer killed between creating it and renaming it leaves it, with the
/// lock file still marked as that writer marked it.
fn orphan(store: &FileStore) -> PathBuf {
    let path = unmarked_orphan(store);
    if let Ok(lock) = fs::OpenOptions::new()
        .write(true)
        .open(store.file.lock_path())
    {
        lock.set_len(1).expect("mark the lock file");
    }
    path
}

/// A temporary file with the lock file unmarked, as a writer of an earlier version that died
/// leaves it.
fn unmarked_orphan(store: &FileStore) -> PathBuf {
    let path = store.file.dir().join(".auth.json.4242-0-123456789.tmp");
    fs::write(&path, json!({"agent_identity": OTHER_TOKEN}).to_string()).expect("orphan");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

#[test]
fn a_write_marks_the_lock_file_only_while_it_holds_the_lock() {
    let (_dir, store) = home();
    let lock = store.file.lock().expect("lock");
    let length = || {
        fs::metadata(store.file.lock_path())
            .expect("lock file")
            .len()
    };
    assert_eq!(length(), 1, "a writer at work marks the lock file");
    drop(lock);
    assert_eq!(length(), 0, "a write that ends unmarks it");
    store.save(&jwt(TOKEN)).expect("save");
    assert_eq!(length(), 0);
}

#[test]
fn an_orphan_with_an_unmarked_lock_file_is_left_to_the_next_write() {
    let (_dir, store) = home();
    store.save(&jwt(TOKEN)).expect("seed");
    let orphan = unmarked_orphan(&store);
    // No write was cut short since the last one ended: a read does not list the directory.
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
    assert!(orphan.exists());
    store.save(&jwt(TOKEN)).expect("save");
    assert!(!orphan.exists(), "the next write sweeps it");
}

#[test]
fn a_read_removes_a_dead_writers_temporary_file() {
    let (dir, store) = home();
    store.save(&jwt(TOKEN)).expect("seed");
    let orphan = orphan(&store);
    // Look-alikes that are not ours to delete.
    let foreign = dir.path().join(".auth.json.someone-else.tmp");
    fs::write(&foreign, "x").expect("foreign");
    let decoy = dir.path().join("decoy");
    fs::write(&decoy, "x").expect("decoy");
    let link = dir.path().join(".auth.json.4242-1-123456789.tmp");
    std::os::unix::fs::symlink(&decoy, &link).expect("symlink");

    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
    assert!(!orphan.exists(), "the orphan survived a read");
    assert!(
        foreign.exists(),
        "a file not matching our pattern was removed"
    );
    assert!(
        fs::symlink_metadata(&link).is_ok(),
        "a symlink with our pattern was removed"
    );
    assert!(decoy.exists());
}

#[test]
fn a_read_leaves_a_live_writers_temporary_file_alone() {
    let (_dir, store) = home();
    let _holder = hold_the_lock(&store);
    let in_flight = orphan(&store);
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
    assert!(
        in_flight.exists(),
        "a read removed a file a writer holding the lock may rename"
    );
}

#[test]
fn a_read_of_a_home_without_a_lock_file_creates_nothing() {
    let (dir, store) = home();
    fs::write(
        store.path(),
        json!({"auth_mode": "agentIdentity", "agent_identity": TOKEN}).to_string(),
    )
    .expect("seed");
    orphan(&store);
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
    assert!(
        !store.file.lock_path().exists(),
        "a read created the lock file"
    );
    assert_eq!(temp_files_in(dir.path()).len(), 1);
}

#[cfg(unix)]
#[test]
fn prepare_home_creates_a_private_home_and_refuses_one_others_may_write() {
    let parent = tempfile::tempdir().expect("tempdir");
    let home = parent.path().join("a").join("home");
    prepare_home(&home).expect("created");
    assert_eq!(mode_of(&home), 0o700);
    // Idempotent on a good home.
    prepare_home(&home).expect("checked");
    fs::set_permissions(&home, fs::Permissions::from_mode(0o777)).expect("chmod");
    match prepare_home(&home) {
        Err(StoreError::Insecure { path, .. }) => assert_eq!(path, home),
        other => panic!("expected an insecure home, got {other:?}"),
    }
}
