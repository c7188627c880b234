//! JWT benchmarks: verifying an agent identity token with a warm key cache, against a bare
//! `jsonwebtoken::decode` with a prebuilt key and the same validation.

use std::error::Error;

use agent_identity_jwt::{IdentityJwt, StaticJwksSource, Verifier};
use agent_identity_test_support::mint::{KID, claims_with, mint, now_secs};
use agent_identity_test_support::vectors::vectors;
use agent_identity_tests::bench::{measure_pair_async, report};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

/// 1.10: the target for a warm verification against a bare decode.
const VERIFY_WARM_TARGET: f64 = 1.10;

/// 60 s: the verifier's default leeway (wire-format §1), given to the baseline too.
const LEEWAY_SECS: u64 = 60;

fn main() -> Result<(), Box<dyn Error>> {
    let jwt = &vectors().jwt;
    let issuer = jwt.issuer.as_str();
    let audience = jwt.audience.as_str();
    // Every claim of wire-format §1, and an `nbf`, which the verifier then checks too.
    let token = mint(&claims_with("nbf", json!(now_secs())));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    let jwks = serde_json::to_string(&jwt.jwks)?;
    let verifier = Verifier::builder(StaticJwksSource::from_json(jwks)?)
        .issuer(issuer)
        .audience(audience)
        .build();
    let identity = IdentityJwt::new(token.clone());
    // Warms the key cache, and proves the token verifies: a bench of a failing path is no bench.
    rt.block_on(verifier.verify(&identity))?;

    let key = rsa_key(&jwt.jwks)?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.leeway = LEEWAY_SECS;
    // The verifier enforces `nbf` when present, and the minted token carries one.
    validation.validate_nbf = true;
    jsonwebtoken::decode::<Value>(&token, &key, &validation)?;

    let (ours, baseline) = measure_pair_async(
        &rt,
        "jwt_verify_warm",
        || verifier.verify(&identity),
        || async { jsonwebtoken::decode::<Value>(&token, &key, &validation) },
    );
    report(
        "jwt_verify_warm",
        &ours,
        "jsonwebtoken::decode",
        &baseline,
        VERIFY_WARM_TARGET,
    );
    Ok(())
}

/// The baseline's decoding key, built once from the JWK under [`KID`].
fn rsa_key(jwks: &Value) -> Result<DecodingKey, Box<dyn Error>> {
    let keys = jwks["keys"]
        .as_array()
        .ok_or("jwt.jwks.keys is not an array")?;
    let jwk = keys
        .iter()
        .find(|key| key["kid"] == KID)
        .ok_or("no JWK with kid shared-key-1")?;
    Ok(DecodingKey::from_rsa_components(
        text(jwk, "n")?,
        text(jwk, "e")?,
    )?)
}

/// A string field of a JSON object, or an error naming the field.
fn text<'a>(value: &'a Value, field: &str) -> Result<&'a str, Box<dyn Error>> {
    value[field]
        .as_str()
        .ok_or_else(|| format!("vectors: {field} is not a string").into())
}
