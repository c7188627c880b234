//! Task registration (wire-format §3): the four response forms, and every refusal.

use std::time::{Duration, SystemTime};

use agent_identity_emulator::{Emulator, RegistrationForm};
use agent_identity_task::{AgentSigner, TaskId, open_task_id, request_headers};
use serde_json::json;

use crate::support::{fresh_connections, minted_record, one_shot_task_client, post_json};

/// Whether the echo endpoint accepts `task_id` for the record: proof the emulator issued it.
async fn echo_accepts(
    emulator: &Emulator,
    record: &agent_identity_jwt::AgentIdentityRecord,
    task_id: &TaskId,
) -> bool {
    let headers = request_headers(record, task_id, SystemTime::now()).expect("headers");
    let mut request = fresh_connections().get(emulator.echo_url());
    for (name, value) in headers.iter() {
        request = request.header(name, value);
    }
    request.send().await.expect("echo").status().is_success()
}

#[tokio::test]
async fn every_registration_form_gives_the_client_the_issued_task_id() {
    for form in RegistrationForm::ALL {
        let emulator = Emulator::builder()
            .registration_form(form)
            .start()
            .await
            .expect("start");
        let (minted, record) = minted_record(&emulator).await;

        // The raw response has exactly the form's field.
        let signer = AgentSigner::new(minted.key.clone(), minted.runtime_id.as_str());
        let body = signer
            .registration_request(SystemTime::now())
            .expect("sign");
        let url = emulator
            .authapi_base()
            .registration_url(minted.runtime_id.as_str())
            .expect("url");
        let (status, response) = post_json(
            &fresh_connections(),
            &url,
            &serde_json::from_str(&body.to_json()).expect("json"),
        )
        .await;
        assert_eq!(status, 200, "{form}");
        let object = response.as_object().expect("an object");
        assert_eq!(object.len(), 1, "{form}: {response}");
        let value = object[form.field()].as_str().expect("a string");
        let raw_task = if form.is_encrypted() {
            open_task_id(&minted.key, value).expect("the sealed task id opens with the agent key")
        } else {
            TaskId::new(value)
        };
        assert!(raw_task.as_str().starts_with("task-"), "{form}: {raw_task}");
        assert!(echo_accepts(&emulator, &record, &raw_task).await, "{form}");

        // The task client reads the same form and gets an id the emulator issued.
        let task_id = emulator
            .task_client()
            .register_task(&record)
            .await
            .expect("register");
        assert_ne!(task_id, raw_task, "every registration issues a new task id");
        assert!(echo_accepts(&emulator, &record, &task_id).await, "{form}");
        assert_eq!(emulator.registrations(), 2, "{form}");
    }
}

#[tokio::test]
async fn registration_form_can_change_at_run_time() {
    let emulator = Emulator::start().await.expect("start");
    let (minted, record) = minted_record(&emulator).await;
    let signer = AgentSigner::new(minted.key.clone(), minted.runtime_id.as_str());
    let url = emulator
        .authapi_base()
        .registration_url(minted.runtime_id.as_str())
        .expect("url");
    for form in [
        RegistrationForm::Camel,
        RegistrationForm::Plain,
        RegistrationForm::EncryptedCamel,
    ] {
        emulator.set_registration_form(form);
        let body = signer
            .registration_request(SystemTime::now())
            .expect("sign");
        let (_, response) = post_json(
            &fresh_connections(),
            &url,
            &serde_json::from_str(&body.to_json()).expect("json"),
        )
        .await;
        assert!(response.get(form.field()).is_some(), "{form}: {response}");
        emulator
            .task_client()
            .register_task(&record)
            .await
            .expect("register");
    }
}

#[tokio::test]
async fn unknown_runtime_is_not_found() {
    let emulator = Emulator::start().await.expect("start");
    let stranger = AgentSigner::new(
        agent_identity_jwt::AgentKey::generate().expect("key"),
        "agent-never-minted",
    );
    let error = one_shot_task_client(&emulator)
        .register_task_as(&stranger)
        .await
        .expect_err("the emulator did not mint this runtime");
    assert_eq!(error.status(), Some(404));
    assert!(!error.is_transient());
    assert_eq!(emulator.registrations(), 0);
}

#[tokio::test]
async fn registration_signed_by_another_key_is_unauthorized() {
    let emulator = Emulator::start().await.expect("start");
    let (minted, _) = minted_record(&emulator).await;
    let impostor = AgentSigner::new(
        agent_identity_jwt::AgentKey::generate().expect("key"),
        minted.runtime_id.as_str(),
    );
    let error = one_shot_task_client(&emulator)
        .register_task_as(&impostor)
        .await
        .expect_err("wrong key");
    assert_eq!(error.status(), Some(401));
    assert_eq!(emulator.registrations(), 0);
}

#[tokio::test]
async fn stale_registration_timestamp_is_unauthorized() {
    let emulator = Emulator::start().await.expect("start");
    let (minted, _) = minted_record(&emulator).await;
    let signer = AgentSigner::new(minted.key.clone(), minted.runtime_id.as_str());
    let url = emulator
        .authapi_base()
        .registration_url(minted.runtime_id.as_str())
        .expect("url");
    let client = fresh_connections();
    for offset in [Duration::from_secs(301), Duration::from_secs(3600)] {
        for at in [SystemTime::now() - offset, SystemTime::now() + offset] {
            let body = signer.registration_request(at).expect("sign");
            let (status, response) = post_json(
                &client,
                &url,
                &serde_json::from_str(&body.to_json()).expect("json"),
            )
            .await;
            assert_eq!(status, 401);
            assert_eq!(response, json!({ "error": "stale" }));
        }
    }
    // Inside the window is fine.
    let body = signer
        .registration_request(SystemTime::now() - Duration::from_secs(200))
        .expect("sign");
    let (status, _) = post_json(
        &client,
        &url,
        &serde_json::from_str(&body.to_json()).expect("json"),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn assertion_skew_setting_narrows_the_registration_window() {
    let emulator = Emulator::builder()
        .assertion_skew(Duration::from_secs(10))
        .start()
        .await
        .expect("start");
    let (minted, _) = minted_record(&emulator).await;
    let signer = AgentSigner::new(minted.key.clone(), minted.runtime_id.as_str());
    let url = emulator
        .authapi_base()
        .registration_url(minted.runtime_id.as_str())
        .expect("url");
    let body = signer
        .registration_request(SystemTime::now() - Duration::from_secs(60))
        .expect("sign");
    let (status, _) = post_json(
        &fresh_connections(),
        &url,
        &serde_json::from_str(&body.to_json()).expect("json"),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test]
async fn malformed_registration_body_is_a_bad_request() {
    let emulator = Emulator::start().await.expect("start");
    let (minted, _) = minted_record(&emulator).await;
    let url = emulator
        .authapi_base()
        .registration_url(minted.runtime_id.as_str())
        .expect("url");
    let client = fresh_connections();
    for body in [
        json!({}),
        json!({ "timestamp": "2026-04-27T18:03:11Z" }),
        json!({ "timestamp": "yesterday", "signature": "A".repeat(86) + "==" }),
        json!({ "timestamp": "2026-04-27T18:03:11Z", "signature": "short" }),
        json!({ "timestamp": "2026-04-27T18:03:11Z", "signature": "A".repeat(86) + "==", "extra": 1 }),
    ] {
        let (status, response) = post_json(&client, &url, &body).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(response, json!({ "error": "malformed" }), "{body}");
    }
    assert_eq!(emulator.registrations(), 0);
}

#[tokio::test]
async fn runtime_id_with_reserved_characters_is_one_path_segment() {
    let emulator = Emulator::start().await.expect("start");
    let minted = emulator
        .mint()
        .runtime_id("agent/with spaces?and#more")
        .issue()
        .expect("mint");
    let record = emulator
        .verifier()
        .verify(&minted.token)
        .await
        .expect("verify");
    let task_id = emulator
        .task_client()
        .register_task(&record)
        .await
        .expect("register");
    assert!(echo_accepts(&emulator, &record, &task_id).await);
}
