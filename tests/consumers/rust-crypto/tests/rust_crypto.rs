//! Verification works when a dependency enables jsonwebtoken's `rust_crypto` beside `aws_lc_rs`.
//!
//! With both features jsonwebtoken cannot choose a provider from its features, and without the
//! verifier installing one, the first signature check panics.

use agent_identity_jwt::{IdentityJwt, StaticJwksSource, Verifier};
use serde_json::Value;

/// Compiles only when `rust_crypto` is on: the premise of this test, checked by the compiler.
#[allow(dead_code, reason = "only its type-checking matters")]
static RUST_CRYPTO_IS_ENABLED: &jsonwebtoken::crypto::CryptoProvider =
    &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER;

fn vectors() -> Value {
    let text = include_str!("../../../../test-data/agent-identity-vectors.json");
    serde_json::from_str(text).expect("vectors are JSON")
}

#[tokio::test]
async fn verifying_with_both_jsonwebtoken_backends_enabled_does_not_panic() {
    let vectors = vectors();
    let jwks = vectors["jwt"]["jwks"].to_string();
    let verifier = Verifier::builder(StaticJwksSource::from_json(jwks).expect("JWKS")).build();
    let cases = vectors["jwt"]["cases"].as_array().expect("cases");
    let valid = cases
        .iter()
        .find(|case| case["expect"] == "ok")
        .expect("an ok case");
    let record = verifier
        .verify(&IdentityJwt::new(valid["jwt"].as_str().expect("jwt")))
        .await
        .expect("verifies");
    assert_eq!(record.runtime_id().as_str(), "agent-123");
    let tampered = valid["jwt"].as_str().expect("jwt").replace('.', ".x");
    assert!(verifier.verify(&IdentityJwt::new(tampered)).await.is_err());
}
