//! Identity tokens signed with the vectors' test-only RSA key, which the vectors' JWK Set trusts.

use std::time::{SystemTime, UNIX_EPOCH};

use agent_identity_jwt::IdentityJwt;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::vectors::{Ed25519Vector, first_vector, vectors};

/// The key id of the vectors' only JWK, `jwt.jwks.keys[0].kid`.
pub const KID: &str = "shared-key-1";

/// 3600 s: how long [`claims`] and [`valid_token`] stay valid, far longer than any test runs.
pub const VALIDITY_SECS: u64 = 3600;

/// The wall clock in Unix seconds, what `iat` and `exp` are counted in.
pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_else(|e| panic!("the clock is before 1970: {e}"))
        .as_secs()
}

/// Who a minted token names.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// `agent_runtime_id`.
    pub runtime_id: &'a str,
    /// `agent_private_key`.
    pub private_key_pkcs8_base64: &'a str,
    /// `account_id`.
    pub account_id: &'a str,
    /// `chatgpt_account_is_fedramp`.
    pub fedramp: bool,
}

impl<'a> Identity<'a> {
    /// The vector's runtime and key, account `account-1`, not FedRAMP.
    pub fn for_vector(vector: &'a Ed25519Vector) -> Self {
        Self {
            runtime_id: &vector.agent_runtime_id,
            private_key_pkcs8_base64: &vector.private_key_pkcs8_base64,
            account_id: "account-1",
            fedramp: false,
        }
    }

    /// Every claim of wire-format §1 for this identity, issued now, expiring at `exp`.
    pub fn claims(&self, exp: u64) -> Value {
        json!({
            "iss": vectors().jwt.issuer,
            "aud": vectors().jwt.audience,
            "iat": now_secs(),
            "exp": exp,
            "agent_runtime_id": self.runtime_id,
            "agent_private_key": self.private_key_pkcs8_base64,
            "account_id": self.account_id,
            "chatgpt_user_id": "user-1",
            "email": "user@example.com",
            "plan_type": "pro",
            "chatgpt_account_is_fedramp": self.fedramp,
        })
    }
}

/// The claims of the first vector's identity (`agent-123`), valid for [`VALIDITY_SECS`].
pub fn claims() -> Value {
    claims_for(&first_vector().agent_runtime_id, now_secs() + VALIDITY_SECS)
}

/// The first vector's identity under another runtime id, expiring at `exp`.
pub fn claims_for(runtime: &str, exp: u64) -> Value {
    Identity {
        runtime_id: runtime,
        ..Identity::for_vector(first_vector())
    }
    .claims(exp)
}

/// [`claims`] with one field replaced, or removed when `value` is `Value::Null`.
pub fn claims_with(field: &str, value: Value) -> Value {
    let mut claims = claims();
    let map = claims
        .as_object_mut()
        .unwrap_or_else(|| panic!("claims are an object"));
    if value.is_null() {
        map.remove(field);
    } else {
        map.insert(field.to_owned(), value);
    }
    claims
}

/// The vectors' test-only RSA private key, for tokens signed with another RSA algorithm.
pub fn encoding_key() -> EncodingKey {
    EncodingKey::from_rsa_pem(vectors().jwt.rsa_private_key_pem_for_minting.as_bytes())
        .unwrap_or_else(|e| panic!("the vectors' RSA key: {e}"))
}

/// `claims` signed RS256 with the vectors' RSA key under `kid` (no `kid` header for `None`).
pub fn mint_with_kid(claims: &Value, kid: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, &encoding_key()).unwrap_or_else(|e| panic!("mint: {e}"))
}

/// `claims` signed RS256 with the vectors' RSA key under [`KID`].
pub fn mint(claims: &Value) -> String {
    mint_with_kid(claims, Some(KID))
}

/// A token for `identity`, valid for [`VALIDITY_SECS`], under [`KID`].
pub fn mint_identity(identity: &Identity<'_>) -> String {
    mint(&identity.claims(now_secs() + VALIDITY_SECS))
}

/// A valid token for runtime `runtime`, signed under `kid`, expiring at `exp`.
pub fn token(runtime: &str, kid: &str, exp: u64) -> IdentityJwt {
    IdentityJwt::new(mint_with_kid(&claims_for(runtime, exp), Some(kid)))
}

/// A token for the first vector's identity under [`KID`], valid for [`VALIDITY_SECS`].
pub fn valid_token() -> IdentityJwt {
    IdentityJwt::new(mint(&claims()))
}

/// A token for `agent-123` whose `agent_private_key` is a PKCS#8 v2 document embedding a public
/// key that is not its seed's: well-formed, but unable to sign.
pub fn token_with_inconsistent_key() -> IdentityJwt {
    // PKCS#8 v2 (RFC 8410): version 1, the Ed25519 OID, a 32-byte seed of 7s, and a
    // `[1] publicKey` of 9s, which is not the seed's public key.
    let mut der = vec![
        0x30, 0x51, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
    ];
    der.extend_from_slice(&[0x04, 0x22, 0x04, 0x20]);
    der.extend_from_slice(&[7u8; 32]);
    der.extend_from_slice(&[0x81, 0x21, 0x00]);
    der.extend_from_slice(&[9u8; 32]);
    let mut claims = claims();
    claims["agent_private_key"] = json!(STANDARD.encode(der));
    IdentityJwt::new(mint(&claims))
}
