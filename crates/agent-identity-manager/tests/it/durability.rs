//! Durability of `FileStore` across processes: four processes sharing one home, writers killed
//! mid-write, and the file's permissions.
//!
//! The other processes are this test binary re-spawned to run only [`child_entry`], told what to
//! do through environment variables. That works the same under `cargo test` and `cargo nextest`.
#![cfg(unix)]

use std::fs;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use agent_identity_jwt::IdentityJwt;
use agent_identity_manager::{CredentialStore, FileStore};
use serde_json::{Value, json};

/// What a re-spawned child does: [`SHARER`] or [`CRASH_WRITER`]. Unset in the parent.
const CHILD_ROLE_VAR: &str = "AGENT_IDENTITY_TEST_CHILD";
/// The home directory a child works in.
const CHILD_HOME_VAR: &str = "AGENT_IDENTITY_TEST_HOME";
/// Which child this is, choosing its token.
const CHILD_INDEX_VAR: &str = "AGENT_IDENTITY_TEST_CHILD_INDEX";
const SHARER: &str = "sharer";
const CRASH_WRITER: &str = "crash-writer";

/// 4 processes: the cross-process scenario.
const SHARERS: usize = 4;
/// Save-then-read rounds per sharing process.
const SHARER_ROUNDS: usize = 200;
/// The issue asks for at least 200 kills.
const KILLS: usize = 200;
/// An unknown field of a few KiB, so each write takes a moment and a torn one shows.
const PADDING_BYTES: usize = 16 * 1024;
/// The first line a killed writer prints after each completed save.
const SAVED: &str = "saved ";
/// An unknown field that the sharing processes increment under the store's lock.
const COUNTER: &str = "counter";

/// JWT-shaped, not a real token: `FileStore` does not verify what it stores.
fn token(index: usize) -> String {
    format!("header.payload-{index}.signature")
}

fn keep_me() -> Value {
    json!({"nested": true, "list": [1, 2, 3]})
}

/// Varied text, so a torn or misplaced block cannot read back as the same value.
fn padding() -> String {
    (0..PADDING_BYTES)
        .map(|index| char::from(b'a' + u8::try_from(index * 7 % 26).expect("below 26")))
        .collect()
}

/// Reads `auth.json` without the store: it must be one whole JSON document at every moment.
fn raw_document(path: &Path) -> Value {
    let bytes =
        fs::read(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|error| {
        panic!(
            "{} is not valid JSON ({} bytes): {error}",
            path.display(),
            bytes.len()
        )
    })
}

fn seed(path: &Path, extra: &[(&str, Value)]) {
    let mut document =
        json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": null});
    for (key, value) in extra {
        document[*key] = value.clone();
    }
    fs::write(path, document.to_string()).expect("seed auth.json");
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

fn temp_files_in(dir: &Path) -> usize {
    fs::read_dir(dir)
        .expect("read_dir")
        .filter(|entry| {
            let name = entry.as_ref().expect("entry").file_name();
            let name = name.to_string_lossy();
            name.starts_with(".auth.json.") && name.ends_with(".tmp")
        })
        .count()
}

/// This test binary, re-spawned to run only [`child_entry`] in `role`.
fn child(role: &str, home: &Path, index: usize) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "--exact",
            "durability::child_entry",
            "--nocapture",
            "--include-ignored",
        ])
        .env(CHILD_ROLE_VAR, role)
        .env(CHILD_HOME_VAR, home)
        .env(CHILD_INDEX_VAR, index.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// The body of a re-spawned child; in the parent, with no role set, it does nothing.
#[test]
fn child_entry() {
    let Ok(role) = std::env::var(CHILD_ROLE_VAR) else {
        return;
    };
    let home = PathBuf::from(std::env::var_os(CHILD_HOME_VAR).expect("child home"));
    let index: usize = std::env::var(CHILD_INDEX_VAR)
        .expect("child index")
        .parse()
        .expect("numeric child index");
    match role.as_str() {
        SHARER => share(&home, index),
        CRASH_WRITER => write_until_killed(&home),
        other => panic!("unknown child role {other:?}"),
    }
}

/// Counts a write of another program that follows `FileStore`'s documented protocol: read,
/// modify and atomically replace `auth.json` while holding the lock on `auth.json.lock`.
///
/// A `FileStore::save` that did not take the lock could read the document before this write and
/// replace it after, losing the increment.
fn increment_counter_under_the_lock(home: &Path, index: usize) {
    let lock = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(home.join("auth.json.lock"))
        .expect("open the lock file");
    lock.lock().expect("lock");
    let path = home.join(agent_identity_manager::AUTH_FILE_NAME);
    let mut document = raw_document(&path);
    document[COUNTER] = json!(document[COUNTER].as_u64().expect("counter") + 1);
    let temp = home.join(format!(".counter-{index}.partial"));
    fs::write(&temp, document.to_string()).expect("write the counter");
    fs::set_permissions(&temp, fs::Permissions::from_mode(0o600)).expect("chmod 0600");
    fs::rename(&temp, &path).expect("rename the counter into place");
    drop(lock);
}

/// Saves this child's token and reads back, [`SHARER_ROUNDS`] times, checking every read; and
/// increments the shared counter as often, under the lock.
fn share(home: &Path, index: usize) {
    let store = FileStore::new(home);
    let known: Vec<String> = (0..SHARERS).map(token).collect();
    let mine = IdentityJwt::new(token(index));
    for round in 0..SHARER_ROUNDS {
        increment_counter_under_the_lock(home, index);
        store
            .save(&mine)
            .unwrap_or_else(|error| panic!("child {index}, round {round}: save failed: {error}"));
        let loaded = store
            .load()
            .unwrap_or_else(|error| panic!("child {index}, round {round}: load failed: {error}"))
            .unwrap_or_else(|| panic!("child {index}, round {round}: no token right after a save"));
        assert!(
            known.iter().any(|token| token == loaded.expose_secret()),
            "child {index}, round {round}: read a token nobody wrote"
        );
        let document = raw_document(store.path());
        assert_eq!(
            document["keep_me"],
            keep_me(),
            "child {index}, round {round}: unknown field lost"
        );
        let raw_token = document["agent_identity"].as_str().unwrap_or_default();
        assert!(
            known.iter().any(|token| token == raw_token),
            "child {index}, round {round}: raw token unknown"
        );
    }
    writeln!(
        std::io::stdout(),
        "sharer {index} finished {SHARER_ROUNDS} rounds"
    )
    .expect("stdout");
}

/// Saves two tokens alternately, forever, announcing each completed save on stdout.
fn write_until_killed(home: &Path) {
    let store = FileStore::new(home);
    let tokens = [IdentityJwt::new(token(0)), IdentityJwt::new(token(1))];
    // Stdout is line-buffered: each line reaches the parent when the save before it is done.
    let mut stdout = std::io::stdout().lock();
    for round in 0_usize.. {
        store.save(&tokens[round % 2]).expect("save");
        writeln!(stdout, "{SAVED}{round}").expect("stdout");
    }
}

#[test]
fn four_processes_share_one_home_without_losing_writes() {
    let home = tempfile::tempdir().expect("temporary home");
    let path = home.path().join(agent_identity_manager::AUTH_FILE_NAME);
    seed(&path, &[("keep_me", keep_me()), (COUNTER, json!(0))]);

    let children: Vec<_> = (0..SHARERS)
        .map(|index| {
            child(SHARER, home.path(), index)
                .spawn()
                .expect("spawn a sharing process")
        })
        .collect();
    for (index, child) in children.into_iter().enumerate() {
        let output = child
            .wait_with_output()
            .expect("wait for a sharing process");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "child {index} failed ({}):\n{stdout}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        // A mistyped test filter would run nothing and still exit 0.
        assert!(
            stdout.contains(&format!("sharer {index} finished {SHARER_ROUNDS} rounds")),
            "child {index} did not run its rounds:\n{stdout}"
        );
    }

    let store = FileStore::new(home.path());
    let last = store.load().expect("final load").expect("a token");
    assert!(
        (0..SHARERS)
            .map(token)
            .any(|token| token == last.expose_secret())
    );
    let document = raw_document(&path);
    assert_eq!(document["keep_me"], keep_me());
    assert_eq!(
        document[COUNTER],
        SHARERS * SHARER_ROUNDS,
        "increments were lost"
    );
    assert_eq!(document["auth_mode"], "agentIdentity");
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(
        temp_files_in(home.path()),
        0,
        "a completed write left its temporary file"
    );
}

/// xorshift64: how many saves to let a writer finish before killing it. Not for cryptography.
struct XorShift(u64);

impl XorShift {
    fn from_time_and_pid() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos() as u64)
            .unwrap_or_default();
        // Zero is xorshift's fixed point.
        Self((nanos ^ (u64::from(std::process::id()) << 32)) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `1..=max`.
    fn one_to(&mut self, max: u64) -> usize {
        usize::try_from(self.next() % max + 1).expect("small")
    }
}

#[test]
fn killed_writer_never_leaves_a_torn_file() {
    let home = tempfile::tempdir().expect("temporary home");
    let path = home.path().join(agent_identity_manager::AUTH_FILE_NAME);
    let padding = padding();
    seed(
        &path,
        &[
            ("keep_me", keep_me()),
            ("padding", Value::String(padding.clone())),
        ],
    );
    let store = FileStore::new(home.path());
    let tokens = [token(0), token(1)];
    let mut random = XorShift::from_time_and_pid();
    let seed = random.0;

    for kill in 0..KILLS {
        let context = format!("kill {kill} (xorshift seed {seed})");
        let mut writer = child(CRASH_WRITER, home.path(), kill)
            .spawn()
            .expect("spawn a writer");
        let saves = random.one_to(5);
        let mut stdout = BufReader::new(writer.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        let mut seen = 0;
        while seen < saves {
            line.clear();
            if stdout
                .read_line(&mut line)
                .expect("read the writer's stdout")
                == 0
            {
                let _ = writer.kill();
                let _ = writer.wait();
                let mut stderr = String::new();
                let _ = writer
                    .stderr
                    .take()
                    .expect("piped stderr")
                    .read_to_string(&mut stderr);
                panic!("{context}: the writer exited after {seen} saves:\n{stderr}");
            }
            if line.starts_with(SAVED) {
                seen += 1;
            }
        }
        // Read the file a few times while the writer works: a concurrent reader must always see
        // a whole document, and the reads move the kill to varied points of the next save.
        for _ in 0..random.one_to(4) - 1 {
            let document = raw_document(&path);
            assert!(
                document["padding"] == padding.as_str(),
                "{context}: a concurrent read saw damage"
            );
        }
        // SIGKILL: no destructor, no cleanup, wherever the next save happens to be.
        writer.kill().expect("kill the writer");
        let status = writer.wait().expect("reap the writer");
        assert_eq!(
            status.signal(),
            Some(9),
            "{context}: the writer did not die by SIGKILL: {status}"
        );

        let loaded = store
            .load()
            .unwrap_or_else(|error| panic!("{context}: load failed: {error}"))
            .unwrap_or_else(|| panic!("{context}: no token after {saves} completed saves"));
        assert!(
            tokens.iter().any(|token| token == loaded.expose_secret()),
            "{context}: read a token nobody wrote"
        );
        let document = raw_document(&path);
        assert_eq!(
            document["agent_identity"],
            loaded.expose_secret(),
            "{context}"
        );
        assert_eq!(
            document["keep_me"],
            keep_me(),
            "{context}: unknown field lost"
        );
        assert!(
            document["padding"] == padding.as_str(),
            "{context}: padding damaged"
        );
        assert_eq!(mode_of(&path), 0o600, "{context}");
    }

    // A writer killed between creating its temporary file and renaming it leaves that file
    // behind; the next save removes it (it holds a copy of the secret). So only the last kill's
    // file can remain.
    let leftovers = temp_files_in(home.path());
    assert!(
        leftovers <= 1,
        "{leftovers} temporary files after {KILLS} kills"
    );
}

#[test]
fn every_save_leaves_the_file_private_even_over_a_world_readable_one() {
    let home = tempfile::tempdir().expect("temporary home");
    let path = home.path().join(agent_identity_manager::AUTH_FILE_NAME);
    // As Codex, an editor or a permissive umask might have left it.
    seed(&path, &[("keep_me", keep_me())]);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod 0644");
    let store = FileStore::new(home.path());

    for round in 0..4 {
        assert_eq!(mode_of(&path), 0o644);
        store.save(&IdentityJwt::new(token(round))).expect("save");
        assert_eq!(mode_of(&path), 0o600, "round {round}");
        assert_eq!(raw_document(&path)["keep_me"], keep_me());
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).expect("chmod 0644");
    }
}

#[test]
fn a_first_save_creates_a_private_file() {
    let home = tempfile::tempdir().expect("temporary home");
    let store = FileStore::new(home.path().join("new-home"));
    store.save(&IdentityJwt::new(token(0))).expect("save");
    assert_eq!(mode_of(store.path()), 0o600);
    assert_eq!(
        store
            .load()
            .expect("load")
            .map(|token| token.expose_secret().to_owned()),
        Some(token(0))
    );
}
