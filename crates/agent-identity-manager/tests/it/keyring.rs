//! `KeyringStore` against a real Secret Service: gnome-keyring in a D-Bus session of its own,
//! which `cargo xtask ci` starts (`dbus-run-session`, an unlocked `login` collection in a
//! temporary data directory). Ignored by default, so that no run touches a developer's own
//! keyring by accident; xtask runs it with `--run-ignored only` and sets
//! `AGENT_IDENTITY_SECRET_SERVICE_TEST=1`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use agent_identity_jwt::IdentityJwt;
use agent_identity_manager::{
    ClearOutcome, CredentialStore, KEYRING_SERVICE, KeyringStore, StoreError, keyring_account,
};
use keyring::credential::CredentialApi as _;
use keyring::secret_service::SsCredential;
use serde_json::{Value, json};

/// JWT-shaped sentinels, never real tokens.
const TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJzZWNyZXQtc2VydmljZSJ9.c3Mtc2VudGluZWw";
const CODEX_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJjb2RleC13cm90ZSJ9.Y29kZXgtc2VudGluZWw";

/// Refuses to run outside the session xtask prepares: a developer's desktop keyring is not a
/// test fixture.
fn require_prepared_session() {
    assert!(
        std::env::var_os("AGENT_IDENTITY_SECRET_SERVICE_TEST").is_some(),
        "run through `cargo xtask ci` (or `cargo xtask secret-service`), which starts a private \
         D-Bus session with its own gnome-keyring"
    );
}

/// The item as Codex reaches it: keyring 3's Secret Service credential for (service, account),
/// in the default target, which is what `keyring::Entry::new` builds on Linux.
fn codex_item(account: &str) -> SsCredential {
    SsCredential::new_with_target(None, KEYRING_SERVICE, account).expect("credential")
}

#[test]
#[ignore = "needs a Secret Service: cargo xtask ci runs it inside dbus-run-session with gnome-keyring"]
fn real_secret_service_round_trip_interop_and_time_box() {
    require_prepared_session();
    let home = tempfile::tempdir().expect("temporary directory");
    let account = keyring_account(home.path());
    let store = KeyringStore::new(home.path());

    // Round trip.
    assert_eq!(store.load().expect("load"), None, "no entry is logged out");
    store.check_writable().expect("the keyring is usable");
    store.save(&IdentityJwt::new(TOKEN)).expect("save");
    let loaded = store.load().expect("load").expect("stored");
    assert_eq!(loaded.expose_secret(), TOKEN);

    // What Codex finds: its auth.json document under "Codex Auth" / cli|<hash>, with the
    // attributes keyring 3 searches by.
    let item = codex_item(&account);
    let value: Value = serde_json::from_str(&item.get_password().expect("Codex reads it"))
        .expect("a JSON document");
    assert_eq!(
        value,
        json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": TOKEN})
    );
    let service =
        dbus_secret_service::SecretService::connect(dbus_secret_service::EncryptionType::Plain)
            .expect("connect");
    let found = service
        .search_items(HashMap::from([
            ("service", KEYRING_SERVICE),
            ("username", account.as_str()),
            ("target", "default"),
        ]))
        .expect("search");
    assert_eq!(
        found.unlocked.len(),
        1,
        "one item, found by keyring 3's attributes"
    );

    // What Codex writes, we read; its other fields survive our save.
    item.set_password(
        &json!({
            "auth_mode": "agentIdentity",
            "OPENAI_API_KEY": null,
            "agent_identity": CODEX_TOKEN,
            "last_refresh": "2026-01-02T03:04:05Z",
        })
        .to_string(),
    )
    .expect("Codex writes");
    let loaded = store.load().expect("load").expect("stored");
    assert_eq!(loaded.expose_secret(), CODEX_TOKEN);
    store.save(&IdentityJwt::new(TOKEN)).expect("save");
    let value: Value =
        serde_json::from_str(&item.get_password().expect("read")).expect("a JSON document");
    assert_eq!(value["last_refresh"], "2026-01-02T03:04:05Z");
    assert_eq!(value["agent_identity"], TOKEN);

    // Logout keeps Codex's other field, then a second one finds nothing of ours.
    assert_eq!(store.clear().expect("clear"), ClearOutcome::Removed);
    assert_eq!(store.load().expect("load"), None);
    let value: Value =
        serde_json::from_str(&item.get_password().expect("read")).expect("a JSON document");
    assert_eq!(
        value,
        json!({"OPENAI_API_KEY": null, "last_refresh": "2026-01-02T03:04:05Z"})
    );
    item.delete_credential().expect("cleanup");

    // Never a file in the home.
    assert!(!home.path().join("auth.json").exists(), "no fallback file");

    // The time box holds against the real bus: a box too short for any D-Bus round trip gives
    // the typed transient error at once.
    let hurried = KeyringStore::new(home.path()).with_timeout(Duration::from_nanos(1));
    let started = Instant::now();
    let error = hurried.load().expect_err("too short a box");
    assert!(
        matches!(error, StoreError::KeyringTimedOut { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert!(started.elapsed() < Duration::from_secs(5));

    // A locked collection: unlocking needs a prompt nobody can answer (there is no display),
    // so a read fails with a transient typed error within the box, never a hang.
    store.save(&IdentityJwt::new(TOKEN)).expect("save");
    service
        .get_default_collection()
        .expect("default collection")
        .lock()
        .expect("lock");
    let boxed = KeyringStore::new(home.path()).with_timeout(Duration::from_secs(3));
    let started = Instant::now();
    let error = boxed.load().expect_err("locked");
    let took = started.elapsed();
    assert!(error.is_transient(), "{error:?}");
    assert!(
        matches!(
            error,
            StoreError::KeyringTimedOut { .. } | StoreError::Keyring { .. }
        ),
        "{error:?}"
    );
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert!(!error.to_string().contains(TOKEN));
    assert!(!home.path().join("auth.json").exists(), "no fallback file");
}
