//! The agent key's own tests: PKCS#8 v1 and v2 parsing, round trips, signatures and the X25519 secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::*;

/// The first vector's seed (bytes of 0x07) and its public key, from the shared vectors file.
const V1_BASE64: &str = "MC4CAQAwBQYDK2VwBCIEIAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH";
const PUBLIC_BASE64: &str = "6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=";

fn v2_der(public: &[u8], explicit: bool) -> Vec<u8> {
    let seed = [7u8; 32];
    let mut body = vec![0x02, 0x01, 0x01];
    body.extend_from_slice(&ED25519_ALGORITHM_ID);
    body.extend_from_slice(&[0x04, 0x22, 0x04, 0x20]);
    body.extend_from_slice(&seed);
    if explicit {
        body.extend_from_slice(&[0xa1, 0x23, 0x03, 0x21, 0x00]);
    } else {
        body.extend_from_slice(&[0x81, 0x21, 0x00]);
    }
    body.extend_from_slice(public);
    let mut der = vec![0x30, u8::try_from(body.len()).expect("short")];
    der.extend_from_slice(&body);
    der
}

#[test]
fn v1_key_parses_and_derives_the_vector_public_key() {
    let key = AgentKey::from_pkcs8_base64(V1_BASE64).expect("v1");
    assert_eq!(
        STANDARD.encode(key.public_key().expect("public")),
        PUBLIC_BASE64
    );
}

#[test]
fn v2_key_with_matching_public_key_parses_in_both_encodings() {
    let public = STANDARD.decode(PUBLIC_BASE64).expect("b64");
    for explicit in [false, true] {
        let key = AgentKey::from_pkcs8_der(&v2_der(&public, explicit)).expect("v2");
        key.check().expect("consistent");
        assert_eq!(
            key.public_key().expect("public").as_slice(),
            public.as_slice()
        );
    }
}

#[test]
fn v2_key_with_a_foreign_public_key_cannot_sign() {
    let key = AgentKey::from_pkcs8_der(&v2_der(&[9u8; 32], false)).expect("structurally fine");
    assert_eq!(key.check(), Err(KeyError::InconsistentPublicKey));
    assert_eq!(key.sign(b"m"), Err(KeyError::InconsistentPublicKey));
}

#[test]
fn structural_garbage_is_rejected() {
    let good = STANDARD.decode(V1_BASE64).expect("b64");
    let mut trailing = good.clone();
    trailing.push(0);
    let mut short_seed = good.clone();
    short_seed.truncate(good.len() - 1);
    let mut bad_version = good.clone();
    bad_version[4] = 2;
    for (name, der) in [
        ("trailing", trailing),
        ("short", short_seed),
        ("version", bad_version),
        ("empty", vec![]),
    ] {
        assert!(AgentKey::from_pkcs8_der(&der).is_err(), "{name}");
    }
}

#[test]
fn pkcs8_round_trips() {
    let key = AgentKey::from_pkcs8_base64(V1_BASE64).expect("v1");
    assert_eq!(key.to_pkcs8_base64().as_str(), V1_BASE64);
    let fresh = AgentKey::generate().expect("random");
    let again = AgentKey::from_pkcs8_base64(&fresh.to_pkcs8_base64()).expect("round trip");
    assert_eq!(fresh.public_key(), again.public_key());
}

#[test]
fn signatures_verify_under_the_public_key() {
    let key = AgentKey::generate().expect("random");
    let signature = key.sign(b"payload").expect("sign");
    let public = key.public_key().expect("public");
    let verifier =
        aws_lc_rs::signature::UnparsedPublicKey::new(&aws_lc_rs::signature::ED25519, public);
    verifier.verify(b"payload", &signature).expect("verifies");
    assert!(verifier.verify(b"other", &signature).is_err());
}

#[test]
fn x25519_secret_is_clamped_sha512_of_the_seed() {
    let key = AgentKey::from_seed([7u8; 32]);
    let secret = key.x25519_secret();
    let hash = digest::digest(&digest::SHA512, &[7u8; 32]);
    assert_eq!(secret[1..31], hash.as_ref()[1..31]);
    assert_eq!(secret[0] & 7, 0);
    assert_eq!(secret[31] & 0xc0, 0x40);
}

#[test]
fn checking_a_v1_key_derives_nothing_and_its_first_signature_does() {
    let key = AgentKey::from_pkcs8_base64(V1_BASE64).expect("v1");
    key.check().expect("a v1 key can always sign");
    assert!(
        key.inner.pair.get().is_none(),
        "the check derived the key pair"
    );
    key.sign(b"m").expect("sign");
    assert!(key.inner.pair.get().is_some());
}
