//! The admin endpoints under `/_emulator/`: minting, faults and counters over HTTP.

use agent_identity_emulator::Emulator;
use agent_identity_jwt::IdentityJwt;
use serde_json::json;

use crate::support::{fresh_connections, get_json, post_json};

#[tokio::test]
async fn admin_mint_returns_a_token_the_verifier_trusts() {
    let emulator = Emulator::start().await.expect("start");
    let client = fresh_connections();
    let url = format!("{}/_emulator/mint", emulator.base_url());
    let (status, body) = post_json(
        &client,
        &url,
        &json!({
            "runtime_id": "agent-admin",
            "account_id": "acct-admin",
            "email": "a@example.com",
            "plan_type": "team",
            "fedramp": true,
            "lifetime_seconds": 120,
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["runtime_id"], "agent-admin");
    assert_eq!(body["kid"], emulator.current_kid().as_str());
    let token = IdentityJwt::new(body["token"].as_str().expect("token"));
    let record = emulator.verifier().verify(&token).await.expect("verify");
    assert_eq!(record.account_id().as_str(), "acct-admin");
    assert_eq!(record.email(), Some("a@example.com"));
    assert!(record.is_fedramp());
    emulator
        .task_client()
        .register_task(&record)
        .await
        .expect("the runtime is on record");

    // An empty body mints with every default; an unknown field is refused.
    let response = client.post(&url).send().await.expect("mint");
    assert_eq!(response.status().as_u16(), 200);
    let (status, body) = post_json(&client, &url, &json!({ "runtimeid": "typo" })).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "malformed");
}

#[tokio::test]
async fn admin_faults_set_every_knob() {
    let emulator = Emulator::start().await.expect("start");
    let client = fresh_connections();
    let url = format!("{}/_emulator/faults", emulator.base_url());
    let old_kid = emulator.current_kid();
    let (status, body) = post_json(
        &client,
        &url,
        &json!({
            "fail_next_registrations": { "n": 1, "status": 502 },
            "fail_next_jwks": { "n": 1, "status": 504 },
            "registration_form": "camel",
            "rotate_signing_key": true,
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["registration_form"], "camel");
    let new_kid = body["rotated_kid"].as_str().expect("a new kid");
    assert_ne!(new_kid, old_kid);
    assert_eq!(emulator.current_kid(), new_kid);

    let (status, _) = get_json(&client, &emulator.jwks_url()).await;
    assert_eq!(status, 504);
    let minted = emulator.mint().issue().expect("mint");
    let record = emulator
        .verifier()
        .verify(&minted.token)
        .await
        .expect("verify");
    let one_shot = crate::support::one_shot_task_client(&emulator);
    assert_eq!(
        one_shot
            .register_task(&record)
            .await
            .expect_err("fault")
            .status(),
        Some(502)
    );
    let url_register = emulator
        .authapi_base()
        .registration_url(record.runtime_id().as_str())
        .expect("url");
    let signed = agent_identity_task::AgentSigner::from_record(&record)
        .registration_request(std::time::SystemTime::now())
        .expect("sign");
    let (_, body) = post_json(
        &client,
        &url_register,
        &serde_json::from_str(&signed.to_json()).expect("json"),
    )
    .await;
    assert!(body.get("taskId").is_some(), "{body}");

    let (status, _) = post_json(
        &client,
        &url,
        &json!({ "drop_next_connections": 1, "latency_ms": 0 }),
    )
    .await;
    assert_eq!(status, 200);
    client
        .get(emulator.jwks_url())
        .send()
        .await
        .expect_err("dropped");

    let (status, body) =
        post_json(&client, &url, &json!({ "registration_form": "sideways" })).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn admin_counters_report_every_counter() {
    let emulator = Emulator::start().await.expect("start");
    let client = fresh_connections();
    let url = format!("{}/_emulator/counters", emulator.base_url());
    let (status, body) = get_json(&client, &url).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "jwks_fetches": 0, "registrations": 0, "assertions_accepted": 0, "assertions_rejected": 0 })
    );
    let (_, record) = crate::support::minted_record(&emulator).await;
    emulator
        .task_client()
        .register_task(&record)
        .await
        .expect("register");
    client.get(emulator.echo_url()).send().await.expect("echo");
    let (_, body) = get_json(&client, &url).await;
    assert_eq!(
        body,
        json!({ "jwks_fetches": 1, "registrations": 1, "assertions_accepted": 0, "assertions_rejected": 1 })
    );
}

#[tokio::test]
async fn admin_endpoints_ignore_faults() {
    let emulator = Emulator::start().await.expect("start");
    emulator.drop_next_connections(5);
    let (status, _) = get_json(
        &fresh_connections(),
        &format!("{}/_emulator/counters", emulator.base_url()),
    )
    .await;
    assert_eq!(status, 200);
}
