//! The probe's three outcomes, against loopback servers and a name that never resolves.

use super::{AuthApiProbe, TaskClient};
use crate::AuthApiBaseUrl;

fn client(base: &str) -> TaskClient {
    TaskClient::new(AuthApiBaseUrl::parse(base).expect("base url"))
}

#[tokio::test]
async fn an_answer_of_any_status_is_reported_with_the_server_date() {
    let mut server = mockito::Server::new_async().await;
    let mock = server
        .mock("GET", "/api/accounts")
        .with_status(404)
        .with_header("date", "Thu, 03 Dec 2026 10:00:00 GMT")
        .expect(1)
        .create_async()
        .await;
    let probe = client(&format!("{}/api/accounts", server.url()))
        .probe()
        .await;
    mock.assert_async().await;
    let AuthApiProbe::Answered { status, date } = probe else {
        panic!("{probe:?}");
    };
    assert_eq!(status, 404);
    assert_eq!(
        date,
        httpdate::parse_http_date("Thu, 03 Dec 2026 10:00:00 GMT").ok()
    );
}

#[tokio::test]
async fn a_name_that_never_resolves_is_reported_as_unresolved() {
    // `.invalid` never resolves (RFC 6761), so this fails fast, offline too.
    let probe = client("https://authapi.doctor-probe.invalid/api")
        .probe()
        .await;
    assert_eq!(
        probe,
        AuthApiProbe::Unresolved {
            host: "authapi.doctor-probe.invalid".to_owned()
        }
    );
}

#[tokio::test]
async fn a_refused_connection_is_unreachable() {
    let port = agent_identity_test_support::refusing_port();
    let probe = client(&format!("http://{port}")).probe().await;
    assert_eq!(probe, AuthApiProbe::Unreachable { timed_out: false });
}
