//! Which store errors are transient.

use super::*;
use crate::store::tests::*;

#[test]
fn permanent_local_errors_are_not_transient() {
    let (dir, store) = home();
    // `auth.json` a directory.
    fs::create_dir(store.path()).expect("directory in the file's place");
    for (name, result) in [
        ("load", store.load().map(|_| ())),
        ("save", store.save(&jwt(TOKEN))),
        ("clear", store.clear().map(|_| ())),
        ("check_writable", store.check_writable()),
    ] {
        let error = result.expect_err(name);
        assert!(matches!(error, StoreError::Io { .. }), "{name}: {error:?}");
        assert!(!error.is_transient(), "{name}: {error:?}");
    }

    // The home a regular file.
    let file = dir.path().join("a-file");
    fs::write(&file, "x").expect("file");
    let in_a_file = FileStore::new(&file);
    // A name too long for the file system.
    let too_long = FileStore::new(dir.path().join("n".repeat(300)));
    for (case, store) in [("home a file", &in_a_file), ("name too long", &too_long)] {
        for (name, result) in [
            ("load", store.load().map(|_| ())),
            ("save", store.save(&jwt(TOKEN))),
            ("clear", store.clear().map(|_| ())),
            ("check_writable", store.check_writable()),
        ] {
            let error = result.expect_err(name);
            assert!(!error.is_transient(), "{case}, {name}: {error:?}");
        }
    }
}

#[test]
fn transient_store_errors_are_only_locks_and_passing_io_failures() {
    let io = |error: io::Error| StoreError::Io {
        path: PathBuf::from("auth.json"),
        operation: "writing",
        source: Arc::new(error),
    };
    let cases = [
        (
            StoreError::Locked {
                path: PathBuf::from("auth.json.lock"),
                waited: DEFAULT_LOCK_TIMEOUT,
            },
            true,
        ),
        (io(io::Error::other("disk")), true),
        (io(io::Error::from(io::ErrorKind::Interrupted)), true),
        (io(io::Error::from(io::ErrorKind::PermissionDenied)), false),
        (io(io::Error::from(io::ErrorKind::NotADirectory)), false),
        (
            StoreError::Corrupt {
                path: PathBuf::from("auth.json"),
                reason: "torn",
            },
            false,
        ),
        (
            StoreError::Insecure {
                path: PathBuf::from("auth.json"),
                problem: Insecurity::Symlink,
            },
            false,
        ),
        (StoreError::ReadOnly(JWT_ENV_VAR), false),
    ];
    for (error, transient) in cases {
        assert_eq!(error.is_transient(), transient, "{error:?}");
    }
}
