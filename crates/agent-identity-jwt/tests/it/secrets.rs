//! Secrets stay secret: no error, `Debug` or trace line contains the token or the private key.

use agent_identity_jwt::{AgentKey, HttpJwksSource, IdentityJwt, StaticJwksSource, Verifier};
use serde_json::json;

use agent_identity_test_support::capture_traces;
use agent_identity_test_support::mint::{claims, claims_with, mint, mint_with_kid};
use agent_identity_test_support::vectors::{first_vector, jwks_json, vectors};

/// Every string that must never be printed: the token, its segments, and the key in its forms.
fn secrets_of(token: &str) -> Vec<String> {
    let mut secrets = vec![
        token.to_owned(),
        first_vector().private_key_pkcs8_base64.clone(),
    ];
    secrets.extend(
        token
            .split('.')
            .filter(|part| part.len() > 20)
            .map(str::to_owned),
    );
    // The seed in hex and in the debug form of a byte array.
    let der = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        &first_vector().private_key_pkcs8_base64,
    )
    .expect("b64");
    let seed = &der[16..];
    secrets.push(seed.iter().map(|byte| format!("{byte:02x}")).collect());
    secrets.push(format!("{seed:?}"));
    secrets
}

fn assert_free_of_secrets(text: &str, token: &str) {
    for secret in secrets_of(token) {
        assert!(!text.contains(&secret), "output leaked a secret: {text}");
    }
}

#[tokio::test]
async fn errors_debug_and_traces_never_contain_the_token_or_key() {
    let capture = capture_traces();

    let mut server = mockito::Server::new_async().await;
    let _jwks = server
        .mock("GET", "/jwks")
        .with_status(200)
        .with_body(
            json!({"keys": [vectors().jwt.jwks["keys"][0], {"kty": "oct", "kid": "x"}]})
                .to_string(),
        )
        .create_async()
        .await;
    let url = format!("{}/jwks", server.url()).parse().expect("url");
    let http = Verifier::builder(HttpJwksSource::new(url).expect("loopback url")).build();
    let fixed = Verifier::builder(StaticJwksSource::from_json(jwks_json()).expect("JWKS")).build();

    let tokens = [
        mint(&claims()),
        mint(&claims_with("exp", json!(1))),
        mint(&claims_with("aud", json!("other"))),
        mint(&claims_with("agent_runtime_id", json!(7))),
        mint(&claims_with(
            "agent_private_key",
            json!(first_vector().private_key_pkcs8_base64.replace('C', "*")),
        )),
        mint_with_kid(&claims(), Some("unknown")),
        mint_with_kid(&claims(), None),
        format!("{}x", mint(&claims())),
    ];
    let mut printed = String::new();
    for token in &tokens {
        for verifier in [&http, &fixed] {
            match verifier.verify(&IdentityJwt::new(token)).await {
                Ok(record) => {
                    printed.push_str(&format!(
                        "{record:?}\n{:?}\n{:?}\n",
                        record.key(),
                        record.token()
                    ));
                    printed.push_str(&serde_json::to_string(&record).expect("serialize"));
                }
                Err(error) => {
                    printed.push_str(&format!("{error}\n{error:?}\n"));
                    let mut source = std::error::Error::source(&error);
                    while let Some(cause) = source {
                        printed.push_str(&format!("{cause}\n{cause:?}\n"));
                        source = cause.source();
                    }
                }
            }
        }
        printed.push_str(&format!("{:?}", IdentityJwt::new(token)));
    }
    printed.push_str(&format!("{http:?}"));
    let traces = capture.text();
    assert!(
        !traces.is_empty(),
        "the capture saw the fetch's trace lines"
    );
    for token in &tokens {
        assert_free_of_secrets(&printed, token);
        assert_free_of_secrets(&traces, token);
    }
}

#[test]
fn key_debug_is_redacted() {
    let key =
        AgentKey::from_pkcs8_base64(&first_vector().private_key_pkcs8_base64).expect("vector key");
    assert_eq!(format!("{key:?}"), "AgentKey(<redacted>)");
    assert_eq!(
        format!("{:?}", IdentityJwt::new("a.b.c")),
        "IdentityJwt(<redacted>)"
    );
}
