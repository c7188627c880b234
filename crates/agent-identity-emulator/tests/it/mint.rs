//! Minting: default claims, overrides, lifetimes, kids, and what the emulator records.

use std::time::{Duration, SystemTime};

use agent_identity_emulator::Emulator;
use agent_identity_jwt::{JwtError, PlanType, insecure_decode_unverified};
use serde_json::json;

#[tokio::test]
async fn minted_token_carries_the_requested_claims_and_verifies() {
    let emulator = Emulator::start().await.expect("start");
    let minted = emulator
        .mint()
        .runtime_id("agent-1")
        .account_id("acct-9")
        .chatgpt_user_id("user-9")
        .email(Some("dev@example.com".to_owned()))
        .plan_type("hc")
        .fedramp(true)
        .issue()
        .expect("mint");
    assert_eq!(minted.runtime_id.as_str(), "agent-1");
    assert_eq!(minted.kid, emulator.current_kid());
    let record = emulator
        .verifier()
        .verify(&minted.token)
        .await
        .expect("verify");
    assert_eq!(record.runtime_id().as_str(), "agent-1");
    assert_eq!(record.account_id().as_str(), "acct-9");
    assert_eq!(record.chatgpt_user_id(), "user-9");
    assert_eq!(record.email(), Some("dev@example.com"));
    assert_eq!(record.plan(), Some(&PlanType::Enterprise));
    assert!(record.is_fedramp());
    assert_eq!(record.issuer().as_str(), emulator.issuer());
    assert_eq!(record.key().public_key().ok(), minted.key.public_key().ok());
}

#[tokio::test]
async fn defaults_are_rs256_a_random_runtime_an_hour_of_life_and_the_chatgpt_issuer() {
    let emulator = Emulator::start().await.expect("start");
    assert_eq!(emulator.issuer(), agent_identity_jwt::DEFAULT_ISSUER);
    assert_eq!(emulator.audience(), agent_identity_jwt::DEFAULT_AUDIENCE);
    assert_eq!(
        emulator.algorithm(),
        agent_identity_jwt::SigningAlgorithm::Rs256
    );
    let first = emulator.mint().issue().expect("mint");
    let second = emulator.mint().issue().expect("mint");
    assert!(first.runtime_id.as_str().starts_with("agent-"));
    assert_ne!(first.runtime_id, second.runtime_id);
    let record = insecure_decode_unverified(&first.token).expect("decode");
    assert_eq!(record.account_id().as_str(), "account-emulator");
    assert_eq!(record.plan(), Some(&PlanType::Pro));
    assert_eq!(record.email(), None);
    assert!(!record.is_fedramp());
    let lifetime = record
        .expires_at()
        .duration_since(SystemTime::now())
        .expect("in the future");
    assert!(lifetime > Duration::from_secs(3590) && lifetime <= Duration::from_secs(3600));
}

#[tokio::test]
async fn custom_issuer_and_audience_are_minted_and_trusted() {
    let emulator = Emulator::builder()
        .issuer("https://issuer.test")
        .audience("my-app")
        .start()
        .await
        .expect("start");
    let minted = emulator.mint().issue().expect("mint");
    let record = emulator
        .verifier()
        .verify(&minted.token)
        .await
        .expect("verify");
    assert_eq!(record.issuer().as_str(), "https://issuer.test");
    // A verifier with the ChatGPT defaults refuses it.
    let default_verifier = agent_identity_jwt::Verifier::builder(
        agent_identity_jwt::HttpJwksSource::new(emulator.jwks_url()),
    )
    .algorithms([emulator.algorithm()])
    .build();
    let error = default_verifier
        .verify(&minted.token)
        .await
        .expect_err("wrong issuer");
    assert!(matches!(error, JwtError::WrongIssuer { .. }), "{error:?}");
}

#[tokio::test]
async fn expired_and_not_yet_valid_tokens_are_rejected_by_the_verifier() {
    let emulator = Emulator::start().await.expect("start");
    let verifier = emulator.verifier();
    let expired = emulator
        .mint()
        .expires_at(SystemTime::now() - Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let error = verifier.verify(&expired.token).await.expect_err("expired");
    assert!(matches!(error, JwtError::Expired { .. }), "{error:?}");

    let early = emulator
        .mint()
        .not_before(SystemTime::now() + Duration::from_secs(3600))
        .issue()
        .expect("mint");
    let error = verifier
        .verify(&early.token)
        .await
        .expect_err("not yet valid");
    assert!(matches!(error, JwtError::NotYetValid { .. }), "{error:?}");

    let short = emulator
        .mint()
        .lifetime(Duration::from_secs(5))
        .issue()
        .expect("mint");
    let record = verifier.verify(&short.token).await.expect("still valid");
    assert!(record.expires_at() <= SystemTime::now() + Duration::from_secs(5));
}

#[tokio::test]
async fn claim_overrides_and_removals_reach_the_token() {
    let emulator = Emulator::start().await.expect("start");
    let verifier = emulator.verifier();
    let missing = emulator
        .mint()
        .without_claim("chatgpt_user_id")
        .issue()
        .expect("mint");
    let error = verifier
        .verify(&missing.token)
        .await
        .expect_err("missing claim");
    assert!(matches!(error, JwtError::MissingClaim(_)), "{error:?}");

    let wrong_audience = emulator
        .mint()
        .claim("aud", json!(["someone-else"]))
        .issue()
        .expect("mint");
    let error = verifier
        .verify(&wrong_audience.token)
        .await
        .expect_err("audience");
    assert!(matches!(error, JwtError::WrongAudience { .. }), "{error:?}");

    let extra = emulator
        .mint()
        .claim("custom", json!({"a": 1}))
        .issue()
        .expect("mint");
    verifier
        .verify(&extra.token)
        .await
        .expect("unknown claims are ignored");
}

#[tokio::test]
async fn token_with_an_unknown_kid_is_untrusted() {
    let emulator = Emulator::start().await.expect("start");
    let minted = emulator.mint().kid("not-published").issue().expect("mint");
    assert_eq!(minted.kid, "not-published");
    let error = emulator
        .verifier()
        .verify(&minted.token)
        .await
        .expect_err("unknown kid");
    assert!(matches!(error, JwtError::UntrustedKid { .. }), "{error:?}");
}

#[tokio::test]
async fn minting_a_known_runtime_again_keeps_its_key() {
    let emulator = Emulator::start().await.expect("start");
    let first = emulator
        .mint()
        .runtime_id("agent-same")
        .issue()
        .expect("mint");
    let second = emulator
        .mint()
        .runtime_id("agent-same")
        .issue()
        .expect("mint");
    assert_eq!(first.key.public_key().ok(), second.key.public_key().ok());
    let verifier = emulator.verifier();
    let record = verifier.verify(&first.token).await.expect("verify");
    emulator
        .task_client()
        .register_task(&record)
        .await
        .expect("the first token still registers");

    let replaced_key = agent_identity_jwt::AgentKey::generate().expect("key");
    let third = emulator
        .mint()
        .runtime_id("agent-same")
        .agent_key(replaced_key.clone())
        .issue()
        .expect("mint");
    assert_eq!(third.key.public_key().ok(), replaced_key.public_key().ok());
}

#[tokio::test]
async fn minted_identity_debug_redacts_the_token_and_the_key() {
    let emulator = Emulator::start().await.expect("start");
    let minted = emulator.mint().issue().expect("mint");
    let debug = format!("{minted:?}");
    let token = minted.token.expose_secret();
    assert!(!debug.contains(token));
    assert!(!debug.contains(&token[..20]));
    assert!(!debug.contains(minted.key.to_pkcs8_base64().as_str()));
    assert!(debug.contains(minted.runtime_id.as_str()));
    let request = format!(
        "{:?}",
        emulator
            .mint()
            .claim("agent_private_key", json!("SECRETVALUE"))
    );
    assert!(!request.contains("SECRETVALUE"));
}

#[tokio::test]
async fn a_lifetime_that_overflows_the_clock_is_an_error_not_exp_equal_to_iat() {
    let emulator = Emulator::start().await.expect("start");
    let error = emulator
        .mint()
        .lifetime(Duration::MAX)
        .issue()
        .expect_err("no exp can be written");
    assert!(
        matches!(
            error,
            agent_identity_emulator::EmulatorError::LifetimeOverflow
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the token lifetime is too long: its expiry overflows"
    );
}
