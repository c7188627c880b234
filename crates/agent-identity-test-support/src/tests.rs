//! The helpers do what the suites rely on: minted tokens verify, clocks move, ports refuse.

use std::time::Duration;

use agent_identity_jwt::{Clock, StaticJwksSource, Verifier};

use crate::mint::{self, Identity};
use crate::vectors::{first_vector, jwks_json, jwks_with_kids, vectors};
use crate::{TestClock, refusing_port};

fn vectors_verifier(jwks: String) -> Verifier {
    Verifier::builder(StaticJwksSource::from_json(jwks).expect("the vectors' JWKS"))
        .issuer(vectors().jwt.issuer.as_str())
        .audience(vectors().jwt.audience.as_str())
        .build()
}

#[tokio::test]
async fn minted_tokens_verify_against_the_vectors_key_set() {
    let record = vectors_verifier(jwks_json())
        .verify(&mint::valid_token())
        .await
        .expect("a minted token verifies");
    assert_eq!(
        record.runtime_id().as_str(),
        first_vector().agent_runtime_id
    );

    let fedramp = Identity {
        account_id: "account-9",
        fedramp: true,
        ..Identity::for_vector(&vectors().ed25519[1])
    };
    let record = vectors_verifier(jwks_json())
        .verify_str(&mint::mint_identity(&fedramp))
        .await
        .expect("a minted identity verifies");
    assert_eq!(
        record.runtime_id().as_str(),
        vectors().ed25519[1].agent_runtime_id
    );
    assert_eq!(record.account_id().as_str(), "account-9");
    assert!(record.is_fedramp());
}

#[tokio::test]
async fn a_token_under_another_kid_verifies_only_where_that_kid_is_published() {
    let token = mint::token("agent-7", "rotated", mint::now_secs() + 60);
    let error = vectors_verifier(jwks_json())
        .verify(&token)
        .await
        .expect_err("kid not published");
    assert_eq!(error.kind(), "untrusted_kid");
    let record = vectors_verifier(jwks_with_kids(&["rotated"]))
        .verify(&token)
        .await
        .expect("kid published");
    assert_eq!(record.runtime_id().as_str(), "agent-7");
}

#[tokio::test]
async fn every_vector_case_is_typed() {
    assert!(vectors().jwt.cases.len() >= 15);
    assert!(vectors().jwt.cases.iter().any(|case| case.expect == "ok"));
}

#[test]
fn test_clock_moves_only_when_advanced() {
    let clock = TestClock::new();
    let start = clock.now();
    assert_eq!(clock.now(), start);
    clock.advance(Duration::from_secs(90));
    assert_eq!(clock.now(), start + Duration::from_secs(90));
}

#[test]
fn refusing_port_refuses_connections() {
    let address = refusing_port();
    assert!(address.ip().is_loopback());
    let error = std::net::TcpStream::connect(address).expect_err("nothing listens");
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}
