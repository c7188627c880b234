//! Unit tests for the router: the guard of the admin endpoints, driven without a socket.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::SigningAlgorithm;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};

use super::{is_loopback, is_loopback_authority, router};
use crate::state::{Config, RegistrationForm, Shared};

fn app() -> axum::Router {
    let shared = Shared::new(
        Config {
            issuer: "iss".into(),
            audience: "aud".into(),
            algorithm: SigningAlgorithm::EdDsa,
            assertion_skew: Duration::from_secs(300),
        },
        RegistrationForm::default(),
    )
    .expect("state");
    router(Arc::new(shared))
}

async fn status_from(peer: Option<SocketAddr>, method: &str, path: &str) -> StatusCode {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "127.0.0.1:5555")
        .header("content-type", "application/json")
        .body(Body::empty())
        .expect("request");
    if let Some(peer) = peer {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    let response = tower_service::Service::call(&mut app(), request)
        .await
        .unwrap_or_else(|never| match never {});
    response.status()
}

#[tokio::test]
async fn admin_endpoints_refuse_non_loopback_peers() {
    let remote = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 7), 5555));
    for (method, path) in [
        ("GET", "/_emulator/counters"),
        ("POST", "/_emulator/mint"),
        ("POST", "/_emulator/faults"),
    ] {
        assert_eq!(
            status_from(Some(remote), method, path).await,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        assert_eq!(
            status_from(None, method, path).await,
            StatusCode::FORBIDDEN,
            "{path}: no peer known"
        );
        let local = SocketAddr::from((Ipv4Addr::LOCALHOST, 5555));
        assert_eq!(
            status_from(Some(local), method, path).await,
            StatusCode::OK,
            "{path}"
        );
    }
}

#[tokio::test]
async fn emulated_endpoints_answer_any_peer() {
    let remote = SocketAddr::from((Ipv4Addr::new(192, 0, 2, 7), 5555));
    assert_eq!(
        status_from(Some(remote), "GET", super::JWKS_PATH).await,
        StatusCode::OK
    );
}

#[test]
fn loopback_includes_ipv6_and_mapped_ipv4() {
    assert!(is_loopback(&SocketAddr::from((
        Ipv4Addr::new(127, 0, 0, 2),
        1
    ))));
    assert!(is_loopback(&SocketAddr::from((Ipv6Addr::LOCALHOST, 1))));
    assert!(is_loopback(&SocketAddr::from((
        Ipv4Addr::LOCALHOST.to_ipv6_mapped(),
        1
    ))));
    assert!(!is_loopback(&SocketAddr::from((
        Ipv4Addr::new(10, 0, 0, 1),
        1
    ))));
    assert!(!is_loopback(&SocketAddr::from((
        Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped(),
        1
    ))));
}

#[test]
fn only_loopback_names_with_any_port_are_loopback_authorities() {
    for authority in [
        "127.0.0.1",
        "127.0.0.1:8080",
        "localhost",
        "LocalHost:1",
        "[::1]",
        "[::1]:65535",
    ] {
        assert!(is_loopback_authority(authority), "{authority}");
    }
    for authority in [
        "",
        "example.com",
        "example.com:80",
        "localhost.example.com",
        "127.0.0.1.nip.io",
        "127.0.0.2:80",
        "0.0.0.0:80",
        "::1",
        "[::1",
        "[::2]:80",
        "[::1]80",
        "127.0.0.1:",
        "127.0.0.1:123456",
        "127.0.0.1:80:80",
        "user@127.0.0.1",
        "localhost:http",
    ] {
        assert!(!is_loopback_authority(authority), "{authority:?}");
    }
}
