//! Unit tests: header hygiene, the client token, the upstream rules.

use hyper::http::header::{HeaderMap, HeaderValue};

use crate::headers::{ACCOUNT_ID, FEDRAMP, upstream_headers};
use crate::proxy::Upstream;
use crate::token::ClientToken;

fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.append(*name, HeaderValue::from_static(value));
    }
    headers
}

#[test]
fn hop_by_hop_and_identity_headers_never_reach_the_upstream() {
    let client = map(&[
        ("connection", "keep-alive, x-private"),
        ("x-private", "1"),
        ("keep-alive", "timeout=5"),
        ("te", "trailers"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("proxy-authorization", "Basic abc"),
        ("authorization", "Bearer client-token"),
        ("chatgpt-account-id", "forged"),
        ("x-openai-fedramp", "true"),
        ("host", "127.0.0.1:9"),
        ("content-type", "application/json"),
        ("accept", "text/event-stream"),
    ]);
    let headers = upstream_headers(
        client.clone(),
        &HeaderValue::from_static("api.example"),
        false,
    );
    let names: Vec<&str> = headers.keys().map(|name| name.as_str()).collect();
    assert_eq!(names, ["host", "content-type", "accept"]);
    assert_eq!(headers["host"], "api.example");
}

#[test]
fn an_upgrade_keeps_its_upgrade_headers_only() {
    let client = map(&[
        ("connection", "Upgrade"),
        ("upgrade", "websocket"),
        ("keep-alive", "1"),
    ]);
    let headers = upstream_headers(client.clone(), &HeaderValue::from_static("h"), true);
    assert_eq!(headers["connection"], "upgrade");
    assert_eq!(headers["upgrade"], "websocket");
    assert!(!headers.contains_key("keep-alive"));
}

#[test]
fn client_tokens_are_random_redacted_and_compared_exactly() {
    let token = ClientToken::generate();
    assert_eq!(token.expose_secret().len(), 43);
    assert_ne!(
        token.expose_secret(),
        ClientToken::generate().expose_secret()
    );
    assert_eq!(format!("{token:?}"), "ClientToken(<redacted>)");
    assert!(token.matches(token.expose_secret().as_bytes()));
    let mut other = token.expose_secret().as_bytes().to_vec();
    other[42] ^= 1;
    assert!(!token.matches(&other));
    assert!(!token.matches(b""));
}

#[test]
fn a_token_file_is_written_0600_and_read_back() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("proxy.token");
    let token = ClientToken::generate();
    token.write_file(&path).expect("write");
    let mode = std::fs::metadata(&path)
        .expect("metadata")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let read = ClientToken::read_file(&path).expect("read");
    assert_eq!(read.expose_secret(), token.expose_secret());
    std::fs::write(&path, "two words\n").expect("write");
    assert!(ClientToken::read_file(&path).is_err());
}

#[test]
fn upstreams_must_be_https_unless_loopback() {
    for good in [
        "https://api.example/v1/",
        "http://127.0.0.1:8080",
        "http://localhost:1/x",
        "http://[::1]:2",
    ] {
        assert!(Upstream::parse(good).is_ok(), "{good}");
    }
    for bad in [
        "http://api.example",
        "ftp://127.0.0.1",
        "https://user:pw@api.example",
        "https://api.example/?q=1",
        "not a url",
    ] {
        assert!(Upstream::parse(bad).is_err(), "{bad}");
    }
    let upstream = Upstream::parse("https://API.example/v1/").expect("parse");
    assert_eq!(upstream.prefix, "https://api.example/v1");
    assert_eq!(upstream.authority, "api.example:443");
    assert_eq!(upstream.host, "api.example");
    assert_eq!(upstream.origin.to_string(), "https://api.example/");
}

#[test]
fn the_upstream_target_is_the_base_path_then_the_client_path_and_query() {
    let target: hyper::http::Uri = "/responses/1?stream=true&x=%2F".parse().expect("target");
    let based = Upstream::parse("https://API.example/v1/").expect("parse");
    assert_eq!(
        based.uri_for(&target).expect("uri").to_string(),
        "/v1/responses/1?stream=true&x=%2F"
    );
    let bare = Upstream::parse("http://127.0.0.1:8080").expect("parse");
    assert_eq!(
        bare.uri_for(&target).expect("uri").to_string(),
        "/responses/1?stream=true&x=%2F"
    );
    let root: hyper::http::Uri = "/".parse().expect("root");
    assert_eq!(based.uri_for(&root).expect("uri").to_string(), "/v1/");
}

#[test]
fn the_identity_header_names_are_the_canonical_ones() {
    assert!(
        ACCOUNT_ID
            .as_str()
            .eq_ignore_ascii_case(agent_identity_task::ACCOUNT_ID_HEADER)
    );
    assert!(
        FEDRAMP
            .as_str()
            .eq_ignore_ascii_case(agent_identity_task::FEDRAMP_HEADER)
    );
}

#[test]
fn a_client_token_file_must_be_private_regular_and_hold_128_bits() {
    use std::os::unix::fs::PermissionsExt as _;

    use crate::error::ProxyError;

    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("token");
    let set_mode = |mode| {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
    };
    let long = "A".repeat(crate::token::MIN_TOKEN_CHARS);

    // Writable by everyone: refused, whatever it holds.
    std::fs::write(&path, &long).expect("write");
    set_mode(0o666);
    assert!(matches!(
        ClientToken::read_file(&path),
        Err(ProxyError::InsecureTokenFile { .. })
    ));
    // Private, but too short to be hard to guess.
    std::fs::write(&path, "short\n").expect("write");
    set_mode(0o600);
    let short = ClientToken::read_file(&path).expect_err("a short token is refused");
    assert!(matches!(short, ProxyError::BadTokenFile { .. }));
    assert!(!short.to_string().contains("short\n"), "{short}");
    std::fs::write(&path, &long[1..]).expect("write");
    assert!(ClientToken::read_file(&path).is_err(), "21 characters");
    std::fs::write(&path, format!("{long}\n")).expect("write");
    assert_eq!(
        ClientToken::read_file(&path)
            .expect("22 characters")
            .expose_secret(),
        long
    );

    // A symlink to a good file is not followed.
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&path, &link).expect("symlink");
    assert!(matches!(
        ClientToken::read_file(&link),
        Err(ProxyError::TokenFile { .. })
    ));

    // A FIFO is refused at once instead of waiting for a writer.
    let fifo = dir.path().join("fifo");
    rustix::fs::mkfifoat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
    )
    .expect("mkfifo");
    assert!(matches!(
        ClientToken::read_file(&fifo),
        Err(ProxyError::InsecureTokenFile {
            problem: agent_identity_manager::Insecurity::NotRegularFile,
            ..
        })
    ));
}
