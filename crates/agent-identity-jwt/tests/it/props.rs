//! Property tests: no input makes verification or decoding panic, and every failure is typed.

use agent_identity_jwt::{IdentityJwt, StaticJwksSource, Verifier, insecure_decode_unverified};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

use agent_identity_test_support::vectors::jwks_json;

fn verify_blocking(token: &str) -> Result<(), agent_identity_jwt::JwtError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let verifier =
        Verifier::builder(StaticJwksSource::from_json(jwks_json()).expect("JWKS")).build();
    runtime
        .block_on(verifier.verify(&IdentityJwt::new(token)))
        .map(drop)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes);
        let error = verify_blocking(&text).expect_err("random bytes are not a token");
        prop_assert!(!error.kind().is_empty());
        prop_assert!(insecure_decode_unverified(&IdentityJwt::new(text.as_ref())).is_err());
    }

    #[test]
    fn arbitrary_three_segment_strings_never_panic(
        header in "[A-Za-z0-9_-]{0,64}",
        payload in "[A-Za-z0-9_-]{0,128}",
        signature in "[A-Za-z0-9_-]{0,64}",
    ) {
        let token = format!("{header}.{payload}.{signature}");
        prop_assert!(verify_blocking(&token).is_err());
    }

    #[test]
    fn arbitrary_json_segments_never_panic(
        header in proptest::option::of(r#"\{"alg":"[A-Z0-9a-z]{0,6}"(,"kid":"[a-z0-9-]{0,16}")?\}"#),
        payload in r#"\{("[a-z_]{1,20}":("[ -~]{0,20}"|[0-9]{1,12}|true|null|\[\]),?){0,6}\}"#,
        signature in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let header = header.unwrap_or_else(|| r#"{"alg":"RS256","kid":"shared-key-1"}"#.to_owned());
        let token = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(signature),
        );
        let error = verify_blocking(&token).expect_err("forged tokens never verify");
        prop_assert!(!error.is_transient());
    }

    #[test]
    fn arbitrary_pkcs8_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        let _ = agent_identity_jwt::AgentKey::from_pkcs8_der(&bytes);
    }
}
