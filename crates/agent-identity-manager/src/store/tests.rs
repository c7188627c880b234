//! Unit tests of the credential stores: the `auth.json` format, corruption handling, permissions,
//! the environment override and error secrecy.

use super::*;

use std::os::unix::fs::PermissionsExt as _;

use serde_json::json;

/// JWT-shaped, not a real token: `FileStore` does not verify what it stores.
const TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZ2VudC0xIn0.c2lnbmF0dXJlLTE";
const OTHER_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJhZ2VudC0yIn0.c2lnbmF0dXJlLTI";

fn jwt(token: &str) -> IdentityJwt {
    IdentityJwt::new(token)
}

fn home() -> (tempfile::TempDir, FileStore) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = FileStore::new(dir.path());
    (dir, store)
}

fn loaded(store: &dyn CredentialStore) -> Option<String> {
    store
        .load()
        .expect("load")
        .map(|token| token.expose_secret().to_owned())
}

fn raw_document(store: &FileStore) -> Value {
    let bytes = fs::read(store.path()).expect("auth.json exists");
    serde_json::from_slice(&bytes).expect("auth.json is valid JSON")
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

fn temp_files_in(dir: &Path) -> Vec<String> {
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
fn saved_file_is_exactly_the_codex_document() {
    let (_dir, store) = home();
    store.save(&jwt(TOKEN)).expect("save");
    assert_eq!(
        raw_document(&store),
        json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": TOKEN})
    );
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
}

#[test]
fn a_file_written_by_codex_reads_back_its_token() {
    let (_dir, store) = home();
    let codex = format!(
        r#"{{"auth_mode":"agentIdentity","OPENAI_API_KEY":null,"agent_identity":"{TOKEN}"}}"#
    );
    fs::write(store.path(), codex).expect("seed");
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
}

#[test]
fn a_token_without_auth_mode_is_read() {
    let (_dir, store) = home();
    fs::write(store.path(), json!({"agent_identity": TOKEN}).to_string()).expect("seed");
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
}

#[test]
fn unknown_fields_survive_every_rewrite() {
    let (_dir, store) = home();
    let unknown = json!({
        "tokens": {"id_token": "x", "refresh_token": "y", "account_id": null},
        "last_refresh": "2025-01-01T00:00:00Z",
        "keep_me": {"nested": [1, 2, {"deep": true}]},
    });
    let mut seeded = unknown.as_object().expect("object").clone();
    seeded.insert("auth_mode".into(), json!("agentIdentity"));
    seeded.insert("OPENAI_API_KEY".into(), Value::Null);
    seeded.insert("agent_identity".into(), json!(TOKEN));
    fs::write(store.path(), Value::Object(seeded).to_string()).expect("seed");

    for token in [OTHER_TOKEN, TOKEN, OTHER_TOKEN] {
        store.save(&jwt(token)).expect("save");
        let document = raw_document(&store);
        for (key, value) in unknown.as_object().expect("object") {
            assert_eq!(document.get(key), Some(value), "{key} lost on rewrite");
        }
        assert_eq!(document["agent_identity"], json!(token));
        assert_eq!(document["auth_mode"], json!("agentIdentity"));
        assert_eq!(loaded(&store).as_deref(), Some(token));
    }
}

#[test]
fn a_file_in_another_auth_mode_reads_as_logged_out() {
    let documents = [
        json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "tokens": {"id_token": "x"}}),
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-ours"}),
        // Another mode wins even over a stray agent identity: that login is not active.
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-ours", "agent_identity": TOKEN}),
    ];
    for document in documents {
        let (_dir, store) = home();
        fs::write(store.path(), document.to_string()).expect("seed");
        assert_eq!(loaded(&store), None, "{document}");
    }
}

#[test]
fn an_empty_or_null_identity_reads_as_logged_out() {
    for value in [json!(null), json!(""), json!("  \n")] {
        let (_dir, store) = home();
        fs::write(
            store.path(),
            json!({"auth_mode": "agentIdentity", "agent_identity": value}).to_string(),
        )
        .expect("seed");
        assert_eq!(loaded(&store), None, "{value}");
    }
}

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
    let others: [(&str, Vec<u8>); 10] = [
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
            "identity an object",
            br#"{"agent_identity":{"jwt":"a.b.c"}}"#.to_vec(),
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
    oversized.resize(
        usize::try_from(MAX_AUTH_FILE_BYTES).expect("fits") + 1,
        b' ',
    );
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
fn clear_leaves_a_file_in_another_auth_mode_untouched() {
    let documents = [
        json!({"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "tokens": {"id_token": "x"}}),
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-ours"}),
        // A stray identity under another mode is not an active login, and not ours to remove.
        json!({"auth_mode": "apikey", "OPENAI_API_KEY": "sk-not-ours", "agent_identity": TOKEN}),
    ];
    for document in documents {
        let (_dir, store) = home();
        // Codex's own formatting, which a rewrite would not reproduce.
        let bytes = format!("{document:#}\n\n").into_bytes();
        fs::write(store.path(), &bytes).expect("seed");
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o640)).expect("chmod");

        store.clear().expect("clear");
        assert_eq!(
            fs::read(store.path()).expect("still there"),
            bytes,
            "{document}"
        );
        assert_eq!(mode_of(store.path()), 0o640, "{document}");
    }
}

#[test]
fn clear_removes_only_the_agent_identity_and_keeps_unknown_fields() {
    let (_dir, store) = home();
    let unknown = json!({
        "tokens": {"id_token": "x", "refresh_token": "y", "account_id": null},
        "last_refresh": "2025-01-01T00:00:00Z",
        "keep_me": {"nested": [1, 2, {"deep": true}]},
    });
    let mut seeded = unknown.as_object().expect("object").clone();
    seeded.insert("auth_mode".into(), json!("agentIdentity"));
    seeded.insert("OPENAI_API_KEY".into(), Value::Null);
    seeded.insert("agent_identity".into(), json!(TOKEN));
    fs::write(store.path(), Value::Object(seeded).to_string()).expect("seed");
    fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).expect("chmod");

    store.clear().expect("clear");
    let mut expected = unknown.as_object().expect("object").clone();
    expected.insert("OPENAI_API_KEY".into(), Value::Null);
    assert_eq!(raw_document(&store), Value::Object(expected));
    assert_eq!(mode_of(store.path()), 0o600);
    assert_eq!(loaded(&store), None);
    store.clear().expect("clearing twice");
    assert!(store.path().exists(), "the other fields were deleted");
}

#[test]
fn clear_of_a_codex_agent_identity_file_keeps_its_extra_field() {
    let (dir, store) = home();
    let codex = format!(
        r#"{{"auth_mode":"agentIdentity","OPENAI_API_KEY":null,"agent_identity":"{TOKEN}","last_refresh":"2026-04-27T18:03:11Z"}}"#
    );
    fs::write(store.path(), codex).expect("seed");

    store.clear().expect("clear");
    assert_eq!(
        raw_document(&store),
        json!({"OPENAI_API_KEY": null, "last_refresh": "2026-04-27T18:03:11Z"})
    );
    assert_eq!(loaded(&store), None);
    assert_eq!(temp_files_in(dir.path()), Vec::<String>::new());
}

#[test]
fn clear_deletes_a_file_holding_only_the_agent_identity() {
    for document in [
        json!({"auth_mode": "agentIdentity", "OPENAI_API_KEY": null, "agent_identity": TOKEN}),
        json!({"agent_identity": TOKEN}),
        json!({"auth_mode": null, "agent_identity": TOKEN}),
        json!({"auth_mode": "agentIdentity", "agent_identity": null}),
        json!({}),
    ] {
        let (_dir, store) = home();
        fs::write(store.path(), document.to_string()).expect("seed");
        store.clear().expect("clear");
        assert!(!store.path().exists(), "{document}");
    }
}

#[test]
fn clear_deletes_a_corrupt_file() {
    for bytes in [
        format!(r#"{{"auth_mode":"agentIdentity","agent_identity":"{TOKEN}"#).into_bytes(),
        br#"["agentIdentity"]"#.to_vec(),
        br#"{"auth_mode":7,"agent_identity":"a.b.c","keep_me":1}"#.to_vec(),
        br#"{"agent_identity":{"jwt":"a.b.c"},"keep_me":1}"#.to_vec(),
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

#[test]
fn agent_identity_jwt_beats_codex_access_token_beats_the_fallback() {
    // (AGENT_IDENTITY_JWT, CODEX_ACCESS_TOKEN, expected token, expected source)
    let cases = [
        (
            Some("primary"),
            Some("compat"),
            Some("primary"),
            Some(JWT_ENV_VAR),
        ),
        (Some("primary"), None, Some("primary"), Some(JWT_ENV_VAR)),
        (
            None,
            Some("compat"),
            Some("compat"),
            Some(JWT_ENV_VAR_COMPAT),
        ),
        (
            Some(""),
            Some("compat"),
            Some("compat"),
            Some(JWT_ENV_VAR_COMPAT),
        ),
        (
            Some(" \n"),
            Some("compat"),
            Some("compat"),
            Some(JWT_ENV_VAR_COMPAT),
        ),
        (Some(""), Some(""), Some("fallback"), None),
        (None, Some("\t"), Some("fallback"), None),
        (None, None, Some("fallback"), None),
    ];
    for (primary, compat, expected, source) in cases {
        let fallback = Arc::new(MemoryStore::with_token(jwt("fallback")));
        let store = EnvOverride::from_lookup(fallback, |name| match name {
            JWT_ENV_VAR => primary.map(str::to_owned),
            JWT_ENV_VAR_COMPAT => compat.map(str::to_owned),
            other => panic!("looked up unexpected variable {other}"),
        });
        let case = format!("{primary:?}, {compat:?}");
        assert_eq!(loaded(&store).as_deref(), expected, "{case}");
        assert_eq!(store.is_overridden(), source.is_some(), "{case}");
        match source {
            Some(name) => assert_eq!(store.describe(), format!("environment ({name})"), "{case}"),
            None => assert_eq!(store.describe(), "memory", "{case}"),
        }
    }
}

#[test]
fn an_environment_token_is_trimmed() {
    let store = EnvOverride::from_lookup(Arc::new(MemoryStore::new()), |name| {
        (name == JWT_ENV_VAR).then(|| format!("{TOKEN}\n"))
    });
    assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
}

#[test]
fn an_environment_token_is_read_only_and_leaves_the_fallback_alone() {
    for name in [JWT_ENV_VAR, JWT_ENV_VAR_COMPAT] {
        let (_dir, file) = home();
        file.save(&jwt(OTHER_TOKEN)).expect("seed");
        let before = fs::read(file.path()).expect("read");
        let fallback: Arc<dyn CredentialStore> = Arc::new(file.clone());
        let store = EnvOverride::from_lookup(fallback, |looked_up| {
            (looked_up == name).then(|| TOKEN.to_owned())
        });

        assert!(
            matches!(store.save(&jwt("x.y.z")), Err(StoreError::ReadOnly(source)) if source == name)
        );
        assert!(matches!(store.clear(), Err(StoreError::ReadOnly(source)) if source == name));
        assert_eq!(
            fs::read(file.path()).expect("read"),
            before,
            "the fallback file changed"
        );
        assert_eq!(loaded(&store).as_deref(), Some(TOKEN));
        assert_eq!(loaded(&file).as_deref(), Some(OTHER_TOKEN));
    }
}

#[test]
fn without_an_environment_token_writes_reach_the_fallback() {
    let fallback = Arc::new(MemoryStore::new());
    let store = EnvOverride::from_lookup(fallback.clone(), |_| None);
    store.save(&jwt(TOKEN)).expect("save");
    assert_eq!(loaded(fallback.as_ref()).as_deref(), Some(TOKEN));
    store.clear().expect("clear");
    assert_eq!(loaded(fallback.as_ref()), None);
}

#[test]
fn memory_store_saves_clears_and_shares_between_clones() {
    let store = MemoryStore::new();
    assert_eq!(loaded(&store), None);
    let clone = store.clone();
    store.save(&jwt(TOKEN)).expect("save");
    assert_eq!(loaded(&clone).as_deref(), Some(TOKEN));
    clone.save(&jwt(OTHER_TOKEN)).expect("save");
    assert_eq!(loaded(&store).as_deref(), Some(OTHER_TOKEN));
    store.clear().expect("clear");
    assert_eq!(loaded(&clone), None);
    store.clear().expect("clearing twice");
    assert_eq!(
        loaded(&MemoryStore::with_token(jwt(TOKEN))).as_deref(),
        Some(TOKEN)
    );
    assert_eq!(store.describe(), "memory");
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
    let env = EnvOverride::from_lookup(Arc::new(MemoryStore::with_token(jwt(SECRET))), |name| {
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
