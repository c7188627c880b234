//! Codex's agent registration: ChatGPT logins from `/_emulator/chatgpt-login`, `POST
//! /v1/agent/register` and its refusals, and a registered agent's tasks and assertions.

use std::time::{Duration, SystemTime};

use agent_identity_emulator::{Emulator, OPENAI_AUTH_CLAIM};
use agent_identity_jwt::{AgentKey, AgentRuntimeId};
use agent_identity_task::AgentSigner;
use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::{fresh_connections, post_json};

/// The OpenSSH form of an Ed25519 public key, as Codex sends it, written here independently of
/// the emulator's parser.
fn ssh_key(key: &AgentKey) -> String {
    let public = key.public_key().expect("public key");
    let mut blob = Vec::new();
    blob.extend_from_slice(&11u32.to_be_bytes());
    blob.extend_from_slice(b"ssh-ed25519");
    blob.extend_from_slice(&32u32.to_be_bytes());
    blob.extend_from_slice(&public);
    format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(blob)
    )
}

/// The body Codex sends.
fn codex_body(key: &AgentKey) -> Value {
    json!({
        "abom": {
            "agent_version": "0.1.0",
            "agent_harness_id": "agent-identity",
            "running_location": "test",
        },
        "agent_public_key": ssh_key(key),
        "capabilities": ["responsesapi"],
        "ttl": null,
    })
}

/// Sends a registration with `access_token` (if any), the FedRAMP header when `fedramp`.
async fn register(
    emulator: &Emulator,
    access_token: Option<&str>,
    fedramp: bool,
    body: &Value,
) -> (u16, Value) {
    let mut request = fresh_connections()
        .post(emulator.agent_register_url())
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(token) = access_token {
        request = request.bearer_auth(token);
    }
    if fedramp {
        request = request.header("X-OpenAI-Fedramp", "true");
    }
    let response = request.send().await.expect("register");
    let status = response.status().as_u16();
    let body = serde_json::from_slice(&response.bytes().await.expect("body")).expect("json");
    (status, body)
}

fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a compact JWS");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("json claims")
}

#[tokio::test]
async fn the_admin_login_issues_tokens_with_the_chatgpt_account_claims() {
    let emulator = Emulator::start().await.expect("start");
    let url = emulator
        .base_url()
        .join("_emulator/chatgpt-login")
        .expect("url")
        .to_string();
    let (status, body) = post_json(
        &fresh_connections(),
        &url,
        &json!({
            "account_id": "acct-login",
            "chatgpt_user_id": "user-login",
            "email": "dev@example.com",
            "plan_type": "edu_plus",
            "fedramp": true,
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["account_id"], "acct-login");
    let id = claims(body["id_token"].as_str().expect("id token"));
    assert_eq!(id["email"], "dev@example.com");
    let auth = &id[OPENAI_AUTH_CLAIM];
    assert_eq!(auth["chatgpt_account_id"], "acct-login");
    assert_eq!(auth["chatgpt_user_id"], "user-login");
    assert_eq!(auth["chatgpt_plan_type"], "edu_plus");
    assert_eq!(auth["chatgpt_account_is_fedramp"], true);
    let access = claims(body["access_token"].as_str().expect("access token"));
    assert!(access["exp"].as_i64().expect("exp") > access["iat"].as_i64().expect("iat"));
}

#[tokio::test]
async fn a_registered_agent_registers_tasks_and_its_assertions_are_accepted() {
    let emulator = Emulator::start().await.expect("start");
    let login = emulator
        .chatgpt_login()
        .account_id("acct-codex")
        .issue()
        .expect("login");
    let key = AgentKey::generate().expect("key");
    let (status, body) = register(
        &emulator,
        Some(login.access_token()),
        false,
        &codex_body(&key),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let runtime_id = body["agent_runtime_id"].as_str().expect("agent_runtime_id");
    assert!(runtime_id.starts_with("agent-"), "{body}");
    assert_eq!(emulator.agent_registrations(), 1);

    let signer = AgentSigner::new(key, AgentRuntimeId::new(runtime_id));
    let task_id = emulator
        .task_client()
        .register_task_as(&signer)
        .await
        .expect("the registered agent registers a task");
    let authorization = signer
        .authorization_header(&task_id, SystemTime::now())
        .expect("assertion");
    let response = fresh_connections()
        .post(emulator.echo_url())
        .header("Authorization", authorization)
        .header("ChatGPT-Account-ID", "acct-codex")
        .send()
        .await
        .expect("echo");
    assert_eq!(response.status(), 200);
    let echoed: Value = response.json().await.expect("json");
    assert_eq!(echoed["runtime_id"], runtime_id);
    assert_eq!(echoed["account_id"], "acct-codex");
    assert_eq!(emulator.assertions_accepted(), 1);
}

#[tokio::test]
async fn a_fedramp_login_registers_only_with_the_fedramp_header() {
    let emulator = Emulator::start().await.expect("start");
    let login = emulator
        .chatgpt_login()
        .fedramp(true)
        .issue()
        .expect("login");
    let body = codex_body(&AgentKey::generate().expect("key"));
    let (status, answer) = register(&emulator, Some(login.access_token()), false, &body).await;
    assert_eq!(
        (status, answer),
        (403, json!({ "error": "missing_fedramp_header" }))
    );
    let (status, answer) = register(&emulator, Some(login.access_token()), true, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(emulator.agent_registrations(), 1);
}

#[tokio::test]
async fn registration_refuses_a_missing_unknown_or_expired_access_token() {
    let emulator = Emulator::start().await.expect("start");
    let body = codex_body(&AgentKey::generate().expect("key"));
    let expired = emulator
        .chatgpt_login()
        .lifetime(Duration::ZERO)
        .issue()
        .expect("login");
    // A token signed by the emulator but never issued as a login: a minted agent identity.
    let minted = emulator.mint().issue().expect("mint");
    for (token, kind) in [
        (None, "missing_authorization"),
        (Some(minted.token.expose_secret()), "unknown_access_token"),
        (Some(expired.access_token()), "expired_access_token"),
    ] {
        let (status, answer) = register(&emulator, token, false, &body).await;
        assert_eq!((status, answer), (401, json!({ "error": kind })));
    }
    assert_eq!(emulator.agent_registrations(), 0);
}

#[tokio::test]
async fn registration_refuses_a_malformed_body_or_key() {
    let emulator = Emulator::start().await.expect("start");
    let login = emulator.chatgpt_login().issue().expect("login");
    let good = codex_body(&AgentKey::generate().expect("key"));
    let mut no_abom = good.clone();
    no_abom.as_object_mut().expect("object").remove("abom");
    let mut empty_version = good.clone();
    empty_version["abom"]["agent_version"] = json!("");
    let mut no_capability = good.clone();
    no_capability["capabilities"] = json!([]);
    for bad in [no_abom, empty_version, no_capability] {
        let (status, answer) = register(&emulator, Some(login.access_token()), false, &bad).await;
        assert_eq!(
            (status, &answer["error"]),
            (400, &json!("malformed")),
            "{bad}"
        );
    }
    let mut rsa = good.clone();
    rsa["agent_public_key"] = json!("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ");
    let (status, answer) = register(&emulator, Some(login.access_token()), false, &rsa).await;
    assert_eq!(
        (status, &answer["error"]),
        (400, &json!("malformed_public_key"))
    );
    assert_eq!(emulator.agent_registrations(), 0);
}

#[tokio::test]
async fn agent_registration_faults_are_injected_over_http() {
    let emulator = Emulator::start().await.expect("start");
    let login = emulator.chatgpt_login().issue().expect("login");
    let body = codex_body(&AgentKey::generate().expect("key"));
    let faults = emulator
        .base_url()
        .join("_emulator/faults")
        .expect("url")
        .to_string();
    let (status, _) = post_json(
        &fresh_connections(),
        &faults,
        &json!({ "fail_next_agent_registrations": { "n": 2, "status": 500 } }),
    )
    .await;
    assert_eq!(status, 200);
    for _ in 0..2 {
        let (status, answer) = register(&emulator, Some(login.access_token()), false, &body).await;
        assert_eq!((status, &answer["error"]), (500, &json!("injected_fault")));
    }
    let (status, _) = register(&emulator, Some(login.access_token()), false, &body).await;
    assert_eq!(status, 200);
    assert_eq!(emulator.agent_registrations(), 1);
}

#[test]
fn a_login_debug_redacts_both_tokens() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let emulator = Emulator::start().await.expect("start");
        let login = emulator.chatgpt_login().issue().expect("login");
        let shown = format!("{login:?}");
        assert!(!shown.contains(login.access_token()), "{shown}");
        assert!(!shown.contains(login.id_token()), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    });
}
