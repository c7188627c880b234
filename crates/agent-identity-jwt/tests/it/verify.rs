//! Claim rules beyond the vectors: array audiences, nbf, leeway, keys, sizes and aliases.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_identity_jwt::{
    IdentityJwt, JwtError, KeyError, PlanType, SigningAlgorithm, StaticJwksSource, Verifier,
    insecure_decode_header, insecure_decode_unverified,
};
use serde_json::json;

use agent_identity_test_support::FixedClock;
use agent_identity_test_support::mint::{claims, claims_with, mint, mint_with_kid, now_secs};
use agent_identity_test_support::vectors::{audience, issuer, jwks_json};

fn verifier() -> Verifier {
    Verifier::builder(StaticJwksSource::from_json(jwks_json()).expect("JWKS")).build()
}

async fn verify(token: &str) -> Result<agent_identity_jwt::AgentIdentityRecord, JwtError> {
    verifier().verify(&IdentityJwt::new(token)).await
}

#[tokio::test]
async fn defaults_are_the_chatgpt_issuer_and_audience() {
    // The vectors use the production values, so the default verifier accepts a fresh token.
    assert_eq!(issuer(), agent_identity_jwt::DEFAULT_ISSUER);
    assert_eq!(audience(), agent_identity_jwt::DEFAULT_AUDIENCE);
    let record = verify(&mint(&claims())).await.expect("valid");
    assert_eq!(record.runtime_id().as_str(), "agent-123");
}

#[tokio::test]
async fn array_audience_containing_ours_is_accepted() {
    let token = mint(&claims_with("aud", json!(["other", audience()])));
    let record = verify(&token).await.expect("RFC 7519 allows an array aud");
    assert_eq!(record.audiences().len(), 2);
}

#[tokio::test]
async fn array_audience_without_ours_is_rejected() {
    let token = mint(&claims_with("aud", json!(["other", "another"])));
    let error = verify(&token).await.expect_err("not our audience");
    let JwtError::WrongAudience { expected, found } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(expected, audience());
    assert_eq!(found, &["other", "another"]);
    assert_eq!(
        error.to_string(),
        format!(
            "token audience [\"other\", \"another\"] does not include the expected \"{}\"",
            audience()
        )
    );
}

#[tokio::test]
async fn a_hostile_issuer_or_audience_is_shortened_in_the_error() {
    let long = "x".repeat(1_000);
    let token = mint(&claims_with("iss", json!(long)));
    let error = verify(&token).await.expect_err("not our issuer");
    assert!(error.to_string().len() < 400, "{error}");
    let many: Vec<String> = (0..20)
        .map(|n| format!("aud-{n}-{}", &long[..300]))
        .collect();
    let token = mint(&claims_with("aud", json!(many)));
    let error = verify(&token).await.expect_err("not our audience");
    let JwtError::WrongAudience { found, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(found.len(), 8);
    assert!(
        error.to_string().len() < 2_000,
        "{}",
        error.to_string().len()
    );
}

#[tokio::test]
async fn configured_issuer_and_audience_replace_the_defaults() {
    let token = mint(&claims_with("iss", json!("https://issuer.test")));
    let custom = Verifier::builder(StaticJwksSource::from_json(jwks_json()).expect("JWKS"))
        .issuer("https://issuer.test")
        .build();
    custom
        .verify(&IdentityJwt::new(&token))
        .await
        .expect("custom issuer");
    let error = verify(&token).await.expect_err("the default issuer");
    assert!(matches!(&error, JwtError::WrongIssuer { .. }), "{error:?}");
    assert_eq!(
        error.to_string(),
        format!(
            "token issuer is \"https://issuer.test\", expected \"{}\"",
            issuer()
        )
    );
}

#[tokio::test]
async fn expiry_honours_the_leeway() {
    let exp = now_secs() - 30;
    let token = mint(&claims_with("exp", json!(exp)));
    verify(&token)
        .await
        .expect("30 s past exp is inside the 60 s leeway");
    let strict = Verifier::builder(StaticJwksSource::from_json(jwks_json()).expect("JWKS"))
        .leeway(Duration::from_secs(10))
        .build();
    let error = strict
        .verify(&IdentityJwt::new(&token))
        .await
        .expect_err("outside a 10 s leeway");
    assert!(matches!(error, JwtError::Expired { expired_at, .. } if expired_at == exp));
    let message = error.to_string();
    assert!(message.starts_with("token expired at 20"), "{message}");
    assert!(
        message.ends_with(" ago)") && message.contains('T') && message.contains("Z ("),
        "{message}"
    );
}

#[tokio::test]
async fn expiry_is_judged_by_the_injected_clock() {
    let token = mint(&claims());
    let later = SystemTime::now() + Duration::from_secs(2 * 3600);
    let verifier = Verifier::builder(StaticJwksSource::from_json(jwks_json()).expect("JWKS"))
        .clock(Arc::new(FixedClock(later)))
        .build();
    let error = verifier
        .verify(&IdentityJwt::new(&token))
        .await
        .expect_err("expired by then");
    assert_eq!(error.kind(), "expired");
}

#[tokio::test]
async fn future_nbf_is_rejected_and_past_nbf_accepted() {
    let future = mint(&claims_with("nbf", json!(now_secs() + 600)));
    assert_eq!(
        verify(&future).await.expect_err("not yet valid").kind(),
        "not_yet_valid"
    );
    let past = mint(&claims_with("nbf", json!(now_secs() - 600)));
    let record = verify(&past).await.expect("valid since ten minutes ago");
    assert!(record.not_before().is_some());
}

#[tokio::test]
async fn times_beyond_the_year_9999_are_invalid_not_a_panic() {
    for claim in ["exp", "nbf", "iat"] {
        for value in [json!(253_402_300_800u64), json!(u64::MAX), json!(1e300)] {
            let token = mint(&claims_with(claim, value.clone()));
            let error = verify(&token).await.expect_err("out of range");
            assert!(
                matches!(error, JwtError::InvalidClaim { claim: name, .. } if name == claim),
                "{claim}={value}: {error:?}"
            );
            assert!(insecure_decode_unverified(&IdentityJwt::new(token)).is_err());
        }
    }
}

#[test]
fn the_year_9999_cap_applies_to_fractional_and_exponent_forms() {
    for claim in ["exp", "nbf", "iat"] {
        // 9.99e14 and 253402300800.5 parse as floats: past the cap all the same.
        for value in [json!(9.99e14), json!(253_402_300_800.5_f64), json!(2.6e11)] {
            let token = IdentityJwt::new(mint(&claims_with(claim, value.clone())));
            let error = insecure_decode_unverified(&token).expect_err("out of range");
            assert!(
                matches!(error, JwtError::InvalidClaim { claim: name, reason } if name == claim && reason.contains("9999")),
                "{claim}={value}: {error:?}"
            );
        }
    }
    // A fraction within range is still whole seconds.
    let token = IdentityJwt::new(mint(&claims_with("iat", json!(1_700_000_000.75_f64))));
    assert!(insecure_decode_unverified(&token).is_ok());
}

#[test]
fn a_huge_leeway_means_not_expired_rather_than_overflow() {
    let record = insecure_decode_unverified(&IdentityJwt::new(mint(&claims()))).expect("decodes");
    assert!(!record.is_expired_at(SystemTime::now(), Duration::MAX));
}

#[tokio::test]
async fn exp_is_required() {
    let token = mint(&claims_with("exp", serde_json::Value::Null));
    assert!(matches!(
        verify(&token).await,
        Err(JwtError::MissingClaim("exp"))
    ));
}

#[tokio::test]
async fn required_string_claims_are_checked_by_name() {
    for claim in [
        "agent_runtime_id",
        "agent_private_key",
        "account_id",
        "chatgpt_user_id",
    ] {
        let absent = mint(&claims_with(claim, serde_json::Value::Null));
        let error = verify(&absent).await.expect_err("absent");
        assert!(
            matches!(error, JwtError::MissingClaim(name) if name == claim),
            "{claim}: {error}"
        );
        let empty = mint(&claims_with(claim, json!("")));
        assert_eq!(
            verify(&empty).await.expect_err("empty").kind(),
            "missing_claim",
            "{claim}"
        );
        let mistyped = mint(&claims_with(claim, json!(42)));
        let error = verify(&mistyped).await.expect_err("mistyped");
        assert!(
            matches!(error, JwtError::InvalidClaim { claim: name, .. } if name == claim),
            "{claim}"
        );
    }
}

#[tokio::test]
async fn garbage_private_key_is_rejected_at_decode() {
    for (garbage, expected) in [
        ("not base64 at all!", KeyError::NotBase64),
        ("AAAA", KeyError::NotPkcs8("expected a SEQUENCE")),
    ] {
        let token = mint(&claims_with("agent_private_key", json!(garbage)));
        match verify(&token).await {
            Err(JwtError::InvalidPrivateKey(error)) => assert_eq!(error, expected),
            other => panic!("expected InvalidPrivateKey, got {other:?}"),
        }
    }
    // An RSA-shaped PKCS#8 (wrong algorithm OID) is refused as not Ed25519.
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[7u8; 32]);
    let x25519 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &der);
    let token = mint(&claims_with("agent_private_key", json!(x25519)));
    assert!(matches!(
        verify(&token).await,
        Err(JwtError::InvalidPrivateKey(KeyError::NotEd25519))
    ));
}

#[tokio::test]
async fn email_empty_or_absent_is_no_email() {
    let empty = verify(&mint(&claims_with("email", json!(""))))
        .await
        .expect("valid");
    assert_eq!(empty.email(), None);
    let absent = verify(&mint(&claims_with("email", serde_json::Value::Null)))
        .await
        .expect("valid");
    assert_eq!(absent.email(), None);
}

#[tokio::test]
async fn plan_aliases_fold_and_unknown_plans_are_kept() {
    for (raw, expected) in [
        ("hc", PlanType::Enterprise),
        ("education", PlanType::Edu),
        ("plus", PlanType::Plus),
        ("galaxy", PlanType::Unknown("galaxy".to_owned())),
    ] {
        let record = verify(&mint(&claims_with("plan_type", json!(raw))))
            .await
            .expect("valid");
        assert_eq!(record.plan(), Some(&expected), "{raw}");
    }
}

#[tokio::test]
async fn fedramp_flag_is_read() {
    let record = verify(&mint(&claims_with(
        "chatgpt_account_is_fedramp",
        json!(true),
    )))
    .await
    .expect("valid");
    assert!(record.is_fedramp());
    let mistyped = mint(&claims_with("chatgpt_account_is_fedramp", json!("yes")));
    assert_eq!(
        verify(&mistyped).await.expect_err("mistyped").kind(),
        "invalid_claim"
    );
}

#[tokio::test]
async fn oversized_token_is_refused_before_parsing() {
    let huge = "a".repeat(agent_identity_jwt::MAX_TOKEN_BYTES + 1);
    let error = verify(&huge).await.expect_err("too large");
    assert!(matches!(error, JwtError::TooLarge { len, .. } if len == huge.len()));
}

#[tokio::test]
async fn rs256_is_refused_when_configuration_allows_only_eddsa() {
    let verifier = Verifier::builder(StaticJwksSource::from_json(jwks_json()).expect("JWKS"))
        .algorithms([SigningAlgorithm::EdDsa])
        .build();
    let error = verifier
        .verify(&IdentityJwt::new(mint(&claims())))
        .await
        .expect_err("RS256 not allowed");
    assert_eq!(error.kind(), "algorithm_not_allowed");
}

#[tokio::test]
async fn algorithm_must_match_the_jwk_alg() {
    // The JWK says RS256; a PS256 token under the same kid is refused even when PS256 is allowed.
    let key = agent_identity_test_support::mint::encoding_key();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::PS256);
    header.kid = Some("shared-key-1".to_owned());
    let token = jsonwebtoken::encode(&header, &claims(), &key).expect("mint");
    let verifier = Verifier::builder(StaticJwksSource::from_json(jwks_json()).expect("JWKS"))
        .algorithms([SigningAlgorithm::Rs256, SigningAlgorithm::Ps256])
        .build();
    let error = verifier
        .verify(&IdentityJwt::new(token))
        .await
        .expect_err("alg mismatch");
    assert_eq!(error.kind(), "algorithm_not_allowed");
}

#[tokio::test]
async fn eddsa_tokens_verify_against_okp_keys() {
    // An Ed25519 JWKS key, and a token signed by it with alg EdDSA.
    let signer = agent_identity_jwt::AgentKey::generate().expect("key");
    let public = signer.public_key().expect("public");
    let x = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, public);
    let jwks =
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": x, "use": "sig"}]});
    let header = json!({"alg": "EdDSA", "kid": "ed-1", "typ": "JWT"});
    let b64 = |value: &serde_json::Value| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            value.to_string(),
        )
    };
    let signed = format!("{}.{}", b64(&header), b64(&claims()));
    let signature = signer.sign(signed.as_bytes()).expect("sign");
    let token = format!(
        "{signed}.{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, signature)
    );
    let verifier = Verifier::builder(StaticJwksSource::from_json(jwks.to_string()).expect("JWKS"))
        .algorithms([SigningAlgorithm::EdDsa])
        .build();
    verifier
        .verify(&IdentityJwt::new(&token))
        .await
        .expect("EdDSA token verifies");
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(verifier.verify(&IdentityJwt::new(tampered)).await.is_err());
}

#[tokio::test]
async fn unverified_decode_reads_claims_without_a_key_set() {
    let token = mint_with_kid(&claims(), Some("whatever"));
    let record = insecure_decode_unverified(&IdentityJwt::new(token)).expect("shape is fine");
    assert_eq!(record.account_id().as_str(), "account-1");
    let error = insecure_decode_unverified(&IdentityJwt::new("abc.def")).expect_err("two segments");
    assert_eq!(error.kind(), "malformed");
}

#[test]
fn record_times_are_exposed_as_system_times() {
    let token = mint(&claims_with("exp", json!(4_000_000_000u64)));
    let record = insecure_decode_unverified(&IdentityJwt::new(token)).expect("decodes");
    assert_eq!(
        record.expires_at(),
        UNIX_EPOCH + Duration::from_secs(4_000_000_000)
    );
    assert!(!record.is_expired_at(SystemTime::now(), Duration::from_secs(60)));
    assert!(record.is_expired_at(
        UNIX_EPOCH + Duration::from_secs(4_000_000_060),
        Duration::from_secs(60)
    ));
}

#[tokio::test]
async fn the_split_verification_agrees_with_verify() {
    let verifier = verifier();
    let token = IdentityJwt::new(mint(&claims()));
    let pending = verifier.check_locally(&token).expect("local checks pass");
    assert_eq!(
        pending.insecure_unverified_record().runtime_id().as_str(),
        "agent-123"
    );
    let record = verifier.check_signature(pending).await.expect("signed");
    let verified = verifier.verify(&token).await.expect("verifies");
    assert_eq!(record.token(), verified.token());
    assert_eq!(record.expires_at(), verified.expires_at());
}

#[tokio::test]
async fn local_checks_refuse_what_needs_no_key_and_the_signature_check_the_rest() {
    let verifier = verifier();
    let expired = IdentityJwt::new(mint(&claims_with("exp", json!(now_secs() - 3600))));
    assert!(matches!(
        verifier.check_locally(&expired),
        Err(JwtError::Expired { .. })
    ));
    let text = mint(&claims());
    let (signed, signature) = text.rsplit_once('.').expect("three segments");
    let middle = signature.len() / 2;
    let flipped = if &signature[middle..=middle] == "A" {
        "B"
    } else {
        "A"
    };
    let forged = IdentityJwt::new(format!(
        "{signed}.{}{flipped}{}",
        &signature[..middle],
        &signature[middle + 1..]
    ));
    let pending = verifier.check_locally(&forged).expect("locally fine");
    assert!(matches!(
        verifier.check_signature(pending).await,
        Err(JwtError::BadSignature)
    ));
}

#[test]
fn a_fingerprint_is_the_tokens_sha256_in_hex() {
    assert_eq!(
        IdentityJwt::new("abc").fingerprint(),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    let token = mint(&claims());
    let fingerprint = IdentityJwt::new(token.as_str()).fingerprint();
    assert_eq!(fingerprint.len(), 64);
    assert!(!fingerprint.contains(&token[..20]));
    assert_ne!(
        fingerprint,
        IdentityJwt::new(format!("{token}x")).fingerprint()
    );
}

#[test]
fn the_unverified_header_names_the_alg_and_kid_the_token_claims() {
    let header = insecure_decode_header(&IdentityJwt::new(mint_with_kid(&claims(), Some("k-9"))))
        .expect("header");
    assert_eq!(header.alg(), Some("RS256"));
    assert_eq!(header.kid(), Some("k-9"));
    let without =
        insecure_decode_header(&IdentityJwt::new(mint_with_kid(&claims(), None))).expect("header");
    assert_eq!(without.kid(), None);
    assert!(matches!(
        insecure_decode_header(&IdentityJwt::new("not-a-token")),
        Err(JwtError::Malformed(_))
    ));
}

#[tokio::test]
async fn key_ids_lists_the_usable_keys_of_the_key_set() {
    let kids = verifier().key_ids().await.expect("kids");
    assert!(
        kids.contains(&agent_identity_test_support::mint::KID.to_owned()),
        "{kids:?}"
    );
    let mut sorted = kids.clone();
    sorted.sort();
    assert_eq!(kids, sorted);
    // A set with no usable key gives no kids, but an error saying the keys cannot be had.
    let empty = Verifier::builder(
        StaticJwksSource::from_json(r#"{"keys":[{"kty":"oct","kid":"x"}]}"#).expect("JWKS"),
    )
    .build();
    assert!(matches!(
        empty.key_ids().await,
        Err(JwtError::KeySourceUnavailable(_))
    ));
}
