//! JWT benchmarks: verifying an agent identity token with a warm key cache, against a bare
//! `jsonwebtoken::decode` with a prebuilt key and the same validation.

use std::error::Error;
use std::time::{SystemTime, UNIX_EPOCH};

use agent_identity_jwt::{IdentityJwt, StaticJwksSource, Verifier};
use agent_identity_tests::bench::{measure_pair_async, report};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

/// 1.10: issue 2's target for a warm verification against a bare decode.
const VERIFY_WARM_TARGET: f64 = 1.10;

/// 60 s: the verifier's default leeway (wire-format §1), given to the baseline too.
const LEEWAY_SECS: u64 = 60;

/// The key id of the vectors' only signing key.
const KID: &str = "shared-key-1";

fn main() -> Result<(), Box<dyn Error>> {
    let vectors = read_vectors()?;
    let jwt = &vectors["jwt"];
    let issuer = text(jwt, "issuer")?;
    let audience = text(jwt, "audience")?;
    let token = mint(&vectors, issuer, audience)?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;

    let jwks = serde_json::to_string(&jwt["jwks"])?;
    let verifier = Verifier::builder(StaticJwksSource::from_json(jwks)?)
        .issuer(issuer)
        .audience(audience)
        .build();
    let identity = IdentityJwt::new(token.clone());
    // Warms the key cache, and proves the token verifies: a bench of a failing path is no bench.
    rt.block_on(verifier.verify(&identity))?;

    let key = rsa_key(jwt)?;
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

/// Reads the shared test vectors, at run time so the bench binary does not embed them.
fn read_vectors() -> Result<Value, Box<dyn Error>> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-data/agent-identity-vectors.json"
    );
    let text = std::fs::read_to_string(path).map_err(|error| format!("{path}: {error}"))?;
    Ok(serde_json::from_str(&text)?)
}

/// Mints a valid token with every claim of wire-format §1, expiring in an hour, signed with the
/// vectors' RSA key under [`KID`].
fn mint(vectors: &Value, issuer: &str, audience: &str) -> Result<String, Box<dyn Error>> {
    let ed25519 = &vectors["ed25519"][0];
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = json!({
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + 60 * 60,
        "agent_runtime_id": text(ed25519, "agent_runtime_id")?,
        "agent_private_key": text(ed25519, "private_key_pkcs8_base64")?,
        "account_id": "account-1",
        "chatgpt_user_id": "user-1",
        "email": "user@example.com",
        "plan_type": "pro",
        "chatgpt_account_is_fedramp": false,
    });
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    let pem = text(&vectors["jwt"], "rsa_private_key_pem_for_minting")?;
    let key = EncodingKey::from_rsa_pem(pem.as_bytes())?;
    Ok(jsonwebtoken::encode(&header, &claims, &key)?)
}

/// The baseline's decoding key, built once from the JWK under [`KID`].
fn rsa_key(jwt: &Value) -> Result<DecodingKey, Box<dyn Error>> {
    let keys = jwt["jwks"]["keys"]
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
