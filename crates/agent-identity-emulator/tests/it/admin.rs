//! The admin endpoints under `/_emulator/`: minting, faults and counters over HTTP, and their
//! guard against other hosts, origins and body types.

use agent_identity_emulator::Emulator;
use agent_identity_jwt::IdentityJwt;
use serde_json::json;

use crate::support::{fresh_connections, get_json, post_json};

#[tokio::test]
async fn admin_mint_returns_a_token_the_verifier_trusts() {
    let emulator = Emulator::start().await.expect("start");
    let client = fresh_connections();
    let url = emulator
        .base_url()
        .join("_emulator/mint")
        .expect("url")
        .to_string();
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
    let response = client
        .post(&url)
        .header("content-type", "application/json")
        .send()
        .await
        .expect("mint");
    assert_eq!(response.status().as_u16(), 200);
    let (status, body) = post_json(&client, &url, &json!({ "runtimeid": "typo" })).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "malformed");
}

#[tokio::test]
async fn admin_faults_set_every_knob() {
    let emulator = Emulator::start().await.expect("start");
    let client = fresh_connections();
    let url = emulator
        .base_url()
        .join("_emulator/faults")
        .expect("url")
        .to_string();
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

    let (status, _) = get_json(&client, emulator.jwks_url().as_ref()).await;
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
    let url = emulator
        .base_url()
        .join("_emulator/counters")
        .expect("url")
        .to_string();
    let (status, body) = get_json(&client, &url).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "jwks_fetches": 0, "registrations": 0, "assertions_accepted": 0, "assertions_rejected": 0, "agent_registrations": 0 })
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
        json!({ "jwks_fetches": 1, "registrations": 1, "assertions_accepted": 0, "assertions_rejected": 1, "agent_registrations": 0 })
    );
}

#[tokio::test]
async fn admin_endpoints_ignore_faults() {
    let emulator = Emulator::start().await.expect("start");
    emulator.drop_next_connections(5);
    let (status, _) = get_json(
        &fresh_connections(),
        emulator
            .base_url()
            .join("_emulator/counters")
            .expect("url")
            .as_ref(),
    )
    .await;
    assert_eq!(status, 200);
}

/// Sends `method` to an admin `path` with the given headers; returns the status and JSON body.
async fn admin_request(
    emulator: &Emulator,
    method: reqwest::Method,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, serde_json::Value) {
    let mut request = fresh_connections()
        .request(
            method,
            emulator
                .base_url()
                .join(path.trim_start_matches('/'))
                .expect("url"),
        )
        .body(body.to_owned());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let body = response.bytes().await.expect("body");
    (status, serde_json::from_slice(&body).expect("a JSON body"))
}

#[tokio::test]
async fn admin_endpoints_refuse_a_host_or_origin_that_is_not_loopback() {
    let emulator = Emulator::start().await.expect("start");
    let port = emulator.local_addr().port().to_string();
    let json = ("content-type", "application/json");
    // What DNS rebinding looks like: the right socket, a foreign name.
    for host in [
        format!("rebind.attacker.example:{port}"),
        "attacker.example".to_owned(),
        format!("127.0.0.1.nip.io:{port}"),
    ] {
        for (method, path) in [
            (reqwest::Method::POST, "/_emulator/mint"),
            (reqwest::Method::POST, "/_emulator/faults"),
            (reqwest::Method::GET, "/_emulator/counters"),
        ] {
            let (status, body) =
                admin_request(&emulator, method, path, &[("host", &host), json], "{}").await;
            assert_eq!(status, 403, "{host} {path}: {body}");
            assert_eq!(body["error"], "admin_host_not_loopback", "{body}");
        }
    }
    // A page on another origin, even with the right Host.
    let (status, body) = admin_request(
        &emulator,
        reqwest::Method::POST,
        "/_emulator/mint",
        &[("origin", "http://attacker.example"), json],
        "{}",
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "admin_host_not_loopback");
    // Every loopback spelling, any port, and a loopback origin, are accepted.
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        "localhost".to_owned(),
    ] {
        let (status, body) = admin_request(
            &emulator,
            reqwest::Method::POST,
            "/_emulator/mint",
            &[("host", &host), ("origin", &format!("http://{host}")), json],
            "{}",
        )
        .await;
        assert_eq!(status, 200, "{host}: {body}");
    }
    assert_eq!(emulator.jwks_fetches(), 0);
}

#[tokio::test]
async fn admin_bodies_must_be_declared_json() {
    let emulator = Emulator::start().await.expect("start");
    let kid = emulator.current_kid();
    // What a web page can send across origins without a preflight, and no type at all.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/jsonp"),
        None,
    ] {
        for path in ["/_emulator/mint", "/_emulator/faults"] {
            let headers: Vec<(&str, &str)> = content_type
                .map(|value| ("content-type", value))
                .into_iter()
                .collect();
            let (status, body) = admin_request(
                &emulator,
                reqwest::Method::POST,
                path,
                &headers,
                r#"{"rotate_signing_key":true}"#,
            )
            .await;
            assert_eq!(status, 415, "{content_type:?} {path}: {body}");
            assert_eq!(body["error"], "admin_body_must_be_json", "{body}");
        }
    }
    assert_eq!(
        emulator.current_kid(),
        kid,
        "a refused request rotated the key"
    );
    let (status, body) = admin_request(
        &emulator,
        reqwest::Method::POST,
        "/_emulator/faults",
        &[("content-type", "Application/JSON; charset=utf-8")],
        r#"{"rotate_signing_key":true}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_ne!(
        emulator.current_kid(),
        kid,
        "the accepted request rotated the key"
    );
    // A GET has no body to declare.
    let (status, _) = admin_request(
        &emulator,
        reqwest::Method::GET,
        "/_emulator/counters",
        &[],
        "",
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn admin_mint_refuses_a_lifetime_whose_exp_overflows() {
    let emulator = Emulator::start().await.expect("start");
    let client = fresh_connections();
    let url = emulator
        .base_url()
        .join("_emulator/mint")
        .expect("url")
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    // The last second of 9999 is the latest exp the verifier accepts.
    let max_exp: u64 = 253_402_300_799;
    for lifetime in [u64::MAX, i64::MAX as u64, max_exp - now + 3600] {
        let (status, body) =
            post_json(&client, &url, &json!({ "lifetime_seconds": lifetime })).await;
        assert_eq!(status, 400, "{lifetime}: {body}");
        assert_eq!(body["error"], "malformed");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.contains("lifetime_seconds")),
            "{body}"
        );
    }
    // A long lifetime that fits gives exactly the exp asked for.
    let lifetime = 10 * 365 * 86_400;
    let (status, body) = post_json(&client, &url, &json!({ "lifetime_seconds": lifetime })).await;
    assert_eq!(status, 200, "{body}");
    let claims = agent_identity_jwt::insecure_decode_unverified(&IdentityJwt::new(
        body["token"].as_str().expect("token"),
    ))
    .expect("decodes");
    let claims = serde_json::to_value(&claims).expect("claims");
    assert_eq!(
        claims["exp"].as_u64().expect("exp") - claims["iat"].as_u64().expect("iat"),
        lifetime
    );
}

#[tokio::test]
async fn admin_mint_sets_the_issuer_and_audience_for_tokens_verifiers_refuse() {
    let emulator = Emulator::start().await.expect("start");
    let url = emulator
        .base_url()
        .join("_emulator/mint")
        .expect("url")
        .to_string();
    for (body, expected) in [
        (json!({ "audience": "another-app" }), "audience"),
        (json!({ "issuer": "https://elsewhere.test" }), "issuer"),
    ] {
        let (status, answer) = post_json(&fresh_connections(), &url, &body).await;
        assert_eq!(status, 200, "{answer}");
        let token = IdentityJwt::new(answer["token"].as_str().expect("token"));
        let error = emulator
            .verifier()
            .verify(&token)
            .await
            .expect_err("minted for someone else");
        let refused = match expected {
            "audience" => matches!(error, agent_identity_jwt::JwtError::WrongAudience { .. }),
            _ => matches!(error, agent_identity_jwt::JwtError::WrongIssuer { .. }),
        };
        assert!(refused, "{expected}: {error:?}");
    }
}
