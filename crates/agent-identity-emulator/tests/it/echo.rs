//! The protected echo endpoint (wire-format §5): accepted headers, and every refusal.

use std::time::{Duration, SystemTime};

use agent_identity_emulator::Emulator;
use agent_identity_jwt::AgentIdentityRecord;
use agent_identity_task::{RequestHeaders, TaskId, request_headers};
use serde_json::{Value, json};

use crate::support::{fresh_connections, minted_record};

async fn send(
    emulator: &Emulator,
    method: reqwest::Method,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let mut request = fresh_connections().request(method, emulator.echo_url());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("echo");
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    (status, body)
}

fn pairs(headers: &RequestHeaders) -> Vec<(&'static str, &str)> {
    headers.iter().collect()
}

async fn registered(emulator: &Emulator) -> (AgentIdentityRecord, TaskId) {
    let (_, record) = minted_record(emulator).await;
    let task_id = emulator
        .task_client()
        .register_task(&record)
        .await
        .expect("register");
    (record, task_id)
}

#[tokio::test]
async fn echo_accepts_the_headers_the_task_crate_builds() {
    let emulator = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&emulator).await;
    for method in [reqwest::Method::GET, reqwest::Method::POST] {
        let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
        let (status, body) = send(&emulator, method.clone(), &pairs(&headers)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            body,
            json!({
                "runtime_id": record.runtime_id().as_str(),
                "task_id": task_id.as_str(),
                "account_id": record.account_id().as_str(),
                "method": method.as_str(),
                "path": "/echo",
                "body_length": 0,
                // SHA-256 of nothing.
                "body_sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            })
        );
    }
    assert_eq!(emulator.assertions_accepted(), 2);
    assert_eq!(emulator.assertions_rejected(), 0);
}

#[tokio::test]
async fn echo_rejects_a_tampered_assertion() {
    let emulator = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&emulator).await;
    let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
    let authorization = headers.authorization();
    // Re-encode the envelope with another task id, keeping the signature.
    use base64::Engine as _;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let encoded = authorization
        .strip_prefix("AgentAssertion ")
        .expect("scheme");
    let mut envelope: Value =
        serde_json::from_slice(&engine.decode(encoded).expect("b64")).expect("json");
    let other_task = emulator
        .task_client()
        .register_task(&record)
        .await
        .expect("register");
    envelope["task_id"] = json!(other_task.as_str());
    let tampered = format!("AgentAssertion {}", engine.encode(envelope.to_string()));
    let account = record.account_id().as_str();
    let (status, body) = send(
        &emulator,
        reqwest::Method::GET,
        &[
            ("Authorization", &tampered),
            ("ChatGPT-Account-ID", account),
        ],
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(body, json!({ "error": "bad_signature" }));

    // Garbage is malformed; no header at all is named as such.
    let (status, body) = send(
        &emulator,
        reqwest::Method::GET,
        &[
            ("Authorization", "AgentAssertion !!!"),
            ("ChatGPT-Account-ID", account),
        ],
    )
    .await;
    assert_eq!((status, body), (401, json!({ "error": "malformed" })));
    let (status, body) = send(
        &emulator,
        reqwest::Method::GET,
        &[("ChatGPT-Account-ID", account)],
    )
    .await;
    assert_eq!(
        (status, body),
        (401, json!({ "error": "missing_authorization" }))
    );
    assert_eq!(emulator.assertions_rejected(), 3);
    assert_eq!(emulator.assertions_accepted(), 0);
}

#[tokio::test]
async fn echo_rejects_a_task_issued_to_another_runtime() {
    let emulator = Emulator::start().await.expect("start");
    let (record, _) = registered(&emulator).await;
    let (_, other_task) = registered(&emulator).await;
    let headers = request_headers(&record, &other_task, SystemTime::now()).expect("headers");
    let (status, body) = send(&emulator, reqwest::Method::GET, &pairs(&headers)).await;
    assert_eq!((status, body), (401, json!({ "error": "task_not_issued" })));
}

#[tokio::test]
async fn echo_rejects_a_stale_assertion() {
    let emulator = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&emulator).await;
    let at = SystemTime::now() - Duration::from_secs(301);
    let headers = request_headers(&record, &task_id, at).expect("headers");
    let (status, body) = send(&emulator, reqwest::Method::GET, &pairs(&headers)).await;
    assert_eq!((status, body), (401, json!({ "error": "stale" })));
}

#[tokio::test]
async fn echo_rejects_a_wrong_or_missing_account_header() {
    let emulator = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&emulator).await;
    let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
    for account in [Some("account-other"), None] {
        let mut sent = vec![("Authorization", headers.authorization())];
        if let Some(account) = account {
            sent.push(("ChatGPT-Account-ID", account));
        }
        let (status, body) = send(&emulator, reqwest::Method::GET, &sent).await;
        assert_eq!(
            (status, body),
            (401, json!({ "error": "account_mismatch" }))
        );
    }
}

#[tokio::test]
async fn echo_requires_the_fedramp_header_for_fedramp_accounts() {
    let emulator = Emulator::start().await.expect("start");
    let minted = emulator.mint().fedramp(true).issue().expect("mint");
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
    let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
    assert!(headers.fedramp());
    let (status, _) = send(&emulator, reqwest::Method::GET, &pairs(&headers)).await;
    assert_eq!(status, 200);
    let without: Vec<_> = pairs(&headers)
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("X-OpenAI-Fedramp"))
        .collect();
    let (status, body) = send(&emulator, reqwest::Method::GET, &without).await;
    assert_eq!(
        (status, body),
        (401, json!({ "error": "missing_fedramp_header" }))
    );
}

#[tokio::test]
async fn echo_rejects_a_runtime_the_emulator_never_minted() {
    let emulator = Emulator::start().await.expect("start");
    let other = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&other).await;
    let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
    let (status, body) = send(&emulator, reqwest::Method::GET, &pairs(&headers)).await;
    assert_eq!((status, body), (401, json!({ "error": "unknown_runtime" })));
}

#[tokio::test]
async fn echo_refuses_a_revoked_task_and_accepts_the_next_one() {
    let emulator = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&emulator).await;
    let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
    assert_eq!(
        send(&emulator, reqwest::Method::GET, &pairs(&headers))
            .await
            .0,
        200
    );
    assert_eq!(emulator.revoke_tasks(), 1);
    let (status, body) = send(&emulator, reqwest::Method::GET, &pairs(&headers)).await;
    assert_eq!(status, 401, "{body}");
    // Recovery: a new registration gives a task the endpoint accepts again.
    let renewed = emulator
        .task_client()
        .register_task(&record)
        .await
        .expect("register");
    let headers = request_headers(&record, &renewed, SystemTime::now()).expect("headers");
    assert_eq!(
        send(&emulator, reqwest::Method::GET, &pairs(&headers))
            .await
            .0,
        200
    );
}

#[tokio::test]
async fn the_admin_endpoint_revokes_tasks() {
    let emulator = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&emulator).await;
    let (status, body) = crate::support::post_json(
        &fresh_connections(),
        emulator
            .base_url()
            .join("_emulator/faults")
            .expect("url")
            .as_ref(),
        &json!({ "revoke_tasks": true }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked_tasks"], 1);
    let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
    assert_eq!(
        send(&emulator, reqwest::Method::GET, &pairs(&headers))
            .await
            .0,
        401
    );
}

#[tokio::test]
async fn echo_reports_the_length_and_digest_of_a_posted_body() {
    let emulator = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&emulator).await;
    let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
    let mut request = fresh_connections().post(emulator.echo_url()).body("abc");
    for (name, value) in headers.iter() {
        request = request.header(name, value);
    }
    let body: Value = request
        .send()
        .await
        .expect("echo")
        .json()
        .await
        .expect("json");
    assert_eq!(body["body_length"], 3);
    // FIPS 180-2's "abc" vector.
    assert_eq!(
        body["body_sha256"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[tokio::test]
async fn events_stream_numbered_events_to_an_accepted_request_only() {
    let emulator = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&emulator).await;
    let refused = fresh_connections()
        .get(emulator.events_url())
        .send()
        .await
        .expect("events");
    assert_eq!(refused.status(), 401);
    let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
    let mut request =
        fresh_connections().get(format!("{}?count=3&interval_ms=1", emulator.events_url()));
    for (name, value) in headers.iter() {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("events");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let text = response.text().await.expect("body");
    let seqs: Vec<u64> = text
        .split("\n\n")
        .filter_map(|event| event.strip_prefix("data: "))
        .map(|data| {
            serde_json::from_str::<Value>(data).expect("json")["seq"]
                .as_u64()
                .expect("seq")
        })
        .collect();
    assert_eq!(seqs, [0, 1, 2]);
}

#[tokio::test]
async fn every_path_under_echo_is_the_verifying_endpoint() {
    let emulator = Emulator::start().await.expect("start");
    let (record, task_id) = registered(&emulator).await;
    let client = fresh_connections();
    for (method, path) in [
        (reqwest::Method::POST, "echo/chat/completions"),
        (reqwest::Method::GET, "echo/v1/models"),
        (reqwest::Method::PUT, "echo/"),
    ] {
        let url = emulator.base_url().join(path).expect("url");
        let headers = request_headers(&record, &task_id, SystemTime::now()).expect("headers");
        let mut request = client.request(method.clone(), url.clone());
        for (name, value) in headers.iter() {
            request = request.header(name, value);
        }
        let response = request.body("{}").send().await.expect("signed");
        assert_eq!(response.status(), 200, "{method} {path}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["runtime_id"], record.runtime_id().as_str());
        assert_eq!(body["task_id"], task_id.as_str());
        assert_eq!(body["method"], method.as_str());
        assert_eq!(body["path"], format!("/{path}"));

        // Unsigned, the same path is refused: it is verified, not merely routed.
        let unsigned = client.request(method, url).send().await.expect("unsigned");
        assert_eq!(unsigned.status(), 401, "{path}");
    }
    assert_eq!(emulator.assertions_accepted(), 3);
    assert_eq!(emulator.assertions_rejected(), 3);
}
