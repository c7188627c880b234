//! Unit tests for the shared state: fault counting, runtimes and tasks, rotation, forms.

use std::time::Duration;

use agent_identity_jwt::{AgentKey, SigningAlgorithm};

use super::{Config, RegistrationForm, Shared};

fn shared() -> Shared {
    Shared::new(
        Config {
            issuer: "iss".into(),
            audience: "aud".into(),
            algorithm: SigningAlgorithm::EdDsa,
            assertion_skew: Duration::from_secs(300),
        },
        RegistrationForm::default(),
    )
    .expect("state")
}

#[test]
fn registration_faults_are_consumed_one_per_request() {
    let state = shared();
    assert_eq!(state.take_registration_fault(), None);
    state.fail_next_registrations(2, 503);
    assert_eq!(state.take_registration_fault(), Some(503));
    assert_eq!(state.take_registration_fault(), Some(503));
    assert_eq!(state.take_registration_fault(), None);
    state.fail_next_registrations(5, 500);
    state.fail_next_registrations(0, 500);
    assert_eq!(state.take_registration_fault(), None, "n = 0 clears");
    assert_eq!(state.take_jwks_fault(), None, "the knobs are independent");
}

#[test]
fn jwks_faults_are_consumed_one_per_request() {
    let state = shared();
    state.fail_next_jwks(1, 429);
    assert_eq!(state.take_jwks_fault(), Some(429));
    assert_eq!(state.take_jwks_fault(), None);
}

#[test]
fn connection_drops_count_down_to_zero() {
    let state = shared();
    assert!(!state.take_connection_drop());
    state.drop_next_connections(2);
    assert!(state.take_connection_drop());
    assert!(state.take_connection_drop());
    assert!(!state.take_connection_drop());
}

#[test]
fn latency_saturates_instead_of_wrapping() {
    let state = shared();
    state.set_latency(Duration::from_millis(1500));
    assert_eq!(state.latency(), Duration::from_millis(1500));
    state.set_latency(Duration::MAX);
    assert!(state.latency() > Duration::from_secs(500 * 365 * 24 * 3600));
}

#[test]
fn tasks_are_issued_to_one_runtime_only() {
    let state = shared();
    state
        .record_runtime("a", None, "acct", false)
        .expect("record");
    state
        .record_runtime("b", None, "acct", false)
        .expect("record");
    assert!(state.issue_task("a", "task-1"));
    assert!(!state.issue_task("unknown", "task-2"));
    assert!(state.task_issued("a", "task-1"));
    assert!(!state.task_issued("b", "task-1"));
    assert!(!state.task_issued("unknown", "task-1"));
}

#[test]
fn recording_a_runtime_again_keeps_its_key_and_tasks_but_updates_the_account() {
    let state = shared();
    let first = state
        .record_runtime("a", None, "acct-1", false)
        .expect("record");
    state.issue_task("a", "task-1");
    let again = state
        .record_runtime("a", None, "acct-2", true)
        .expect("record");
    assert_eq!(first.public_key().ok(), again.public_key().ok());
    assert_eq!(state.account("a"), Some(("acct-2".to_owned(), true)));
    let replacement = AgentKey::generate().expect("key");
    state
        .record_runtime("a", Some(replacement.clone()), "acct-2", true)
        .expect("record");
    assert_eq!(state.public_key("a"), replacement.public_key().ok());
    assert!(state.task_issued("a", "task-1"));
}

#[test]
fn rotation_appends_a_key_and_makes_it_current() {
    let state = shared();
    let first = state.current_key().kid().to_owned();
    let second = state.rotate().expect("rotate");
    assert_eq!(state.current_key().kid(), second);
    let kids: Vec<String> = state
        .keys()
        .iter()
        .map(|key| key.kid().to_owned())
        .collect();
    assert_eq!(kids, [first, second]);
}

#[test]
fn registration_form_round_trips_through_every_representation() {
    let state = shared();
    assert_eq!(state.registration_form(), RegistrationForm::Encrypted);
    for form in RegistrationForm::ALL {
        state.set_registration_form(form);
        assert_eq!(state.registration_form(), form);
        assert_eq!(form.as_str().parse::<RegistrationForm>(), Ok(form));
        assert_eq!(form.field().parse::<RegistrationForm>(), Ok(form));
        let json = serde_json::to_string(&form).expect("json");
        assert_eq!(json, format!("\"{}\"", form.as_str()));
    }
    assert!("sealed".parse::<RegistrationForm>().is_err());
    assert_eq!(
        RegistrationForm::ALL.map(RegistrationForm::field),
        ["task_id", "taskId", "encrypted_task_id", "encryptedTaskId"],
        "the forms are the wire format's fields, in its order"
    );
    assert_eq!(
        RegistrationForm::ALL.map(RegistrationForm::is_encrypted),
        [false, false, true, true],
    );
}
