//! The fault knobs: failing registrations and JWKS fetches, latency (on a paused clock), dropped
//! connections, and signing-key rotation.

use std::time::Duration;

use agent_identity_emulator::Emulator;
use agent_identity_jwt::JwtError;
use serde_json::json;

use crate::support::{
    fresh_connections, get_json, minted_record, one_shot_task_client, quick_retry_task_client,
};

#[tokio::test]
async fn fail_next_registrations_fails_exactly_n_with_the_status() {
    let emulator = Emulator::start().await.expect("start");
    let (_, record) = minted_record(&emulator).await;
    let client = one_shot_task_client(&emulator);
    emulator.fail_next_registrations(2, 503);
    for _ in 0..2 {
        let error = client.register_task(&record).await.expect_err("injected");
        assert_eq!(error.status(), Some(503));
        assert!(error.is_transient());
    }
    client
        .register_task(&record)
        .await
        .expect("the third succeeds");
    assert_eq!(
        emulator.registrations(),
        1,
        "failed attempts are not counted"
    );

    emulator.fail_next_registrations(1, 403);
    let error = client.register_task(&record).await.expect_err("injected");
    assert_eq!(error.status(), Some(403));
    assert!(!error.is_transient());
}

#[tokio::test]
async fn retrying_client_rides_out_injected_registration_failures() {
    let emulator = Emulator::start().await.expect("start");
    let (_, record) = minted_record(&emulator).await;
    emulator.fail_next_registrations(3, 500);
    quick_retry_task_client(&emulator)
        .register_task(&record)
        .await
        .expect("the fourth attempt succeeds");
    assert_eq!(emulator.registrations(), 1);
}

#[tokio::test]
async fn injected_fault_body_is_small_json_and_invalid_status_becomes_500() {
    let emulator = Emulator::start().await.expect("start");
    let client = fresh_connections();
    emulator.fail_next_jwks(1, 429);
    let (status, body) = get_json(&client, emulator.jwks_url().as_ref()).await;
    assert_eq!(
        (status, body),
        (429, json!({ "error": "injected_fault", "status": 429 }))
    );
    emulator.fail_next_jwks(1, 7);
    let (status, _) = get_json(&client, emulator.jwks_url().as_ref()).await;
    assert_eq!(status, 500);
}

#[tokio::test]
async fn fail_next_jwks_makes_verification_unavailable_then_recovers() {
    let emulator = Emulator::start().await.expect("start");
    let minted = emulator.mint().issue().expect("mint");
    emulator.fail_next_jwks(1, 503);
    let error = emulator
        .verifier()
        .verify(&minted.token)
        .await
        .expect_err("jwks down");
    assert!(error.is_transient(), "{error:?}");
    assert_eq!(emulator.jwks_fetches(), 1, "failed fetches are counted");
    emulator
        .verifier()
        .verify(&minted.token)
        .await
        .expect("the next fetch succeeds");
    assert_eq!(emulator.jwks_fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn latency_delays_every_emulated_endpoint_on_a_paused_clock() {
    let emulator = Emulator::start().await.expect("start");
    let (minted, _) = minted_record(&emulator).await;
    let record = agent_identity_jwt::insecure_decode_unverified(&minted.token).expect("decode");
    emulator.set_latency(Duration::from_secs(7));
    let client = fresh_connections();

    let started = tokio::time::Instant::now();
    get_json(&client, emulator.jwks_url().as_ref()).await;
    assert!(started.elapsed() >= Duration::from_secs(7));

    let started = tokio::time::Instant::now();
    one_shot_task_client(&emulator)
        .register_task(&record)
        .await
        .expect("slow but fine");
    assert!(started.elapsed() >= Duration::from_secs(7));

    // The admin endpoints are never delayed.
    let started = tokio::time::Instant::now();
    get_json(
        &client,
        emulator
            .base_url()
            .join("_emulator/counters")
            .expect("url")
            .as_ref(),
    )
    .await;
    assert!(started.elapsed() < Duration::from_secs(7));

    emulator.set_latency(Duration::ZERO);
    let started = tokio::time::Instant::now();
    get_json(&client, emulator.jwks_url().as_ref()).await;
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(start_paused = true)]
async fn latency_beyond_the_attempt_timeout_is_a_transient_timeout() {
    let emulator = Emulator::start().await.expect("start");
    let minted = emulator.mint().issue().expect("mint");
    let record = agent_identity_jwt::insecure_decode_unverified(&minted.token).expect("decode");
    emulator.set_latency(Duration::from_secs(60));
    let client = emulator
        .task_client_builder()
        .client(fresh_connections())
        .max_attempts(1)
        .attempt_timeout(Duration::from_secs(30))
        .total_deadline(None)
        .build();
    let error = client.register_task(&record).await.expect_err("timed out");
    assert!(error.is_transient(), "{error:?}");
}

#[tokio::test]
async fn dropped_connection_is_a_transport_error_for_the_next_requests_only() {
    let emulator = Emulator::start().await.expect("start");
    let client = fresh_connections();
    emulator.drop_next_connections(2);
    for _ in 0..2 {
        let error = client
            .get(emulator.jwks_url())
            .send()
            .await
            .expect_err("closed without a response");
        assert!(error.status().is_none());
    }
    let (status, _) = get_json(&client, emulator.jwks_url().as_ref()).await;
    assert_eq!(status, 200);
    assert_eq!(
        emulator.jwks_fetches(),
        1,
        "dropped requests never reach the endpoint"
    );
}

#[tokio::test]
async fn dropped_connection_also_cuts_a_kept_alive_connection() {
    let emulator = Emulator::start().await.expect("start");
    let pooled = reqwest::Client::new();
    let (status, _) = get_json(&pooled, emulator.jwks_url().as_ref()).await;
    assert_eq!(status, 200);
    emulator.drop_next_connections(1);
    pooled
        .get(emulator.jwks_url())
        .send()
        .await
        .expect_err("the reused connection is closed without a response");
    let (status, _) = get_json(&pooled, emulator.jwks_url().as_ref()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn registration_survives_a_dropped_connection_by_retrying() {
    let emulator = Emulator::start().await.expect("start");
    let (_, record) = minted_record(&emulator).await;
    emulator.drop_next_connections(1);
    let error = one_shot_task_client(&emulator)
        .register_task(&record)
        .await
        .expect_err("dropped");
    assert!(error.is_transient(), "{error:?}");
    emulator.drop_next_connections(1);
    quick_retry_task_client(&emulator)
        .register_task(&record)
        .await
        .expect("the retry gets through");
    assert_eq!(emulator.registrations(), 1);
}

#[tokio::test]
async fn rotated_key_is_published_beside_the_old_one_and_both_tokens_verify() {
    let emulator = Emulator::start().await.expect("start");
    let old_kid = emulator.current_kid();
    let old = emulator.mint().issue().expect("mint");
    // A verifier that may refetch at once on an unknown kid, so the rotation is seen immediately.
    let verifier = emulator
        .verifier_builder()
        .refetch_interval(Duration::ZERO)
        .build();
    verifier.verify(&old.token).await.expect("old token");
    assert_eq!(emulator.jwks_fetches(), 1);

    let new_kid = emulator.rotate_signing_key();
    assert_ne!(new_kid, old_kid);
    assert_eq!(emulator.current_kid(), new_kid);
    let new = emulator.mint().issue().expect("mint");
    assert_eq!(new.kid, new_kid);

    verifier
        .verify(&new.token)
        .await
        .expect("new token, after an unknown-kid refetch");
    assert_eq!(
        emulator.jwks_fetches(),
        2,
        "the unknown kid caused one refetch"
    );
    verifier
        .verify(&old.token)
        .await
        .expect("old token still valid");
    assert_eq!(emulator.jwks_fetches(), 2);

    let (_, body) = get_json(&fresh_connections(), emulator.jwks_url().as_ref()).await;
    let kids: Vec<&str> = body["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|key| key["kid"].as_str())
        .collect();
    assert_eq!(kids, [old_kid.as_str(), new_kid.as_str()]);

    let fresh = emulator.verifier();
    fresh.verify(&old.token).await.expect("old token");
    fresh.verify(&new.token).await.expect("new token");
}

#[tokio::test]
async fn default_verifier_does_not_refetch_for_a_rotated_kid_within_its_interval() {
    let emulator = Emulator::start().await.expect("start");
    let old = emulator.mint().issue().expect("mint");
    let verifier = emulator.verifier();
    verifier.verify(&old.token).await.expect("old token");
    emulator.rotate_signing_key();
    let new = emulator.mint().issue().expect("mint");
    let error = verifier
        .verify(&new.token)
        .await
        .expect_err("refetch rate-limited");
    // Not a verdict on the token: the refetch is only deferred.
    assert!(
        matches!(error, JwtError::KidNotYetKnown { .. }),
        "{error:?}"
    );
    assert!(error.is_transient());
    assert_eq!(emulator.jwks_fetches(), 1);
}
