//! Unit tests of `KeyringStore` against keyring's mock credentials (kept per service and
//! account, as a real keyring keeps items) and a keyring that never answers.
//!
//! One piece: every case runs on the same mock keyring set-up; the record form's cases are in
//! `records.rs` beside it.

use super::*;

use std::collections::HashMap;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use keyring::credential::{CredentialApi, CredentialBuilderApi};
use keyring::mock::MockCredential;
use serde_json::json;

/// JWT-shaped sentinels, never real tokens.
const TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJrZXlyaW5nLTEifQ.c2VudGluZWwtb25l";
const OTHER_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJrZXlyaW5nLTIifQ.c2VudGluZWwtdHdv";

/// Mock items by (service, account).
type Items = HashMap<(String, String), Arc<MockCredential>>;

/// keyring's mock credentials, one per (service, account), shared by every entry built for it.
#[derive(Debug, Default, Clone)]
struct MockKeyring {
    items: Arc<Mutex<Items>>,
}

impl MockKeyring {
    fn item(&self, service: &str, account: &str) -> Arc<MockCredential> {
        let mut items = lock(&self.items);
        Arc::clone(
            items
                .entry((service.to_owned(), account.to_owned()))
                .or_default(),
        )
    }

    /// Codex's entry for `home`, as Codex would see it.
    fn codex_value(&self, home: &Path) -> Option<String> {
        self.item("Codex Auth", &codex_account(home))
            .get_password()
            .ok()
    }

    fn set_codex_value(&self, home: &Path, value: &str) {
        self.item("Codex Auth", &codex_account(home))
            .set_password(value)
            .expect("mock set");
    }

    fn store(&self, home: &Path) -> KeyringStore {
        KeyringStore::with_credential_builder(home, Arc::new(self.clone()))
    }
}

/// Codex's account derivation, written out for an existing directory: `cli|` and 16 hex digits
/// of the SHA-256 of the canonical path.
fn codex_account(home: &Path) -> String {
    let canonical = home.canonicalize().expect("an existing home");
    let digest = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        canonical.to_string_lossy().as_bytes(),
    );
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("cli|{}", &hex[..16])
}

/// One mock item seen through a keyring entry.
struct SharedItem(Arc<MockCredential>);

impl CredentialApi for SharedItem {
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        self.0.set_secret(secret)
    }

    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        self.0.get_secret()
    }

    fn delete_credential(&self) -> keyring::Result<()> {
        self.0.delete_credential()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl CredentialBuilderApi for MockKeyring {
    fn build(
        &self,
        _target: Option<&str>,
        service: &str,
        user: &str,
    ) -> keyring::Result<Box<Credential>> {
        Ok(Box::new(SharedItem(self.item(service, user))))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

fn jwt(token: &str) -> IdentityJwt {
    IdentityJwt::new(token)
}

fn setup() -> (tempfile::TempDir, MockKeyring, KeyringStore) {
    let home = tempfile::tempdir().expect("temporary directory");
    let keyring = MockKeyring::default();
    let store = keyring.store(home.path());
    (home, keyring, store)
}

fn loaded(store: &KeyringStore) -> Option<String> {
    store
        .load()
        .expect("load")
        .map(|token| token.expose_secret().to_owned())
}

/// Every file under `dir`, recursively.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_in(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn assert_no_credentials_file(home: &Path) {
    assert!(!home.join(AUTH_FILE_NAME).exists(), "no auth.json fallback");
    for file in files_in(home) {
        let content = std::fs::read(&file).expect("read");
        let content = String::from_utf8_lossy(&content);
        assert!(
            !content.contains(TOKEN) && !content.contains(OTHER_TOKEN),
            "{} holds the token",
            file.display()
        );
    }
}

use super::super::AUTH_FILE_NAME;

#[test]
fn round_trip_save_load_clear() {
    let (home, _keyring, store) = setup();
    assert_eq!(loaded(&store), None, "no entry is logged out, not an error");
    store.save(&jwt(TOKEN)).expect("save");
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
    store.save(&jwt(OTHER_TOKEN)).expect("save again");
    assert_eq!(loaded(&store).as_deref(), Some(OTHER_TOKEN));
    assert_eq!(store.clear().expect("clear"), ClearOutcome::Removed);
    assert_eq!(loaded(&store), None);
    assert_eq!(store.clear().expect("clear"), ClearOutcome::NothingStored);
    assert_no_credentials_file(home.path());
}

#[test]
fn the_account_is_codexs_for_the_same_home() {
    let home = tempfile::tempdir().expect("temporary directory");
    assert_eq!(keyring_account(home.path()), codex_account(home.path()));
    // A symlink to the home names the same entry: the path is canonicalised first.
    let link_dir = tempfile::tempdir().expect("temporary directory");
    let link = link_dir.path().join("link");
    std::os::unix::fs::symlink(home.path(), &link).expect("symlink");
    assert_eq!(keyring_account(&link), codex_account(home.path()));
    // A home that does not exist, under a parent that does not either: the path as given.
    // printf %s /nonexistent-agent-identity-root/codex-home | sha256sum
    assert_eq!(
        keyring_account(Path::new("/nonexistent-agent-identity-root/codex-home")),
        "cli|137a8663f1028f7f"
    );
    // A home not created yet is named as given, as Codex names it: with no symlink on the way,
    // that is the canonical path it will have, so the entry is the same once it is made.
    let future = home.path().join("later");
    let before = keyring_account(&future);
    std::fs::create_dir(&future).expect("mkdir");
    assert_eq!(before, keyring_account(&future));
}

#[test]
fn reads_the_entry_codex_wrote_and_keeps_its_other_fields() {
    let (home, keyring, store) = setup();
    // What Codex writes: its whole auth.json document, serialised as JSON, under
    // "Codex Auth" / cli|<hash of the home>.
    keyring.set_codex_value(
        home.path(),
        &json!({
            "auth_mode": "agentIdentity",
            "OPENAI_API_KEY": null,
            "agent_identity": TOKEN,
            "last_refresh": "2026-01-02T03:04:05Z",
        })
        .to_string(),
    );
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));

    store.save(&jwt(OTHER_TOKEN)).expect("save");
    let value: Value =
        serde_json::from_str(&keyring.codex_value(home.path()).expect("entry")).expect("json");
    assert_eq!(
        value,
        json!({
            "auth_mode": "agentIdentity",
            "OPENAI_API_KEY": null,
            "agent_identity": OTHER_TOKEN,
            "last_refresh": "2026-01-02T03:04:05Z",
        })
    );

    // A clear removes ours and keeps the rest.
    assert_eq!(store.clear().expect("clear"), ClearOutcome::Removed);
    let value: Value =
        serde_json::from_str(&keyring.codex_value(home.path()).expect("entry")).expect("json");
    assert_eq!(
        value,
        json!({"OPENAI_API_KEY": null, "last_refresh": "2026-01-02T03:04:05Z"})
    );
    assert_no_credentials_file(home.path());
}

#[test]
fn writes_the_entry_codex_reads() {
    let (home, keyring, store) = setup();
    store.save(&jwt(TOKEN)).expect("save");
    let value = keyring.codex_value(home.path()).expect("Codex's entry");
    // Codex deserialises the value as its auth.json document.
    let value: Value = serde_json::from_str(&value).expect("json");
    assert_eq!(
        value,
        json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": TOKEN})
    );
    // A clear of a document holding only ours deletes the entry.
    store.clear().expect("clear");
    assert_eq!(keyring.codex_value(home.path()), None);
}

#[test]
fn another_login_is_not_ours_and_is_left_untouched() {
    let (home, keyring, store) = setup();
    let chatgpt = r#"{"auth_mode":"chatgpt","OPENAI_API_KEY":null,"tokens":{"access_token":"x"}}"#;
    keyring.set_codex_value(home.path(), chatgpt);
    assert_eq!(loaded(&store), None);
    assert_eq!(
        store.clear().expect("clear"),
        ClearOutcome::KeptOtherLogin("chatgpt".to_owned())
    );
    assert_eq!(keyring.codex_value(home.path()).as_deref(), Some(chatgpt));
}

#[test]
fn a_corrupt_value_is_a_typed_error_never_logged_out() {
    let (home, keyring, store) = setup();
    for (value, reason) in [
        (format!("not json {TOKEN}"), "the value is not JSON"),
        (format!("[\"{TOKEN}\"]"), "the value is not a JSON object"),
        (
            json!({"auth_mode": "agentIdentity", "agent_identity": 7}).to_string(),
            "agent_identity is neither a token string nor a record object",
        ),
    ] {
        keyring.set_codex_value(home.path(), &value);
        let error = store.load().expect_err("corrupt");
        assert!(
            matches!(&error, StoreError::KeyringCorrupt { reason: r, .. } if *r == reason),
            "{error:?}"
        );
        assert!(!error.is_transient());
        let message = error.to_string();
        assert!(message.contains("Codex Auth"), "{message}");
        assert!(!message.contains(TOKEN), "{message}");
        assert!(!format!("{error:?}").contains(TOKEN));
        // The value is still there: nothing was logged out.
        assert_eq!(keyring.codex_value(home.path()), Some(value));
    }
    // A non-UTF-8 value too, without its bytes in the error.
    keyring
        .item("Codex Auth", &codex_account(home.path()))
        .set_secret(&[0xff, 0xfe, b'x'])
        .expect("mock set");
    assert!(matches!(
        store.load(),
        Err(StoreError::KeyringCorrupt {
            reason: "the value is not UTF-8",
            ..
        })
    ));
    // A login replaces it; a logout deletes it.
    store.save(&jwt(TOKEN)).expect("save over corrupt");
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
    keyring.set_codex_value(home.path(), "{");
    assert_eq!(store.clear().expect("clear"), ClearOutcome::RemovedCorrupt);
    assert_eq!(keyring.codex_value(home.path()), None);
}

#[test]
fn a_locked_keyring_is_a_transient_typed_error_and_nothing_falls_back_to_a_file() {
    let (home, keyring, store) = setup();
    let item = keyring.item("Codex Auth", &codex_account(home.path()));
    item.set_error(KeyringError::NoStorageAccess("collection is locked".into()));
    let error = store.save(&jwt(TOKEN)).expect_err("locked");
    assert!(
        matches!(
            &error,
            StoreError::Keyring {
                problem: KeyringProblem::Locked(_),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(!error.to_string().contains(TOKEN));
    assert_eq!(
        files_in(home.path()),
        Vec::<PathBuf>::new(),
        "nothing written"
    );

    item.set_error(KeyringError::PlatformFailure(
        "org.freedesktop.DBus.Error.ServiceUnknown".into(),
    ));
    let error = store.load().expect_err("no secret service");
    assert!(matches!(
        &error,
        StoreError::Keyring {
            problem: KeyringProblem::Unavailable(_),
            ..
        }
    ));
    assert!(error.is_transient());
    item.set_error(KeyringError::PlatformFailure("bus closed".into()));
    assert!(store.check_writable().is_err(), "a login finds out first");
    assert_eq!(files_in(home.path()), Vec::<PathBuf>::new());
}

#[test]
fn describe_and_debug_name_the_entry_never_the_secret() {
    let (home, _keyring, store) = setup();
    store.save(&jwt(TOKEN)).expect("save");
    let account = codex_account(home.path());
    let described = store.describe();
    assert!(described.contains("Codex Auth"), "{described}");
    assert!(described.contains(&account), "{described}");
    let debug = format!("{store:?}");
    assert!(debug.contains(&account), "{debug}");
    assert!(!debug.contains(TOKEN) && !described.contains(TOKEN));
    assert!(store.may_block());
    assert_eq!(
        store.runtime_cache().map(|cache| cache.path().to_owned()),
        Some(RuntimeCache::in_home(home.path()).path().to_owned())
    );
}

/// A keyring whose reads block until the test releases them, as a locked Secret Service does
/// while it waits on an unlock prompt.
#[derive(Debug)]
struct HangingKeyring {
    release: Arc<Mutex<Receiver<()>>>,
    finished: Sender<()>,
    /// Whether its calls panic once released.
    panics: bool,
}

struct HangingItem {
    release: Arc<Mutex<Receiver<()>>>,
    finished: Sender<()>,
    panics: bool,
}

impl CredentialApi for HangingItem {
    fn set_secret(&self, _: &[u8]) -> keyring::Result<()> {
        Ok(())
    }

    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        // Blocks until the sender is dropped.
        let _ = lock(&self.release).recv();
        let _ = self.finished.send(());
        assert!(!self.panics, "a keyring backend that panics once released");
        Err(KeyringError::NoEntry)
    }

    fn delete_credential(&self) -> keyring::Result<()> {
        Ok(())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl CredentialBuilderApi for HangingKeyring {
    fn build(&self, _: Option<&str>, _: &str, _: &str) -> keyring::Result<Box<Credential>> {
        Ok(Box::new(HangingItem {
            release: Arc::clone(&self.release),
            finished: self.finished.clone(),
            panics: self.panics,
        }))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[test]
fn a_keyring_that_blocks_past_the_time_box_is_a_transient_error_within_the_bound() {
    let home = tempfile::tempdir().expect("temporary directory");
    let (release, blocked) = mpsc::channel::<()>();
    let (finished, finished_rx) = mpsc::channel();
    let builder = HangingKeyring {
        release: Arc::new(Mutex::new(blocked)),
        finished,
        panics: false,
    };
    let time_box = Duration::from_millis(200);
    let store = KeyringStore::with_credential_builder(home.path(), Arc::new(builder))
        .with_timeout(time_box);

    let started = Instant::now();
    let error = store.load().expect_err("times out");
    let took = started.elapsed();
    assert!(
        matches!(&error, StoreError::KeyringTimedOut { waited, .. } if *waited == time_box),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(took >= time_box, "gave up early: {took:?}");
    // Generous: the bound is the time box, not the hang.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    let message = error.to_string();
    assert!(message.contains("did not answer within 0.2 s"), "{message}");

    // While the abandoned call is stuck, the next ones fail at once, without a thread each.
    let started = Instant::now();
    assert!(matches!(
        store.save(&jwt(TOKEN)),
        Err(StoreError::KeyringTimedOut { .. })
    ));
    assert!(matches!(
        store.clear(),
        Err(StoreError::KeyringTimedOut { .. })
    ));
    assert!(started.elapsed() < time_box, "fails fast while stuck");
    assert_no_credentials_file(home.path());

    // Released, the abandoned thread finishes, and the store answers again.
    drop(release);
    finished_rx.recv().expect("the abandoned call finished");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.load() {
            Ok(None) => break,
            Err(StoreError::KeyringTimedOut { .. }) if Instant::now() < deadline => {
                std::thread::yield_now();
            }
            other => panic!("after release: {other:?}"),
        }
    }
}

#[test]
fn an_abandoned_call_that_panics_does_not_leave_the_store_stuck() {
    let home = tempfile::tempdir().expect("temporary directory");
    let (release, blocked) = mpsc::channel::<()>();
    let (finished, finished_rx) = mpsc::channel();
    let builder = HangingKeyring {
        release: Arc::new(Mutex::new(blocked)),
        finished,
        panics: true,
    };
    let store = KeyringStore::with_credential_builder(home.path(), Arc::new(builder))
        .with_timeout(Duration::from_millis(50));
    assert!(matches!(
        store.load(),
        Err(StoreError::KeyringTimedOut { .. })
    ));
    drop(release);
    finished_rx
        .recv()
        .expect("the abandoned call ended, in a panic");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.load() {
            // Answered: a new call ran (and, this backend panicking, failed as a platform error).
            Err(StoreError::KeyringTimedOut { .. }) if Instant::now() < deadline => {
                std::thread::yield_now();
            }
            Err(StoreError::KeyringTimedOut { .. }) => panic!("stuck for good after a panic"),
            _ => break,
        }
    }
}

mod records;
