//! Unit tests of the exit-code mapping and the redaction of pasted tokens.

use agent_identity_jwt::JwtError;
use agent_identity_manager::AuthError;
use agent_identity_task::AuthApiBaseUrl;

use super::{Exit, Failure, redact_tokens};

#[test]
fn permanent_token_errors_exit_1_with_their_kind() {
    let failure = Failure::from(JwtError::Expired { expired_at: 1 });
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
    let failure = Failure::from(AuthError::Task(error));
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

#[test]
fn pasted_tokens_are_redacted() {
    let token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
    let text = format!("unexpected argument '{token}' found; tip: use '-- {token}'");
    let redacted = redact_tokens(&text);
    assert!(!redacted.contains(token), "{redacted}");
    assert_eq!(
        redacted,
        "unexpected argument '<redacted token>' found; tip: use '-- <redacted token>'"
    );
}

#[test]
fn ordinary_words_are_not_redacted() {
    let text = "invalid value 'abc' for '--leeway <SECONDS>': 127.0.0.1 example.com a.b.c";
    assert_eq!(redact_tokens(text), text);
}
