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
