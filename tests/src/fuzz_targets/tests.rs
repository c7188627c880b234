//! The fixed setup the targets share is what it claims to be, so the targets reach deep code.

use super::*;

#[test]
fn the_valid_vector_token_verifies_with_the_targets_verifier() {
    let record = runtime()
        .block_on(verifier(vector_jwks().clone()).verify_str(valid_vector_token()))
        .expect("the valid vector verifies at the targets' fixed time");
    assert_eq!(record.runtime_id().as_str(), vector_runtime_id());
}

#[test]
fn the_vector_assertion_verifies_with_the_targets_lookup() {
    let key = vector_key();
    let public = key.public_key().expect("a public key");
    let header = AgentSigner::new(key.clone(), vector_runtime_id())
        .authorization_header(&TaskId::new(vector_task_id()), vector_time())
        .expect("the agent signs");
    let lookup = (
        |runtime: &str| (runtime == vector_runtime_id()).then_some(public),
        |_: &str, task: &str| task == vector_task_id(),
    );
    verify_assertion(&header, &lookup, vector_time(), DEFAULT_SKEW)
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

#[test]
fn a_cache_holding_the_targets_binding_yields_its_task_and_key_set() {
    let document = serde_json::json!({
        "version": 1,
        "tasks": [{
            "runtime_id": CACHE_RUNTIME_ID,
            "token_sha256": CACHE_TOKEN_SHA256,
            "authapi_base": CACHE_AUTHAPI_BASE,
            "task_id": "task-123",
            "registered_at": 1_777_291_200_u64,
        }],
        "key_sets": [{
            "url": CACHE_JWKS_URL,
            "fetched_at": 1_777_291_200_u64,
            "jwks": vectors()["jwt"]["jwks"],
        }],
    });
    let home = tempfile::tempdir().expect("a temporary home");
    write_private(
        &home
            .path()
            .join(agent_identity_manager::RUNTIME_CACHE_FILE_NAME),
        document.to_string().as_bytes(),
    );
    let read = agent_identity_manager::fuzzing::runtime_cache(
        home.path(),
        CACHE_RUNTIME_ID,
        CACHE_TOKEN_SHA256,
        CACHE_AUTHAPI_BASE,
        CACHE_JWKS_URL,
        CACHE_NEW_TASK,
    );
    assert_eq!(read.task.as_deref(), Some("task-123"));
    assert_eq!(read.newest_task.as_deref(), Some("task-123"));
    let key_set = read.key_set.expect("the cached key set is found");
    StaticJwksSource::from_json(key_set).expect("the cached key set parses");
    assert_eq!(read.task_after_put.as_deref(), Some(CACHE_NEW_TASK));
}

#[test]
fn the_valid_vector_token_in_a_token_file_is_read_back() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("token");
    write_private(&path, format!("{}\n", valid_vector_token()).as_bytes());
    let token = agent_identity_manager::TokenFileStore::new(&path)
        .load()
        .expect("the file reads")
        .expect("a token");
    assert_eq!(token.expose_secret(), valid_vector_token());
}

#[test]
fn the_fixed_inputs_come_from_the_vectors_file() {
    assert_eq!(vector_runtime_id(), "agent-123");
    assert_eq!(vector_task_id(), "task-123");
    assert_eq!(
        vector_time(),
        at(1_777_291_200),
        "the first vector's time, 2026-04-27T12:00:00Z"
    );
    assert!(valid_vector_token().starts_with("eyJ"));
}
