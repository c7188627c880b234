//! Tests of `AuthError`: its classification, kinds and messages.

use std::path::PathBuf;
use std::sync::Arc;

use agent_identity_jwt::JwtError;
use agent_identity_task::TaskErrorKind;

use super::*;

#[test]
fn task_failures_are_classified_by_kind() {
    // (kind, transient, revokes the identity)
    let cases = [
        (TaskErrorKind::Connect, true, false),
        (TaskErrorKind::Timeout, true, false),
        (TaskErrorKind::Transport, true, false),
        (TaskErrorKind::Status(429), true, false),
        (TaskErrorKind::Status(500), true, false),
        (TaskErrorKind::Status(503), true, false),
        (TaskErrorKind::Status(401), false, true),
        (TaskErrorKind::Status(403), false, true),
        (TaskErrorKind::Status(400), false, false),
        (TaskErrorKind::Status(404), false, false),
        (TaskErrorKind::MalformedResponse, false, false),
        (TaskErrorKind::Undecryptable, false, false),
    ];
    for (kind, transient, revokes) in cases {
        assert_eq!(kind.is_transient(), transient, "transient: {kind:?}");
        assert_eq!(task_revokes_identity(kind), revokes, "revokes: {kind:?}");
    }
}

#[test]
fn auth_errors_are_classified() {
    // (error, transient, revokes the identity)
    let cases = [
        (AuthError::NotLoggedIn, false, true),
        (AuthError::Expired, false, true),
        (
            AuthError::Token(JwtError::KeySourceUnavailable(None)),
            true,
            false,
        ),
        (AuthError::Token(JwtError::BadSignature), false, true),
        (
            AuthError::Token(JwtError::Expired {
                expired_at: 1,
                checked_at: 2,
            }),
            false,
            true,
        ),
        (
            AuthError::Token(JwtError::UntrustedKid { kid: "k".into() }),
            false,
            true,
        ),
        (
            AuthError::Store(StoreError::Corrupt {
                path: PathBuf::from("auth.json"),
                reason: "torn",
            }),
            false,
            false,
        ),
        (
            AuthError::Store(StoreError::Io {
                path: PathBuf::from("auth.json"),
                operation: "reading",
                source: Arc::new(std::io::Error::other("disk")),
            }),
            true,
            false,
        ),
    ];
    for (error, transient, revokes) in cases {
        assert_eq!(error.is_transient(), transient, "transient: {error:?}");
        assert_eq!(error.revokes_identity(), revokes, "revokes: {error:?}");
        assert!(
            !(error.is_transient() && error.revokes_identity()),
            "never both: {error:?}"
        );
    }
}

#[test]
fn kinds_are_stable_snake_case() {
    assert_eq!(
        AuthError::Token(JwtError::BadSignature).kind(),
        "bad_signature"
    );
    assert_eq!(AuthError::NotLoggedIn.kind(), "not_logged_in");
}

#[test]
fn store_errors_are_classified_by_the_stores_predicate() {
    let locked = StoreError::Locked {
        path: PathBuf::from("auth.json.lock"),
        waited: std::time::Duration::from_secs(10),
    };
    let insecure = StoreError::Insecure {
        path: PathBuf::from("auth.json"),
        problem: crate::store::Insecurity::Symlink,
    };
    let not_a_directory = StoreError::Io {
        path: PathBuf::from("home/auth.json"),
        operation: "reading",
        source: Arc::new(std::io::Error::from(std::io::ErrorKind::NotADirectory)),
    };
    // (error, transient, kind)
    for (error, transient, kind) in [
        (locked, true, "store_locked"),
        (insecure, false, "store_insecure"),
        (not_a_directory, false, "store_io"),
    ] {
        let error = AuthError::Store(error);
        assert_eq!(error.is_transient(), transient, "{error:?}");
        assert!(!error.revokes_identity(), "{error:?}");
        assert_eq!(error.kind(), kind);
    }
}

#[test]
fn no_message_repeats_its_source() {
    let errors = [
        AuthError::Store(StoreError::Io {
            path: PathBuf::from("/home/agent/auth.json"),
            operation: "reading",
            source: Arc::new(std::io::Error::other("disk on fire")),
        }),
        AuthError::from(JwtError::InvalidPrivateKey(
            agent_identity_jwt::KeyError::NotBase64,
        )),
        AuthError::from(JwtError::KeySourceUnavailable(Some(Arc::new(
            std::io::Error::other("connection refused"),
        )))),
    ];
    for error in errors {
        let mut current: &(dyn std::error::Error + 'static) = &error;
        while let Some(source) = current.source() {
            let (text, cause) = (current.to_string(), source.to_string());
            assert!(!text.contains(&cause), "{text:?} repeats {cause:?}");
            current = source;
        }
    }
}

#[test]
fn a_bad_setting_is_config_whichever_crate_found_it() {
    let key_set = AuthError::from(JwtError::InvalidKeySet("cannot read keys.json".into()));
    assert!(
        matches!(&key_set, AuthError::Config { setting, .. } if *setting == KEY_SET_SETTING),
        "{key_set:?}"
    );
    let url = agent_identity_task::AuthApiBaseUrl::parse("http://example.com")
        .expect_err("http off loopback is refused");
    let url = AuthError::from(url);
    assert!(
        matches!(&url, AuthError::Config { setting, .. } if *setting == AUTHAPI_BASE_URL_SETTING),
        "{url:?}"
    );
    for error in [key_set, url] {
        assert_eq!(error.kind(), "config");
        assert!(!error.is_transient() && !error.revokes_identity());
    }
}

#[test]
fn a_store_failure_has_the_store_error_kind() {
    let locked = StoreError::Locked {
        path: PathBuf::from("/home/agent/auth.json.lock"),
        waited: std::time::Duration::from_secs(5),
    };
    assert_eq!(locked.kind(), "store_locked");
    assert_eq!(AuthError::from(locked).kind(), "store_locked");
    let interrupted = StoreError::Interrupted;
    assert!(interrupted.is_transient());
    assert_eq!(AuthError::from(interrupted).kind(), "store_interrupted");
}
