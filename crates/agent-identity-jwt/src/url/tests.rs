//! Tests of the ChatGPT base URL rules and the one URL acceptance rule.

use super::*;

#[test]
fn normalize_table() {
    let cases = [
        ("https://chatgpt.com", "https://chatgpt.com/backend-api"),
        ("https://chatgpt.com/", "https://chatgpt.com/backend-api"),
        (
            "https://chatgpt.com/codex",
            "https://chatgpt.com/backend-api",
        ),
        (
            "https://chatgpt.com/codex/",
            "https://chatgpt.com/backend-api",
        ),
        (
            "https://chat.openai.com",
            "https://chat.openai.com/backend-api",
        ),
        (
            "https://chatgpt.com/backend-api",
            "https://chatgpt.com/backend-api",
        ),
        (
            "https://chatgpt.com/backend-api/codex",
            "https://chatgpt.com/backend-api",
        ),
        (
            "https://chatgpt.com/backend-api/wham/remote/control/server/enroll",
            "https://chatgpt.com/backend-api",
        ),
        (
            "https://chatgpt.com/backend-api/wham/remote/control/server",
            "https://chatgpt.com/backend-api",
        ),
        (
            "http://localhost:8080/api/codex",
            "http://localhost:8080/api/codex",
        ),
        (
            "http://localhost:8080/api/codex/",
            "http://localhost:8080/api/codex",
        ),
        ("http://localhost:8080", "http://localhost:8080"),
        (
            "https://chatgpt.com.evil.example",
            "https://chatgpt.com.evil.example",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(normalize_chatgpt_base_url(input), expected, "input {input}");
    }
}

#[test]
fn jwks_url_table() {
    let cases = [
        ("https://chatgpt.com/backend-api", PRODUCTION_JWKS_URL),
        ("https://chatgpt.com/backend-api/", PRODUCTION_JWKS_URL),
        (
            "http://localhost:8080/api/codex",
            "http://localhost:8080/api/codex/agent-identities/jwks",
        ),
        // Codex's current rule: a base without `/backend-api` gets `/agent-identities/jwks`.
        (
            "http://127.0.0.1:9000",
            "http://127.0.0.1:9000/agent-identities/jwks",
        ),
        (
            "https://chatgpt-staging.com/",
            "https://chatgpt-staging.com/agent-identities/jwks",
        ),
        (
            "https://chatgpt.com/codex",
            "https://chatgpt.com/codex/agent-identities/jwks",
        ),
        (
            "https://chatgpt.com/backend-api/codex",
            "https://chatgpt.com/backend-api/codex/wham/agent-identities/jwks",
        ),
        (
            "  https://chat.openai.com/backend-api  ",
            "https://chat.openai.com/backend-api/wham/agent-identities/jwks",
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(jwks_url_for_base(input), expected, "input {input}");
    }
}

#[test]
fn production_base_resolves_to_production_jwks() {
    assert_eq!(
        jwks_url_for_base(&normalize_chatgpt_base_url("https://chatgpt.com")),
        PRODUCTION_JWKS_URL
    );
}

#[test]
fn the_url_rule_accepts_https_and_loopback_http_only() {
    let rule = UrlRule::new();
    for good in [
        "https://auth.example.com/api",
        "  https://auth.example.com  ",
        "http://localhost:1/x",
        "http://LOCALHOST/x",
        "http://127.0.0.1:8080/x",
        "http://127.5.6.7/x",
        "http://[::1]:9/x",
    ] {
        assert!(rule.parse(good).is_ok(), "{good}");
    }
    let cases = [
        ("not a url", UrlRefusal::NotAbsolute),
        ("/relative", UrlRefusal::NotAbsolute),
        ("http://example.com/x", UrlRefusal::PlainHttp),
        ("http://localhost.example.com/x", UrlRefusal::PlainHttp),
        ("http://10.0.0.1/x", UrlRefusal::PlainHttp),
        ("http://[::2]/x", UrlRefusal::PlainHttp),
        ("ftp://127.0.0.1/x", UrlRefusal::Scheme),
        ("unix:/run/socket", UrlRefusal::NoHost),
        ("https://user@example.com/x", UrlRefusal::Credentials),
        ("https://user:pw@example.com/x", UrlRefusal::Credentials),
        ("https://example.com/x?a=1", UrlRefusal::Query),
        ("https://example.com/x?", UrlRefusal::Query),
        ("https://example.com/x#f", UrlRefusal::Fragment),
    ];
    for (text, refusal) in cases {
        assert_eq!(rule.parse(text), Err(refusal), "{text}");
        assert_eq!(refusal.to_string(), refusal.reason());
    }
}

#[test]
fn the_url_rule_relaxes_only_what_it_is_told() {
    let query = UrlRule::new().allow_query();
    assert!(query.parse("https://example.com/jwks?v=2").is_ok());
    assert_eq!(
        query.parse("http://example.com/jwks"),
        Err(UrlRefusal::PlainHttp)
    );
    let insecure = UrlRule::new().insecure_plain_http();
    assert!(insecure.parse("http://example.com/jwks").is_ok());
    assert_eq!(
        insecure.parse("http://u:p@example.com/jwks"),
        Err(UrlRefusal::Credentials)
    );
    assert_eq!(
        insecure.parse("http://example.com/jwks?v=2"),
        Err(UrlRefusal::Query)
    );
    assert_eq!(insecure.parse("ftp://example.com"), Err(UrlRefusal::Scheme));
}
