//! Unit tests of the setup builder: every variable, alias and precedence rule, through an
//! injected environment (the process environment is never touched).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::{AuthManagerBuilder, KeySet, parse_jwks_url};
use crate::{AuthError, AuthManager, MemoryStore};

fn env(pairs: &[(&str, &str)]) -> AuthManagerBuilder {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    AuthManagerBuilder::from_env_lookup(move |name| map.get(name).cloned())
}

/// One row of the key set table: its name, the variables set, and where the keys come from.
type KeySetCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    KeySet,
);

fn url(text: &str, setting: &'static str) -> KeySet {
    KeySet::Url {
        text: text.to_owned(),
        setting,
        insecure: false,
    }
}

#[test]
fn key_set_precedence_follows_the_cli_table() {
    const FILE: &str = "AGENT_IDENTITY_JWKS_FILE";
    const VAR: &str = "AGENT_IDENTITY_JWKS_URL";
    const BASE: &str = "CODEX_AGENT_IDENTITY_JWKS_BASE_URL";
    let cases: [KeySetCase; 9] = [
        ("neither", &[], KeySet::Production),
        (
            "url variable",
            &[(VAR, "https://keys.example/jwks")],
            url("https://keys.example/jwks", VAR),
        ),
        (
            "file variable",
            &[(FILE, "/etc/jwks.json")],
            KeySet::File(PathBuf::from("/etc/jwks.json")),
        ),
        (
            "file beats url",
            &[(FILE, "/etc/jwks.json"), (VAR, "https://keys.example/jwks")],
            KeySet::File(PathBuf::from("/etc/jwks.json")),
        ),
        (
            "empty file is unset",
            &[(FILE, "  "), (VAR, "https://keys.example/jwks")],
            url("https://keys.example/jwks", VAR),
        ),
        (
            "codex base under backend-api",
            &[(BASE, "https://chatgpt.com/backend-api/")],
            url(
                "https://chatgpt.com/backend-api/wham/agent-identities/jwks",
                BASE,
            ),
        ),
        (
            "codex base elsewhere",
            &[(BASE, "http://127.0.0.1:9000")],
            url("http://127.0.0.1:9000/agent-identities/jwks", BASE),
        ),
        (
            "url beats codex base",
            &[
                (VAR, "https://keys.example/jwks"),
                (BASE, "https://chatgpt.com"),
            ],
            url("https://keys.example/jwks", VAR),
        ),
        (
            "file beats codex base",
            &[(FILE, "/etc/jwks.json"), (BASE, "https://chatgpt.com")],
            KeySet::File(PathBuf::from("/etc/jwks.json")),
        ),
    ];
    for (name, vars, expected) in cases {
        assert_eq!(env(vars).key_set, expected, "{name}");
    }
}

#[test]
fn a_setting_on_the_builder_beats_any_variable() {
    let vars = [
        ("AGENT_IDENTITY_JWKS_FILE", "/etc/jwks.json"),
        ("AGENT_IDENTITY_ISSUER", "https://env.example"),
        ("AGENT_IDENTITY_AUDIENCE", "env-audience"),
        ("AGENT_IDENTITY_AUTHAPI_BASE_URL", "https://env.example/api"),
        ("AGENT_IDENTITY_HOME", "/env/home"),
        ("AGENT_IDENTITY_JWT", "env-token"),
    ];
    let builder = env(&vars)
        .jwks_url("https://flag.example/jwks")
        .issuer("https://flag.example")
        .audience("flag-audience")
        .authapi_base_url("https://flag.example/api")
        .home("/flag/home")
        .token("flag-token");
    assert_eq!(
        builder.key_set,
        url("https://flag.example/jwks", "jwks url")
    );
    assert_eq!(builder.issuer.as_deref(), Some("https://flag.example"));
    assert_eq!(builder.audience.as_deref(), Some("flag-audience"));
    let tasks = builder.build_task_client().expect("valid base url");
    assert_eq!(tasks.base_url().as_str(), "https://flag.example/api");
    let store = builder.build_file_store().expect("home");
    assert_eq!(store.path(), PathBuf::from("/flag/home/auth.json"));
    let token = builder.token_override().expect("token");
    assert_eq!(token.expose_secret(), "flag-token");
    // And the file flag beats the URL variable.
    let builder = env(&[("AGENT_IDENTITY_JWKS_URL", "https://env.example/jwks")])
        .jwks_file("/flag/jwks.json");
    assert_eq!(
        builder.key_set,
        KeySet::File(PathBuf::from("/flag/jwks.json"))
    );
}

#[test]
fn issuer_and_audience_come_from_their_variables() {
    let builder = env(&[
        ("AGENT_IDENTITY_ISSUER", "https://issuer.example"),
        ("AGENT_IDENTITY_AUDIENCE", "my-audience"),
    ]);
    assert_eq!(builder.issuer.as_deref(), Some("https://issuer.example"));
    assert_eq!(builder.audience.as_deref(), Some("my-audience"));
    let builder = env(&[
        ("AGENT_IDENTITY_ISSUER", ""),
        ("AGENT_IDENTITY_AUDIENCE", " "),
    ]);
    assert_eq!(builder.issuer, None, "empty counts as unset");
    assert_eq!(builder.audience, None, "blank counts as unset");
}

#[test]
fn authapi_base_url_reads_its_three_names_in_order() {
    let names = [
        "AGENT_IDENTITY_AUTHAPI_BASE_URL",
        "CODEX_AUTHAPI_BASE_URL",
        "CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL",
    ];
    let base = |vars: &[(&str, &str)]| {
        env(vars)
            .build_task_client()
            .expect("valid")
            .base_url()
            .as_str()
            .to_owned()
    };
    assert_eq!(base(&[]), "https://auth.openai.com/api/accounts");
    for (index, name) in names.iter().enumerate() {
        let mut vars = vec![(*name, "http://127.0.0.1:1/first")];
        // Every later alias is set too, and loses.
        for later in &names[index + 1..] {
            vars.push((*later, "http://127.0.0.1:2/later"));
        }
        assert_eq!(base(&vars), "http://127.0.0.1:1/first", "{name}");
    }
    let error = env(&[("CODEX_AUTHAPI_BASE_URL", "http://example.com")])
        .build_task_client()
        .expect_err("http off loopback");
    assert!(
        error.to_string().contains("CODEX_AUTHAPI_BASE_URL"),
        "{error}"
    );
}

#[test]
fn token_override_reads_agent_identity_jwt_then_codex_access_token() {
    let token = |vars: &[(&str, &str)]| {
        env(vars)
            .token_override()
            .map(|token| token.expose_secret().to_owned())
    };
    assert_eq!(token(&[]), None);
    assert_eq!(
        token(&[("CODEX_ACCESS_TOKEN", "codex")]).as_deref(),
        Some("codex")
    );
    assert_eq!(
        token(&[
            ("AGENT_IDENTITY_JWT", "ours"),
            ("CODEX_ACCESS_TOKEN", "codex")
        ])
        .as_deref(),
        Some("ours")
    );
    assert_eq!(
        token(&[("AGENT_IDENTITY_JWT", " "), ("CODEX_ACCESS_TOKEN", "codex")]).as_deref(),
        Some("codex"),
        "a blank variable is unset"
    );
}

#[test]
fn the_token_override_layers_read_only_over_the_store() {
    let builder = env(&[("CODEX_ACCESS_TOKEN", "from-env")]).store(Arc::new(MemoryStore::new()));
    let store = builder.build_store().expect("store");
    let loaded = store.load().expect("load").expect("a token");
    assert_eq!(loaded.expose_secret(), "from-env");
    assert!(
        store.check_writable().is_err(),
        "read-only while overridden"
    );
    assert_eq!(store.describe(), "environment (CODEX_ACCESS_TOKEN)");
}

#[test]
fn home_reads_agent_identity_home_then_home() {
    let path = |vars: &[(&str, &str)]| {
        env(vars)
            .build_file_store()
            .map(|store| store.path().to_path_buf())
    };
    assert_eq!(
        path(&[("AGENT_IDENTITY_HOME", "/a"), ("HOME", "/h")]).expect("home"),
        PathBuf::from("/a/auth.json")
    );
    assert_eq!(
        path(&[("HOME", "/h")]).expect("home"),
        PathBuf::from("/h/.agent-identity/auth.json")
    );
    assert_eq!(
        path(&[("AGENT_IDENTITY_HOME", ""), ("USERPROFILE", "/u")]).expect("home"),
        PathBuf::from("/u/.agent-identity/auth.json")
    );
    let error = path(&[]).expect_err("no home at all");
    assert!(matches!(error, AuthError::Store(_)), "{error:?}");
}

#[test]
fn the_builder_reads_no_configuration_variable() {
    // `builder()` has no lookup: whatever the process environment holds, the defaults apply.
    let builder = AuthManager::builder();
    assert_eq!(builder.key_set, KeySet::Production);
    assert_eq!(builder.issuer, None);
    assert!(builder.token_override().is_none());
    let tasks = builder.build_task_client().expect("production");
    assert_eq!(
        tasks.base_url().as_str(),
        "https://auth.openai.com/api/accounts"
    );
}

#[test]
fn jwks_url_requires_https_off_loopback() {
    assert!(
        parse_jwks_url(
            "https://chatgpt.com/backend-api/wham/agent-identities/jwks",
            false
        )
        .is_ok()
    );
    assert!(parse_jwks_url("http://127.0.0.1:8080/jwks", false).is_ok());
    assert!(parse_jwks_url("http://localhost/jwks", false).is_ok());
    assert!(parse_jwks_url("http://[::1]:1/jwks", false).is_ok());
    assert!(parse_jwks_url("http://example.com/jwks", false).is_err());
    assert!(parse_jwks_url("http://example.com/jwks", true).is_ok());
    assert!(parse_jwks_url("ftp://127.0.0.1/jwks", true).is_err());
    assert!(parse_jwks_url("not a url", false).is_err());
}

#[test]
fn a_plain_http_key_set_is_refused_unless_named_insecure() {
    let error = env(&[("AGENT_IDENTITY_JWKS_URL", "http://keys.example/jwks")])
        .build_verifier()
        .expect_err("refused");
    assert_eq!(error.kind(), "config");
    assert_eq!(
        error.to_string(),
        "invalid AGENT_IDENTITY_JWKS_URL: https is required for a non-loopback host"
    );
    let error = AuthManager::builder()
        .jwks_url("http://keys.example/jwks")
        .build_verifier()
        .expect_err("refused");
    assert_eq!(error.kind(), "config");
    let verifier = AuthManager::builder()
        .insecure_jwks_url("http://keys.example/jwks")
        .build_verifier()
        .expect("allowed by its insecure name");
    assert_eq!(
        verifier.key_set_url().map(url::Url::as_str),
        Some("http://keys.example/jwks")
    );
}

#[test]
fn builder_debug_redacts_the_token() {
    let builder = AuthManager::builder().token("eyJsecret.token.value");
    let debug = format!("{builder:?}");
    assert!(!debug.contains("eyJsecret"), "{debug}");
    assert!(debug.contains("<redacted>"), "{debug}");
}

#[test]
fn a_token_file_replaces_auth_json_and_the_token_variable_still_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("token");
    std::fs::write(&file, "a.b.c\n").expect("write");
    let file_text = file.to_str().expect("utf-8");
    let home = dir.path().join("home");
    let home_text = home.to_str().expect("utf-8");
    let store = env(&[
        ("AGENT_IDENTITY_JWT_FILE", file_text),
        ("AGENT_IDENTITY_HOME", home_text),
    ])
    .build_store()
    .expect("store");
    assert_eq!(
        store.load().expect("load").expect("token").expose_secret(),
        "a.b.c"
    );
    assert_eq!(store.describe(), file_text);
    assert!(store.check_writable().is_err(), "a token file is read-only");
    assert_eq!(store.watched_paths(), vec![file.clone()]);
    assert_eq!(
        store
            .runtime_cache()
            .map(|cache| cache.path().to_path_buf()),
        Some(home.join(crate::RUNTIME_CACHE_FILE_NAME)),
        "the runtime cache stays in the home"
    );
    let store = env(&[
        ("AGENT_IDENTITY_JWT_FILE", file_text),
        ("AGENT_IDENTITY_JWT", "x.y.z"),
    ])
    .build_store()
    .expect("store");
    assert_eq!(
        store.load().expect("load").expect("token").expose_secret(),
        "x.y.z"
    );
    // The builder's own setting, with no environment at all.
    let store = AuthManager::builder()
        .token_file(&file)
        .home(&home)
        .build_store()
        .expect("store");
    assert_eq!(
        store.load().expect("load").expect("token").expose_secret(),
        "a.b.c"
    );
}

#[test]
fn the_store_variable_says_file_or_keyring_and_nothing_else() {
    let durable = |value: &str| {
        env(&[
            ("AGENT_IDENTITY_HOME", "/a"),
            ("AGENT_IDENTITY_STORE", value),
        ])
        .build_durable_store()
        .map(|store| store.describe())
    };
    assert_eq!(durable("file").expect("file"), "/a/auth.json");
    assert_eq!(durable("").expect("unset"), "/a/auth.json");
    for typo in ["Keyring", "keyrnig", "files"] {
        let error = durable(typo).expect_err("a typo is never a silent file store");
        assert!(
            matches!(
                error,
                AuthError::Config {
                    setting: "AGENT_IDENTITY_STORE",
                    ..
                }
            ),
            "{error:?}"
        );
    }
    let keyring = durable("keyring");
    if cfg!(feature = "keyring") {
        assert!(
            keyring.expect("keyring").contains("Codex Auth"),
            "the keyring entry"
        );
    } else {
        assert!(
            matches!(keyring, Err(AuthError::Config { .. })),
            "a build without the keyring refuses it rather than write a file"
        );
    }
}

/// One row of the algorithms table: the variables set, and the accepted algorithms.
type AlgorithmsCase = (
    &'static [(&'static str, &'static str)],
    Vec<agent_identity_jwt::SigningAlgorithm>,
);

#[test]
fn the_algorithms_variable_sets_the_accepted_algorithms() {
    use agent_identity_jwt::SigningAlgorithm::{EdDsa, Rs256};
    let cases: [AlgorithmsCase; 4] = [
        (&[], vec![Rs256]),
        (&[("AGENT_IDENTITY_ALGORITHMS", "eddsa")], vec![EdDsa]),
        (
            &[("AGENT_IDENTITY_ALGORITHMS", "RS256, EdDSA")],
            vec![Rs256, EdDsa],
        ),
        (&[("AGENT_IDENTITY_ALGORITHMS", "  ")], vec![Rs256]),
    ];
    for (vars, expected) in cases {
        let accepted = env(vars).accepted_algorithms().expect("parses");
        assert_eq!(accepted, expected, "{vars:?}");
    }
    // The builder's setting wins over the variable.
    let builder = env(&[("AGENT_IDENTITY_ALGORITHMS", "EdDSA")]).algorithms([Rs256]);
    assert_eq!(builder.accepted_algorithms().expect("parses"), vec![Rs256]);
}

#[test]
fn an_unknown_algorithm_in_the_variable_is_a_config_error_naming_it() {
    for value in ["HS256", "none", "RS256,,nope"] {
        let error = env(&[("AGENT_IDENTITY_ALGORITHMS", value)])
            .jwks_file("/nonexistent/jwks.json")
            .build_verifier()
            .expect_err("refused");
        let AuthError::Config { setting, reason } = &error else {
            panic!("{value}: {error:?}");
        };
        assert_eq!(*setting, "AGENT_IDENTITY_ALGORITHMS");
        assert!(reason.starts_with("unknown algorithm"), "{reason}");
    }
}
