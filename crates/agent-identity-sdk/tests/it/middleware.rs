//! `AgentIdentityMiddleware` against the emulator's protected endpoint.

use std::sync::Arc;

use agent_identity_sdk::emulator::Emulator;
use agent_identity_sdk::{AgentIdentityMiddleware, AuthError, MemoryStore, auth_error};

use crate::support::{builder, client, from_env, logged_in, origin_of};

#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_requests_are_all_accepted() {
    let emulator = Emulator::start().await.expect("emulator");
    let manager = logged_in(&emulator).await;
    let client = client(&manager, emulator.echo_url().as_str());
    let requests = (0..50).map(|_| client.get(emulator.echo_url()).send());
    let responses = futures_util::future::join_all(requests).await;
    for response in responses {
        assert_eq!(response.expect("sent").status(), 200);
    }
    assert_eq!(emulator.assertions_accepted(), 50);
    assert_eq!(emulator.assertions_rejected(), 0);
    assert_eq!(emulator.registrations(), 1, "one task for all of them");
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_tasks_cost_one_recovery_and_the_request_succeeds() {
    let emulator = Emulator::start().await.expect("emulator");
    let token = emulator.mint().issue().expect("mint").token;
    let manager = from_env(&emulator, token.expose_secret())
        .build()
        .await
        .expect("loads");
    let first_task = manager.auth().expect("ready").task_id().clone();
    let client = client(&manager, emulator.echo_url().as_str());
    assert_eq!(emulator.revoke_tasks(), 1);

    let response = client.get(emulator.echo_url()).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.expect("json");
    let task = manager.auth().expect("ready").task_id().clone();
    assert_ne!(task, first_task, "a new task was registered");
    assert_eq!(body["task_id"], task.as_str());
    assert_eq!(emulator.registrations(), 2, "exactly one recovery");
    assert_eq!(emulator.assertions_rejected(), 1, "the one 401");
    assert_eq!(emulator.assertions_accepted(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logged_out_manager_fails_with_a_typed_error_and_sends_nothing() {
    let emulator = Emulator::start().await.expect("emulator");
    let manager = builder(&emulator)
        .store(Arc::new(MemoryStore::new()))
        .build()
        .await
        .expect("an empty store is not an error");
    let error = client(&manager, emulator.echo_url().as_str())
        .get(emulator.echo_url())
        .send()
        .await
        .expect_err("not logged in");
    assert!(
        matches!(auth_error(&error), Some(AuthError::NotLoggedIn)),
        "{error:?}"
    );
    assert_eq!(
        emulator.assertions_accepted() + emulator.assertions_rejected(),
        0,
        "the emulator saw no request"
    );
    assert_eq!(emulator.registrations(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rejected_token_fails_with_its_verdict() {
    let emulator = Emulator::builder()
        .algorithm(agent_identity_sdk::SigningAlgorithm::EdDsa)
        .start()
        .await
        .expect("emulator");
    let token = emulator.mint().issue().expect("mint").token;
    // The default algorithms (RS256 alone) reject an EdDSA token.
    let manager = from_env(&emulator, token.expose_secret())
        .algorithms([agent_identity_sdk::SigningAlgorithm::Rs256])
        .build()
        .await
        .expect("loads, logged out");
    let error = client(&manager, emulator.echo_url().as_str())
        .get(emulator.echo_url())
        .send()
        .await
        .expect_err("rejected");
    let cause = auth_error(&error).expect("an AuthError");
    assert_eq!(cause.kind(), "algorithm_not_allowed", "{cause}");
    assert!(cause.to_string().contains("EdDSA"), "{cause}");
    assert_eq!(
        manager.status().error().map(AuthError::kind),
        Some("algorithm_not_allowed")
    );
}

/// A plain-http "third party" on loopback that answers 401 to everything and sends the
/// `Authorization` headers it saw (`None` for a request without one) down a channel.
async fn third_party() -> (String, tokio::sync::mpsc::UnboundedReceiver<Option<String>>) {
    let (seen, received) = tokio::sync::mpsc::unbounded_channel();
    let app = axum::Router::new().fallback(move |headers: http::HeaderMap| {
        let seen = seen.clone();
        async move {
            let authorization = headers
                .get("authorization")
                .map(|value| value.to_str().unwrap_or("<not text>").to_owned());
            let _ = seen.send(authorization);
            http::StatusCode::UNAUTHORIZED
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/page", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test(flavor = "multi_thread")]
async fn another_origin_gets_no_assertion_and_its_401_registers_no_task() {
    let emulator = Emulator::start().await.expect("emulator");
    let manager = logged_in(&emulator).await;
    let (page, mut seen) = third_party().await;
    // One client for the agent's backend and for a fetch tool, as agent runtimes do.
    let client = client(&manager, emulator.echo_url().as_str());

    let response = client.get(&page).send().await.expect("sent");
    assert_eq!(response.status(), 401, "its 401 is returned as it came");
    assert_eq!(seen.recv().await, Some(None), "no Authorization header");
    assert!(seen.try_recv().is_err(), "sent once: no retry");
    assert_eq!(emulator.registrations(), 1, "no recovery for its 401");

    // The listed origin is still signed.
    let response = client.get(emulator.echo_url()).send().await.expect("sent");
    assert_eq!(response.status(), 200);
    assert_eq!(emulator.assertions_accepted(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_strict_middleware_refuses_another_origin_and_sends_nothing() {
    let emulator = Emulator::start().await.expect("emulator");
    let manager = logged_in(&emulator).await;
    let (page, mut seen) = third_party().await;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(
            AgentIdentityMiddleware::new(manager, origin_of(emulator.echo_url().as_str())).strict(),
        )
        .build();

    let error = client.get(&page).send().await.expect_err("strict");
    let cause = auth_error(&error).expect("an AuthError");
    assert!(
        matches!(
            cause,
            AuthError::Config {
                setting: "origin",
                ..
            }
        ),
        "{cause:?}"
    );
    assert!(
        !cause.to_string().contains("/page"),
        "the url is not echoed: {cause}"
    );
    let response = client.get(emulator.echo_url()).send().await.expect("sent");
    assert_eq!(response.status(), 200, "the listed origin is signed");
    drop(client);
    assert!(seen.try_recv().is_err(), "the third party saw no request");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_url_with_credentials_on_the_listed_origin_is_not_signed() {
    let emulator = Emulator::start().await.expect("emulator");
    let manager = logged_in(&emulator).await;
    let client = client(&manager, emulator.echo_url().as_str());
    let mut url = emulator.echo_url();
    url.set_username("someone").expect("a username");
    // Built by hand: `RequestBuilder` would move the credentials into a Basic header first.
    let request = reqwest::Request::new(reqwest::Method::GET, url);
    let response = client.execute(request).await.expect("sent");
    assert_eq!(response.status(), 401, "sent unsigned");
    assert_eq!(emulator.assertions_accepted(), 0);
    assert_eq!(emulator.registrations(), 1, "no recovery");
}
