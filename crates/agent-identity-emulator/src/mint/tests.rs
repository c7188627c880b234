//! Unit tests for minting: the claim set, overrides and removals, and time conversion.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_identity_jwt::SigningAlgorithm;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::{MintRequest, unix_seconds};
use crate::state::{Config, RegistrationForm, Shared};

fn shared() -> Arc<Shared> {
    Arc::new(
        Shared::new(
            Config {
                issuer: "https://issuer.test".into(),
                audience: "aud-test".into(),
                algorithm: SigningAlgorithm::EdDsa,
                assertion_skew: Duration::from_secs(300),
            },
            RegistrationForm::default(),
        )
        .expect("state"),
    )
}

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("base64url")).expect("json")
}

#[test]
fn default_claims_are_the_wire_format_set() {
    let state = shared();
    let minted = MintRequest::new(&state).issue().expect("mint");
    let claims = payload(minted.token.expose_secret());
    let mut names: Vec<&str> = claims
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "account_id",
            "agent_private_key",
            "agent_runtime_id",
            "aud",
            "chatgpt_account_is_fedramp",
            "chatgpt_user_id",
            "exp",
            "iat",
            "iss",
            "plan_type",
        ]
    );
    assert_eq!(claims["iss"], "https://issuer.test");
    assert_eq!(claims["aud"], "aud-test");
    assert_eq!(claims["agent_runtime_id"], minted.runtime_id.as_str());
    assert_eq!(
        claims["agent_private_key"],
        minted.key.to_pkcs8_base64().as_str()
    );
    let iat = claims["iat"].as_i64().expect("iat");
    assert_eq!(claims["exp"].as_i64().expect("exp") - iat, 3600);
    assert_eq!(
        state.public_key(minted.runtime_id.as_str()),
        minted.key.public_key().ok()
    );
}

#[test]
fn overrides_apply_last_and_in_order() {
    let state = shared();
    let minted = MintRequest::new(&state)
        .email(Some("a@b.c".into()))
        .claim("email", json!("x@y.z"))
        .claim("extra", json!([1, 2]))
        .without_claim("extra")
        .without_claim("plan_type")
        .claim("iss", json!("other"))
        .not_before(UNIX_EPOCH + Duration::from_secs(1_000))
        .expires_at(UNIX_EPOCH + Duration::from_secs(2_000))
        .issue()
        .expect("mint");
    let claims = payload(minted.token.expose_secret());
    assert_eq!(claims["email"], "x@y.z");
    assert_eq!(claims["iss"], "other");
    assert!(claims.get("extra").is_none());
    assert!(claims.get("plan_type").is_none());
    assert_eq!(claims["nbf"], 1_000);
    assert_eq!(claims["exp"], 2_000);
}

#[test]
fn unix_seconds_handles_both_sides_of_the_epoch() {
    assert_eq!(unix_seconds(UNIX_EPOCH), 0);
    assert_eq!(unix_seconds(UNIX_EPOCH + Duration::from_secs(90)), 90);
    assert_eq!(unix_seconds(UNIX_EPOCH - Duration::from_secs(90)), -90);
    let now = unix_seconds(SystemTime::now());
    assert!(now > 1_700_000_000);
}
