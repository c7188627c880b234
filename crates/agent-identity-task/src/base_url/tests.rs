//! Unit tests for AuthAPI base URL resolution (wire-format §4) and registration URLs (§3).

use std::collections::HashMap;

use super::*;

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn resolved(explicit: Option<&str>, pairs: &[(&str, &str)]) -> String {
    match AuthApiBaseUrl::resolve_with(explicit, env(pairs)) {
        Ok(url) => url.as_str().to_owned(),
        Err(error) => panic!("unexpected error: {error}"),
    }
}

#[test]
fn production_default_when_nothing_is_set() {
    assert_eq!(resolved(None, &[]), PRODUCTION_AUTHAPI_BASE_URL);
}

#[test]
fn explicit_configuration_wins() {
    let all = [
        ("AGENT_IDENTITY_AUTHAPI_BASE_URL", "https://a.example"),
        ("CODEX_AUTHAPI_BASE_URL", "https://b.example"),
    ];
    assert_eq!(
        resolved(Some("https://explicit.example/api/"), &all),
        "https://explicit.example/api"
    );
}

#[test]
fn environment_variables_are_tried_in_order() {
    let a = ("AGENT_IDENTITY_AUTHAPI_BASE_URL", "https://a.example");
    let b = ("CODEX_AUTHAPI_BASE_URL", "https://b.example");
    let c = ("CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL", "https://c.example");
    assert_eq!(resolved(None, &[a, b, c]), "https://a.example");
    assert_eq!(resolved(None, &[b, c]), "https://b.example");
    assert_eq!(resolved(None, &[c]), "https://c.example");
}

#[test]
fn empty_values_count_as_unset() {
    let pairs = [
        ("AGENT_IDENTITY_AUTHAPI_BASE_URL", "  "),
        ("CODEX_AUTHAPI_BASE_URL", ""),
        (
            "CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL",
            "https://c.example/",
        ),
    ];
    assert_eq!(resolved(Some(""), &pairs), "https://c.example");
    assert_eq!(resolved(Some("   "), &[]), PRODUCTION_AUTHAPI_BASE_URL);
}

#[test]
fn values_are_trimmed_and_lose_trailing_slashes() {
    assert_eq!(
        resolved(Some("  https://auth.example/api/accounts/ \n"), &[]),
        "https://auth.example/api/accounts"
    );
    assert_eq!(
        resolved(Some("https://auth.example/"), &[]),
        "https://auth.example"
    );
}

#[test]
fn a_bad_environment_value_is_an_error_naming_the_variable() {
    let pairs = [
        ("AGENT_IDENTITY_AUTHAPI_BASE_URL", "http://auth.example"),
        ("CODEX_AUTHAPI_BASE_URL", "https://fine.example"),
    ];
    let error = AuthApiBaseUrl::resolve_with(None, env(&pairs))
        .err()
        .unwrap_or_else(|| panic!("should fail"));
    assert_eq!(error.reason(), TaskErrorKind::Config);
    assert_eq!(error.operation(), Operation::ResolveBaseUrl);
    assert!(!error.is_transient());
    assert!(
        error
            .to_string()
            .contains("AGENT_IDENTITY_AUTHAPI_BASE_URL"),
        "{error}"
    );
    assert!(error.to_string().contains("https is required"), "{error}");
}

#[test]
fn https_is_required_except_for_loopback_hosts() {
    for ok in [
        "https://auth.openai.com/api/accounts",
        "http://localhost:8080",
        "http://LOCALHOST:8080/x",
        "http://127.0.0.1:1234",
        "http://127.255.0.9",
        "http://[::1]:9000/api",
    ] {
        assert!(AuthApiBaseUrl::parse(ok).is_ok(), "{ok} should be accepted");
    }
    for bad in [
        "http://auth.openai.com",
        "http://128.0.0.1",
        "http://[::2]",
        "http://localhost.example.com",
        "ftp://localhost",
        "auth.openai.com",
        "not a url",
        "https://user:pass@auth.example",
        "https://auth.example/api?x=1",
        "https://auth.example/api#frag",
        "/relative",
        "",
    ] {
        let error = AuthApiBaseUrl::parse(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad} should be refused"));
        assert_eq!(error.reason(), TaskErrorKind::Config, "{bad}");
    }
}

#[test]
fn registration_url_encodes_the_runtime_id_as_one_segment() {
    let base = AuthApiBaseUrl::parse("https://auth.example/api/accounts/")
        .unwrap_or_else(|e| panic!("{e}"));
    let url = |id: &str| base.registration_url(id).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        url("agent-123"),
        "https://auth.example/api/accounts/v1/agent/agent-123/task/register"
    );
    assert_eq!(
        url("a/b?c d#e%f"),
        "https://auth.example/api/accounts/v1/agent/a%2Fb%3Fc%20d%23e%25f/task/register"
    );
    assert_eq!(
        url("ü.~_-"),
        "https://auth.example/api/accounts/v1/agent/%C3%BC.~_-/task/register"
    );
    for bad in ["", ".", ".."] {
        let error = base
            .registration_url(bad)
            .err()
            .unwrap_or_else(|| panic!("{bad:?}"));
        assert_eq!(error.reason(), TaskErrorKind::InvalidRuntimeId);
    }
    assert!(base.registration_url("...").is_ok());
}

#[test]
fn from_str_and_display_agree_with_parse() {
    let parsed: AuthApiBaseUrl = "http://127.0.0.1:9/"
        .parse()
        .unwrap_or_else(|e: TaskError| panic!("{e}"));
    assert_eq!(parsed.to_string(), "http://127.0.0.1:9");
    assert_eq!(
        format!("{parsed:?}"),
        "AuthApiBaseUrl(\"http://127.0.0.1:9\")"
    );
}
