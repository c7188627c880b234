//! Unit tests of the exit-code mapping.

use agent_identity_jwt::JwtError;
use agent_identity_manager::AuthError;
use agent_identity_task::AuthApiBaseUrl;

use super::{Exit, Failure};

#[test]
fn permanent_token_errors_exit_1_with_their_kind() {
    let failure = Failure::from(JwtError::Expired {
        expired_at: 1,
        checked_at: 2,
    });
    assert_eq!(failure.exit(), Exit::Rejected);
    assert_eq!(failure.kind(), "expired");
    assert_eq!(failure.exit().code(), 1);
}

#[test]
fn an_unreachable_key_source_exits_75() {
    let failure = Failure::from(JwtError::KeySourceUnavailable(None));
    assert_eq!(failure.exit(), Exit::TempFail);
    assert_eq!(failure.exit().code(), 75);
    assert_eq!(failure.kind(), "key_source_unavailable");
}

#[test]
fn an_unusable_authapi_url_is_a_usage_error() {
    let error = AuthApiBaseUrl::parse("http://example.com").expect_err("http is refused");
    let failure = Failure::from(AuthError::from(error));
    assert_eq!(failure.exit(), Exit::Usage);
    assert_eq!(failure.exit().code(), 2);
    assert_eq!(failure.kind(), "config");
}

#[test]
fn not_logged_in_exits_1() {
    let failure = Failure::from(AuthError::NotLoggedIn);
    assert_eq!(failure.exit(), Exit::Rejected);
    assert_eq!(failure.kind(), "not_logged_in");
}

#[test]
fn messages_are_one_line() {
    let failure = Failure::from(JwtError::InvalidKeySet("line one\nline two".into()));
    assert!(!failure.message().contains('\n'), "{}", failure.message());
}
