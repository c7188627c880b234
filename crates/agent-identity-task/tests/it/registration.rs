//! Task registration against a mock AuthAPI on 127.0.0.1: the request, the four response forms,
//! each malformed-response error, and the body cap.

use std::time::{Duration, SystemTime};

use agent_identity_jwt::AgentKey;
use agent_identity_task::{
    AgentSigner, AuthApiBaseUrl, DEFAULT_SKEW, Operation, TaskClient, TaskErrorKind, seal_task_id,
    verify_registration_request,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use mockito::{Matcher, Server};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{Identity, VECTOR_PATH, builder, client, first_vector, record, vector_record};

/// Checks a registration request as the AuthAPI would: exactly `{"timestamp","signature"}`,
/// signed by `public_key` for `runtime_id`, fresh.
fn is_valid_registration(
    request: &mockito::Request,
    runtime_id: &str,
    public_key: [u8; 32],
) -> bool {
    let Ok(body) = request.utf8_lossy_body() else {
        return false;
    };
    verify_registration_request(
        runtime_id,
        body.as_bytes(),
        &public_key,
        SystemTime::now(),
        DEFAULT_SKEW,
    )
    .is_ok()
}

#[tokio::test]
async fn the_request_is_a_signed_post_with_exactly_two_body_keys() {
    let vector = first_vector();
    let record = vector_record().await;
    let public = record.key().public_key().unwrap_or_default();
    let runtime = vector.agent_runtime_id.clone();
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", VECTOR_PATH)
        .match_header("content-type", "application/json")
        .match_request(move |request| is_valid_registration(request, &runtime, public))
        .with_body(r#"{"task_id":"task-1"}"#)
        .expect(1)
        .create_async()
        .await;
    let task = client(&server.url()).register_task(&record).await;
    assert_eq!(
        task.ok().map(|t| t.into_string()),
        Some("task-1".to_owned())
    );
    mock.assert_async().await;
}

#[tokio::test]
async fn each_of_the_four_response_forms_gives_the_task_id() {
    let vector = first_vector();
    let record = vector_record().await;
    let forms = [
        (r#"{"task_id":"plain-snake"}"#.to_owned(), "plain-snake"),
        (r#"{"taskId":"plain-camel"}"#.to_owned(), "plain-camel"),
        (
            format!(
                r#"{{"encrypted_task_id":"{}"}}"#,
                vector.encrypted_task_id_base64
            ),
            vector.task_id.as_str(),
        ),
        (
            format!(
                r#"{{"encryptedTaskId":"{}"}}"#,
                vector.encrypted_task_id_base64
            ),
            vector.task_id.as_str(),
        ),
    ];
    for (body, expected) in forms {
        let mut server = Server::new_async().await;
        let mock = server
            .mock("POST", VECTOR_PATH)
            .with_header("content-type", "application/json")
            .with_body(&body)
            .expect(1)
            .create_async()
            .await;
        let task = client(&server.url()).register_task(&record).await;
        assert_eq!(
            task.ok().map(|t| t.into_string()),
            Some(expected.to_owned()),
            "{body}"
        );
        mock.assert_async().await;
    }
}

#[tokio::test]
async fn a_task_id_sealed_by_the_server_helper_opens() {
    let record = vector_record().await;
    let sealed = seal_task_id(record.key(), "fresh-task").unwrap_or_else(|e| panic!("{e}"));
    let mut server = Server::new_async().await;
    let _mock = server
        .mock("POST", VECTOR_PATH)
        .with_body(format!(r#"{{"encrypted_task_id":"{sealed}"}}"#))
        .create_async()
        .await;
    let task = client(&server.url()).register_task(&record).await;
    assert_eq!(
        task.ok().map(|t| t.into_string()),
        Some("fresh-task".to_owned())
    );
}

#[tokio::test]
async fn each_malformed_response_is_its_own_permanent_error() {
    let record = vector_record().await;
    let other_key = AgentKey::from_seed([9; 32]);
    let sealed_for_someone_else = seal_task_id(&other_key, "task").unwrap_or_default();
    let not_utf8 = {
        // Seal invalid UTF-8 for the vector's agent, through its X25519 public key.
        use crypto_box::aead::OsRng;
        let secret = crypto_box::SecretKey::from_bytes(*record.key().x25519_secret());
        STANDARD.encode(
            secret
                .public_key()
                .seal(&mut OsRng, &[0xc3, 0x28])
                .unwrap_or_default(),
        )
    };
    let cases = [
        ("{not json".to_owned(), TaskErrorKind::MalformedResponse),
        (
            r#"{"task_id":42}"#.to_owned(),
            TaskErrorKind::MalformedResponse,
        ),
        (
            r#"{"status":"ok"}"#.to_owned(),
            TaskErrorKind::MissingTaskId,
        ),
        (
            r#"{"encrypted_task_id":"***not base64***"}"#.to_owned(),
            TaskErrorKind::BadBase64,
        ),
        (
            format!(r#"{{"encrypted_task_id":"{sealed_for_someone_else}"}}"#),
            TaskErrorKind::Undecryptable,
        ),
        (
            format!(r#"{{"encryptedTaskId":"{not_utf8}"}}"#),
            TaskErrorKind::NotUtf8,
        ),
    ];
    for (body, expected) in cases {
        let mut server = Server::new_async().await;
        // `expect(1)`: a malformed 2xx is never retried.
        let mock = server
            .mock("POST", VECTOR_PATH)
            .with_body(&body)
            .expect(1)
            .create_async()
            .await;
        let error = client(&server.url())
            .register_task(&record)
            .await
            .err()
            .unwrap_or_else(|| panic!("{body} must fail"));
        assert_eq!(error.reason(), expected, "{body}");
        assert_eq!(error.operation(), Operation::Register);
        assert!(!error.is_transient(), "{body}");
        assert_eq!(error.status(), None);
        mock.assert_async().await;
    }
}

#[tokio::test]
async fn a_runtime_id_with_reserved_characters_is_one_encoded_path_segment() {
    let vector = first_vector();
    let runtime = "team/agent?x=1 two#3";
    let (record, _) = record(&Identity {
        runtime_id: runtime,
        ..Identity::for_vector(vector)
    })
    .await;
    let public = record.key().public_key().unwrap_or_default();
    let mut server = Server::new_async().await;
    let mock = server
        .mock(
            "POST",
            Matcher::Exact("/v1/agent/team%2Fagent%3Fx%3D1%20two%233/task/register".to_owned()),
        )
        // The signature covers the raw runtime id, not its encoding.
        .match_request(move |request| is_valid_registration(request, runtime, public))
        .with_body(r#"{"task_id":"t"}"#)
        .expect(1)
        .create_async()
        .await;
    let task = client(&server.url()).register_task(&record).await;
    assert_eq!(task.ok().map(|t| t.into_string()), Some("t".to_owned()));
    mock.assert_async().await;
}

#[tokio::test]
async fn register_task_as_a_signer_without_a_token() {
    let signer = AgentSigner::new(AgentKey::from_seed([5; 32]), "bare-runtime");
    let mut server = Server::new_async().await;
    let mock = server
        .mock("POST", "/v1/agent/bare-runtime/task/register")
        .with_body(r#"{"taskId":"bare"}"#)
        .expect(1)
        .create_async()
        .await;
    let task = client(&server.url()).register_task_as(&signer).await;
    assert_eq!(task.ok().map(|t| t.into_string()), Some("bare".to_owned()));
    mock.assert_async().await;
}

#[tokio::test]
async fn an_oversized_body_with_a_content_length_is_refused() {
    let record = vector_record().await;
    let mut server = Server::new_async().await;
    let padding = "x".repeat(100 * 1024);
    let mock = server
        .mock("POST", VECTOR_PATH)
        .with_body(format!(r#"{{"task_id":"t","padding":"{padding}"}}"#))
        .expect(1)
        .create_async()
        .await;
    let error = client(&server.url())
        .register_task(&record)
        .await
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.reason(), TaskErrorKind::BodyTooLarge);
    assert!(!error.is_transient());
    mock.assert_async().await;

    // The same body under a raised cap is accepted.
    let mut server = Server::new_async().await;
    let _mock = server
        .mock("POST", VECTOR_PATH)
        .with_body(format!(r#"{{"task_id":"t","padding":"{padding}"}}"#))
        .create_async()
        .await;
    let task = builder(&server.url())
        .max_body_bytes(200 * 1024)
        .build()
        .register_task(&record)
        .await;
    assert_eq!(task.ok().map(|t| t.into_string()), Some("t".to_owned()));
}

/// A server that sends 100 KiB of a chunked body and then never finishes it. A client that read
/// the whole body would wait forever (here: until the 10 s attempt timeout); ours stops at the cap.
#[tokio::test]
async fn an_endless_body_is_refused_without_reading_to_its_end() {
    let record = vector_record().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let address = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let server = tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut request = [0u8; 4096];
        let _ = socket.read(&mut request).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let chunk = format!("{:x}\r\n{}\r\n", 4096, "x".repeat(4096));
        for _ in 0..25 {
            if socket.write_all(chunk.as_bytes()).await.is_err() {
                return;
            }
        }
        // Hold the connection open without ever sending the final chunk.
        let _ = socket.read(&mut request).await;
    });
    let error = builder(&format!("http://{address}"))
        .attempt_timeout(Duration::from_secs(10))
        .build()
        .register_task(&record)
        .await
        .err()
        .unwrap_or_else(|| panic!("must fail"));
    assert_eq!(error.reason(), TaskErrorKind::BodyTooLarge);
    server.abort();
}

/// An AuthAPI that redirects registration to `elsewhere`, and the mock there that must not be hit
/// (or, with a client that follows redirects, whose answer must not be taken).
async fn redirecting(
    status: usize,
    elsewhere: &mut mockito::ServerGuard,
) -> (mockito::ServerGuard, Vec<mockito::Mock>) {
    let mut server = Server::new_async().await;
    server
        .mock("POST", VECTOR_PATH)
        .with_status(status)
        .with_header("location", &format!("{}{VECTOR_PATH}", elsewhere.url()))
        .create_async()
        .await;
    let mut stolen = Vec::new();
    // 301 to 303 turn the POST into a GET; 307 and 308 re-send it.
    for method in ["POST", "GET"] {
        stolen.push(
            elsewhere
                .mock(method, Matcher::Any)
                .with_body(r#"{"task_id":"attacker-task"}"#)
                .create_async()
                .await,
        );
    }
    (server, stolen)
}

#[tokio::test]
async fn a_redirect_to_another_origin_is_refused_and_not_followed() {
    let record = vector_record().await;
    for status in [301, 302, 303, 307, 308] {
        let mut elsewhere = Server::new_async().await;
        let (server, stolen) = redirecting(status, &mut elsewhere).await;
        // The default client: no `.client(…)`.
        let tasks = TaskClient::builder(AuthApiBaseUrl::parse(&server.url()).expect("base"))
            .attempt_timeout(None)
            .total_deadline(None)
            .build();
        let error = tasks
            .register_task(&record)
            .await
            .expect_err("a redirect is an error");
        assert_eq!(error.reason(), TaskErrorKind::Redirected, "status {status}");
        assert!(!error.is_transient());
        assert!(error.to_string().contains("redirect"), "{error}");
        for mock in stolen {
            mock.expect(0).assert_async().await;
        }
    }
}

#[tokio::test]
async fn the_answer_a_redirect_following_client_got_elsewhere_is_refused() {
    let record = vector_record().await;
    let mut elsewhere = Server::new_async().await;
    let (server, _stolen) = redirecting(307, &mut elsewhere).await;
    // The test client follows redirects, as reqwest's default policy does.
    let error = client(&server.url())
        .register_task(&record)
        .await
        .expect_err("the other origin's task id is not taken");
    assert_eq!(error.reason(), TaskErrorKind::Redirected);
}

#[tokio::test]
async fn an_oversized_or_control_character_task_id_is_refused() {
    let record = vector_record().await;
    let long = "t".repeat(agent_identity_task::MAX_TASK_ID_BYTES + 1);
    let fitting = "t".repeat(agent_identity_task::MAX_TASK_ID_BYTES);
    for (task_id, accepted) in [
        (long.as_str(), false),
        ("task-\u{1b}[31mred", false),
        ("task\nline", false),
        (fitting.as_str(), true),
    ] {
        let mut server = Server::new_async().await;
        server
            .mock("POST", VECTOR_PATH)
            .with_body(serde_json::json!({ "task_id": task_id }).to_string())
            .create_async()
            .await;
        let outcome = client(&server.url()).register_task(&record).await;
        match outcome {
            Ok(task) => assert!(accepted, "{task_id:?} was accepted as {task:?}"),
            Err(error) => {
                assert!(!accepted, "{task_id:?} was refused: {error}");
                assert_eq!(error.reason(), TaskErrorKind::InvalidTaskId);
            }
        }
    }
}
