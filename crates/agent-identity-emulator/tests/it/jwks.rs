//! The JWKS endpoint: key shapes for both algorithms, caching headers, URL helpers, counting.

use agent_identity_emulator::Emulator;
use agent_identity_jwt::{SigningAlgorithm, jwks_url_for_base, normalize_chatgpt_base_url};

use crate::support::{fresh_connections, get_json};

#[tokio::test]
async fn jwks_publishes_the_ed25519_signing_key_with_cache_control() {
    let emulator = Emulator::builder()
        .algorithm(SigningAlgorithm::EdDsa)
        .start()
        .await
        .expect("start");
    let response = fresh_connections()
        .get(emulator.jwks_url())
        .send()
        .await
        .expect("jwks");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["cache-control"].to_str().expect("ascii"),
        "public, max-age=300"
    );
    let body: serde_json::Value =
        serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    let keys = body["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["kid"], emulator.current_kid().as_str());
    assert_eq!(
        key["x"].as_str().expect("x").len(),
        43,
        "32 bytes of unpadded base64url"
    );
    assert!(key.get("d").is_none(), "never the private part");
    assert_eq!(emulator.jwks_fetches(), 1);
}

#[tokio::test]
async fn rs256_emulator_publishes_an_rsa_key_and_its_tokens_verify() {
    let emulator = Emulator::builder()
        .algorithm(SigningAlgorithm::Rs256)
        .start()
        .await
        .expect("start");
    assert_eq!(emulator.algorithm(), SigningAlgorithm::Rs256);
    let (_, body) = get_json(&fresh_connections(), emulator.jwks_url().as_ref()).await;
    let key = &body["keys"][0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["e"], "AQAB");
    assert_eq!(
        key["n"].as_str().expect("n").len(),
        342,
        "2048 bits of unpadded base64url"
    );
    assert!(key.get("d").is_none(), "never the private part");

    let minted = emulator.mint().issue().expect("mint");
    let header = minted
        .token
        .expose_secret()
        .split('.')
        .next()
        .expect("header");
    assert!(
        header.starts_with("eyJhbGciOiJSUzI1NiIs"),
        "alg RS256 first"
    );
    let record = emulator
        .verifier()
        .verify(&minted.token)
        .await
        .expect("verify");
    assert_eq!(record.runtime_id(), &minted.runtime_id);
}

#[tokio::test]
async fn chatgpt_base_url_leads_to_the_jwks_url() {
    let emulator = Emulator::start().await.expect("start");
    let base = emulator.chatgpt_base_url().to_string();
    assert_eq!(jwks_url_for_base(&base), emulator.jwks_url().to_string());
    assert_eq!(normalize_chatgpt_base_url(&base), base);
    let root = emulator.base_url();
    assert_eq!(root.path(), "/");
    assert!(root.as_str().starts_with("http://127.0.0.1:"));
    assert_eq!(
        emulator.chatgpt_base_url(),
        root.join("backend-api").expect("url")
    );
    assert_eq!(
        emulator.authapi_base_url(),
        root.join("api/accounts").expect("url")
    );
}

#[tokio::test]
async fn every_jwks_request_is_counted() {
    let emulator = Emulator::start().await.expect("start");
    let client = fresh_connections();
    for expected in 1..=3 {
        get_json(&client, emulator.jwks_url().as_ref()).await;
        assert_eq!(emulator.jwks_fetches(), expected);
    }
    // A verifier caches: many verifications, one fetch.
    let minted = emulator.mint().issue().expect("mint");
    let verifier = emulator.verifier();
    for _ in 0..5 {
        verifier.verify(&minted.token).await.expect("verify");
    }
    assert_eq!(emulator.jwks_fetches(), 4);
}
