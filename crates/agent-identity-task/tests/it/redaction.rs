//! No error or debug output ever carries the token, the private key, or an assertion.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use agent_identity_jwt::AgentRuntimeId;
use agent_identity_task::{
    TaskError, TaskId, authorization_header, authorization_header_for, request_headers,
};
use mockito::Server;

use crate::support::{
    Identity, VECTOR_PATH, builder, client, first_vector, record, secs, vector_record,
};

fn rendered(error: &TaskError) -> String {
    use std::error::Error as _;
    let mut text = format!("{error}\n{error:?}\n{error:#?}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\n{cause}\n{cause:?}"));
        source = cause.source();
    }
    text
}

#[tokio::test(start_paused = true)]
async fn errors_never_contain_the_key_or_the_token() {
    let vector = first_vector();
    let (record, token) = record(&Identity::for_vector(vector)).await;
    let key_text = vector.private_key_pkcs8_base64.clone();
    let header =
        authorization_header(&record, &TaskId::new("t"), SystemTime::now()).unwrap_or_default();
    let signature = header.trim_start_matches("AgentAssertion ").to_owned();

    let mut errors = Vec::new();
    for (status, body) in [
        (503, "service unavailable".to_owned()),
        (401, "x".repeat(1000)),
        (200, "{malformed".to_owned()),
        (
            200,
            r#"{"encrypted_task_id":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}"#
                .to_owned(),
        ),
        (200, "{}".to_owned()),
    ] {
        let mut server = Server::new_async().await;
        let _mock = server
            .mock("POST", VECTOR_PATH)
            .with_status(status)
            .with_body(body)
            .create_async()
            .await;
        let result = builder(&server.url())
            .max_attempts(2)
            .build()
            .register_task(&record)
            .await;
        errors.extend(result.err());
    }
    let address = crate::support::refusing_port();
    errors.extend(
        client(&format!("http://{address}"))
            .register_task(&record)
            .await
            .err(),
    );
    errors.extend(
        builder("http://127.0.0.1:9")
            .attempt_timeout(secs(0))
            .max_attempts(1)
            .build()
            .register_task(&record)
            .await
            .err(),
    );
    errors.extend(
        authorization_header_for(
            &record,
            &AgentRuntimeId::new("other"),
            &TaskId::new("t"),
            SystemTime::now(),
        )
        .err(),
    );
    assert!(
        errors.len() >= 8,
        "every scenario must fail: {}",
        errors.len()
    );

    for error in &errors {
        let text = rendered(error);
        assert!(!text.contains(token.as_str()), "token leaked: {text}");
        for part in token.split('.') {
            assert!(!text.contains(part), "token segment leaked: {text}");
        }
        assert!(!text.contains(&key_text), "key leaked: {text}");
        assert!(
            !text.contains(&key_text[16..40]),
            "key fragment leaked: {text}"
        );
        assert!(!text.contains(&signature), "assertion leaked: {text}");
    }
}

#[tokio::test(start_paused = true)]
async fn an_error_body_echoing_the_request_does_not_carry_its_signature() {
    let record = vector_record().await;
    let mut server = Server::new_async().await;
    let sent = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&sent);
    let mock = server
        .mock("POST", VECTOR_PATH)
        .with_status(400)
        .with_body_from_request(move |request| {
            let body = request.body().cloned().unwrap_or_default();
            *seen.lock().unwrap_or_else(PoisonError::into_inner) = body.clone();
            // An AuthAPI that quotes the offending request back in its error.
            let mut echo = br#"{"error":"bad_request","request":"#.to_vec();
            echo.extend_from_slice(&body);
            echo.push(b'}');
            echo
        })
        .expect(1)
        .create_async()
        .await;
    let error = client(&server.url())
        .register_task(&record)
        .await
        .err()
        .unwrap_or_else(|| panic!("a 400 must fail"));
    mock.assert_async().await;

    let sent = sent.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let sent: serde_json::Value =
        serde_json::from_slice(&sent).unwrap_or_else(|e| panic!("request body: {e}"));
    let signature = sent["signature"]
        .as_str()
        .unwrap_or_else(|| panic!("no signature in {sent}"));
    let timestamp = sent["timestamp"]
        .as_str()
        .unwrap_or_else(|| panic!("no timestamp in {sent}"));
    let text = rendered(&error);
    assert!(
        !text.contains(signature),
        "the echoed signature leaked: {text}"
    );
    assert!(
        !text.contains(&signature[..16]),
        "part of the signature leaked: {text}"
    );
    // The echo did reach the message, scrubbed: the rest of the body is still there.
    assert!(text.contains(timestamp), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
    assert_eq!(error.status(), Some(400));
}

#[tokio::test]
async fn debug_output_of_headers_and_records_is_redacted() {
    let vector = first_vector();
    let (record, token) = record(&Identity::for_vector(vector)).await;
    let headers = request_headers(&record, &TaskId::new("t"), SystemTime::now())
        .unwrap_or_else(|e| panic!("{e}"));
    let signer = agent_identity_task::AgentSigner::from_record(&record);
    let text = format!(
        "{headers:?} {signer:?} {:?}",
        signer.registration_request(SystemTime::now())
    );
    assert!(
        !text.contains(
            headers
                .authorization()
                .trim_start_matches("AgentAssertion ")
        ),
        "{text}"
    );
    assert!(!text.contains(&vector.private_key_pkcs8_base64), "{text}");
    assert!(!text.contains(token.as_str()), "{text}");
    assert!(text.contains("redacted"), "{text}");
}
