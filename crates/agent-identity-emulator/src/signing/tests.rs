//! Unit tests for the signing keys: JWK shapes, header fields, and signatures that verify.

use agent_identity_jwt::SigningAlgorithm;
use aws_lc_rs::signature::{
    ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents, UnparsedPublicKey,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::IssuerKey;
use crate::error::EmulatorError;

fn claims() -> Map<String, Value> {
    let Value::Object(map) = json!({ "sub": "x", "n": 1 }) else {
        unreachable!()
    };
    map
}

fn b64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text)
        .expect("base64url without padding")
}

fn split(token: &str) -> (Value, Value, Vec<u8>, String) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    (
        serde_json::from_slice(&b64(parts[0])).expect("header json"),
        serde_json::from_slice(&b64(parts[1])).expect("payload json"),
        b64(parts[2]),
        format!("{}.{}", parts[0], parts[1]),
    )
}

#[test]
fn ed25519_token_has_the_jose_header_and_verifies_with_the_published_x() {
    let key = IssuerKey::generate(SigningAlgorithm::EdDsa).expect("key");
    assert!(key.kid().starts_with("emulator-"));
    let jwk = key.jwk().expect("jwk");
    let token = key.sign_jwt(key.kid(), &claims()).expect("sign");
    let (header, payload, signature, signed) = split(&token);
    assert_eq!(
        header,
        json!({ "alg": "EdDSA", "kid": key.kid(), "typ": "JWT" })
    );
    assert_eq!(payload, Value::Object(claims()));
    let x = b64(jwk["x"].as_str().expect("x"));
    UnparsedPublicKey::new(&ED25519, &x)
        .verify(signed.as_bytes(), &signature)
        .expect("the signature verifies with the JWK");
}

#[test]
fn rsa_token_verifies_with_the_published_modulus_and_exponent() {
    let key = IssuerKey::generate(SigningAlgorithm::Rs256).expect("key");
    assert_eq!(key.algorithm(), SigningAlgorithm::Rs256);
    let jwk = key.jwk().expect("jwk");
    assert_eq!(jwk["kty"], "RSA");
    assert_eq!(jwk["alg"], "RS256");
    let token = key.sign_jwt("other-kid", &claims()).expect("sign");
    let (header, _, signature, signed) = split(&token);
    assert_eq!(
        header["kid"], "other-kid",
        "the header names the kid asked for"
    );
    assert_eq!(signature.len(), 256);
    let public = RsaPublicKeyComponents {
        n: b64(jwk["n"].as_str().expect("n")),
        e: b64(jwk["e"].as_str().expect("e")),
    };
    public
        .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
        .expect("the signature verifies with the JWK");
}

#[test]
fn every_key_gets_its_own_kid() {
    let first = IssuerKey::generate(SigningAlgorithm::EdDsa).expect("key");
    let second = IssuerKey::generate(SigningAlgorithm::EdDsa).expect("key");
    assert_ne!(first.kid(), second.kid());
}

#[test]
fn algorithms_other_than_eddsa_and_rs256_are_unsupported() {
    for algorithm in [
        SigningAlgorithm::Es256,
        SigningAlgorithm::Ps256,
        SigningAlgorithm::Rs512,
    ] {
        let error = IssuerKey::generate(algorithm).expect_err("unsupported");
        assert!(matches!(error, EmulatorError::UnsupportedAlgorithm(found) if found == algorithm));
    }
}

#[test]
fn debug_shows_the_kid_but_no_key_material() {
    let key = IssuerKey::generate(SigningAlgorithm::EdDsa).expect("key");
    let debug = format!("{key:?}");
    assert!(debug.contains(key.kid()));
    assert!(!debug.contains(key.jwk().expect("jwk")["x"].as_str().expect("x")));
}
