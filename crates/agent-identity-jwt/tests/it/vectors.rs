//! Every `jwt.cases` entry of the shared vectors gives its expected outcome.

use agent_identity_jwt::{IdentityJwt, PlanType, StaticJwksSource, Verifier};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

use agent_identity_test_support::vectors::{audience, first_vector, issuer, jwks_json, vectors};

/// The error each rejected case must give; a case not listed here must still be rejected.
const EXPECTED_KINDS: &[(&str, &str)] = &[
    ("expired", "expired"),
    ("wrong_audience", "wrong_audience"),
    ("wrong_issuer", "wrong_issuer"),
    ("missing_issuer", "missing_claim"),
    ("missing_audience", "missing_claim"),
    ("unknown_kid", "untrusted_kid"),
    ("missing_kid", "missing_kid"),
    ("signed_by_other_key", "bad_signature"),
    ("tampered_payload", "bad_signature"),
    ("alg_none", "algorithm_not_allowed"),
    ("hs256_key_confusion", "algorithm_not_allowed"),
    ("missing_runtime_id", "missing_claim"),
    ("not_a_jwt", "malformed"),
    ("empty", "malformed"),
];

fn verifier() -> Verifier {
    Verifier::builder(StaticJwksSource::from_json(jwks_json()).expect("vector JWKS parses"))
        .issuer(issuer())
        .audience(audience())
        .build()
}

fn payload_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload segment");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url"))
        .expect("JSON payload")
}

#[tokio::test]
async fn every_vector_case_gives_its_expected_outcome() {
    let cases = &vectors().jwt.cases;
    assert!(cases.len() >= 15, "the vectors file lost cases");
    for case in cases {
        let name = case.name.as_str();
        let token = case.jwt.as_str();
        // A fresh verifier per case: an unknown kid met right after another case's fetch would be
        // deferred (transient) rather than judged.
        let outcome = verifier().verify(&IdentityJwt::new(token)).await;
        match case.expect.as_str() {
            "ok" => {
                let record =
                    outcome.unwrap_or_else(|error| panic!("case {name}: rejected: {error}"));
                let claims = payload_of(token);
                assert_eq!(
                    record.runtime_id().as_str(),
                    claims["agent_runtime_id"],
                    "case {name}"
                );
                assert_eq!(
                    record.account_id().as_str(),
                    claims["account_id"],
                    "case {name}"
                );
                assert_eq!(
                    record.chatgpt_user_id(),
                    claims["chatgpt_user_id"],
                    "case {name}"
                );
                assert_eq!(record.email(), claims["email"].as_str(), "case {name}");
                assert_eq!(
                    record.plan().map(PlanType::as_str),
                    claims["plan_type"].as_str(),
                    "case {name}"
                );
                assert_eq!(
                    record.is_fedramp(),
                    claims["chatgpt_account_is_fedramp"],
                    "case {name}"
                );
                assert_eq!(record.issuer().as_str(), claims["iss"], "case {name}");
                assert_eq!(record.expires_at_unix(), claims["exp"], "case {name}");
                assert_eq!(record.token().expose_secret(), token, "case {name}");
                let public = record.key().public_key().expect("vector key signs");
                let expected_public = first_vector().public_key_raw_base64.as_str();
                assert_eq!(
                    base64::engine::general_purpose::STANDARD.encode(public),
                    expected_public,
                    "case {name}"
                );
            }
            "reject" => {
                let error = match outcome {
                    Ok(_) => panic!("case {name}: accepted, expected a rejection ({})", case.why),
                    Err(error) => error,
                };
                assert!(
                    !error.is_transient(),
                    "case {name}: a verdict on the token is permanent"
                );
                if let Some((_, kind)) = EXPECTED_KINDS.iter().find(|(case, _)| *case == name) {
                    assert_eq!(error.kind(), *kind, "case {name}: {error}");
                }
            }
            other => panic!("case {name}: unknown expectation {other}"),
        }
    }
}

#[tokio::test]
async fn every_named_expectation_matches_a_vector_case() {
    // Guards the table above against drifting from the file.
    let names: Vec<&str> = vectors()
        .jwt
        .cases
        .iter()
        .map(|case| case.name.as_str())
        .collect();
    for (case, _) in EXPECTED_KINDS {
        assert!(names.contains(case), "no vector case named {case}");
    }
}
