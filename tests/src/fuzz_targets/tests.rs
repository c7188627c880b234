//! The fixed setup the targets share is what it claims to be, so the targets reach deep code.

use super::*;

#[test]
fn the_valid_vector_token_verifies_with_the_targets_verifier() {
    let record = runtime()
        .block_on(verifier(vector_jwks().clone()).verify_str(VALID_VECTOR_TOKEN))
        .expect("the valid vector verifies at the targets' fixed time");
    assert_eq!(record.runtime_id().as_str(), VECTOR_RUNTIME_ID);
}

#[test]
fn the_vector_assertion_verifies_with_the_targets_lookup() {
    let key = vector_key();
    let public = key.public_key().expect("a public key");
    let header = AgentSigner::new(key.clone(), VECTOR_RUNTIME_ID)
        .authorization_header(&TaskId::new(VECTOR_TASK_ID), at(VECTOR_TIMESTAMP_UNIX))
        .expect("the agent signs");
    let lookup = (
        |runtime: &str| (runtime == VECTOR_RUNTIME_ID).then_some(public),
        |_: &str, task: &str| task == VECTOR_TASK_ID,
    );
    verify_assertion(&header, &lookup, at(VECTOR_TIMESTAMP_UNIX), DEFAULT_SKEW)
        .expect("the vectors' assertion verifies at the vectors' time");
}

#[test]
fn every_target_accepts_empty_and_arbitrary_input() {
    for (_, body) in TARGETS {
        body(b"");
        body(&[0xff, 0x00, b'.', b'{']);
    }
}

#[test]
fn targets_are_found_by_name() {
    assert!(target("jwt_compact").is_some());
    assert!(target("no_such_target").is_none());
}
