//! Unit tests for [`Origins`]: what an origin may be, and which URLs it covers.

use super::*;

fn url(text: &str) -> Url {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn origins(list: &[&str]) -> Origins {
    Origins::new(list).unwrap_or_else(|e| panic!("{list:?}: {e}"))
}

#[test]
fn an_origin_covers_its_scheme_host_and_port_with_default_ports_normalised() {
    let scope = origins(&["https://API.example.com", "http://127.0.0.1:8080/"]);
    for covered in [
        "https://api.example.com/",
        "https://api.example.com:443/v1/chat?x=1#f",
        "http://127.0.0.1:8080/echo",
    ] {
        assert!(scope.covers(&url(covered)), "{covered}");
    }
    for outside in [
        "http://api.example.com/",
        "https://api.example.com:8443/",
        "https://sub.api.example.com/",
        "https://example.com/",
        "http://127.0.0.1:8081/",
        "http://localhost:8080/",
        "https://user:pw@api.example.com/",
        "https://user@api.example.com/",
        "data:text/plain,hello",
    ] {
        assert!(!scope.covers(&url(outside)), "{outside}");
    }
}

#[test]
fn an_explicit_default_port_is_the_same_origin() {
    let scope = origins(&["https://api.example.com:443"]);
    assert!(scope.covers(&url("https://api.example.com/x")));
}

#[test]
fn what_is_not_an_acceptable_origin_is_a_config_error() {
    for bad in [
        "http://api.example.com",
        "ftp://127.0.0.1",
        "https://api.example.com/v1",
        "https://api.example.com/?q",
        "https://api.example.com/#f",
        "https://user:secret-sentinel@api.example.com",
        "api.example.com",
        "",
    ] {
        let error = Origins::new([bad]).expect_err(bad);
        assert!(
            matches!(
                error,
                AuthError::Config {
                    setting: "origin",
                    ..
                }
            ),
            "{bad}: {error:?}"
        );
        assert!(!error.to_string().contains("secret-sentinel"), "{error}");
    }
    let none: [&str; 0] = [];
    assert!(matches!(
        Origins::new(none),
        Err(AuthError::Config {
            setting: "origin",
            ..
        })
    ));
}

#[test]
fn loopback_origins_may_be_plain_http() {
    let scope = origins(&["http://localhost:1", "http://[::1]:2", "http://127.0.0.2"]);
    assert!(scope.covers(&url("http://localhost:1/")));
    assert!(scope.covers(&url("http://[::1]:2/")));
    assert!(scope.covers(&url("http://127.0.0.2:80/")));
}

#[test]
fn debug_lists_the_normalised_origins() {
    let scope = origins(&["https://API.example.com/"]);
    assert_eq!(format!("{scope:?}"), r#"["https://api.example.com:443"]"#);
}
