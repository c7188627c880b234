//! One crypto backend: with the feature set the whole workspace resolves to, verification works.
//!
//! jsonwebtoken panics on first use when both of its backends (`aws_lc_rs`, `rust_crypto`) are
//! enabled, or neither. Cargo unifies features across everything built together, so a crate
//! added anywhere in the workspace could flip that; this suite is built with all of them.

use agent_identity_jwt::{IdentityJwt, StaticJwksSource, Verifier};
use agent_identity_test_support::vectors::{jwks_json, vectors};

#[tokio::test]
async fn verification_works_with_the_workspace_feature_set() {
    let jwks = jwks_json();
    let verifier = Verifier::builder(StaticJwksSource::from_json(jwks).expect("JWKS")).build();
    let cases = &vectors().jwt.cases;
    let valid = cases
        .iter()
        .find(|case| case.expect == "ok")
        .expect("an ok case");
    let record = verifier
        .verify(&IdentityJwt::new(valid.jwt.as_str()))
        .await
        .expect("the vector verifies under the unified feature set");
    assert_eq!(record.runtime_id().as_str(), "agent-123");
    // The HMAC key-confusion vector is refused for the right reason, not by a backend panic.
    let confused = cases
        .iter()
        .find(|case| case.name == "hs256_key_confusion")
        .expect("case");
    let error = verifier
        .verify(&IdentityJwt::new(confused.jwt.as_str()))
        .await
        .expect_err("refused");
    assert_eq!(error.kind(), "algorithm_not_allowed");
}
