//! The emulator's token-signing keys: Ed25519 (EdDSA) or RSA-2048 (RS256), their JWKs, and
//! compact JWS signing.

use std::fmt;

use agent_identity_jwt::{AgentKey, SigningAlgorithm};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::error::EmulatorError;
use crate::random::hex_id;

/// One signing key and the `kid` it is published under.
pub(crate) struct IssuerKey {
    kid: String,
    material: Material,
}

enum Material {
    Ed25519(AgentKey),
    Rsa(RsaKeyPair),
}

impl IssuerKey {
    /// Generates a key for `algorithm` under a fresh random `kid`.
    ///
    /// # Errors
    /// [`EmulatorError::UnsupportedAlgorithm`] for anything but EdDSA and RS256, and
    /// [`EmulatorError::KeyGeneration`] or [`EmulatorError::Random`] when generation fails.
    pub(crate) fn generate(algorithm: SigningAlgorithm) -> Result<Self, EmulatorError> {
        let material = match algorithm {
            SigningAlgorithm::EdDsa => Material::Ed25519(
                AgentKey::generate().map_err(|_| EmulatorError::KeyGeneration("Ed25519"))?,
            ),
            SigningAlgorithm::Rs256 => Material::Rsa(
                RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| EmulatorError::KeyGeneration("RSA-2048"))?,
            ),
            other => return Err(EmulatorError::UnsupportedAlgorithm(other)),
        };
        Ok(Self {
            kid: hex_id("emulator-", 8)?,
            material,
        })
    }

    /// The `kid` this key is published under.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub(crate) fn algorithm(&self) -> SigningAlgorithm {
        match self.material {
            Material::Ed25519(_) => SigningAlgorithm::EdDsa,
            Material::Rsa(_) => SigningAlgorithm::Rs256,
        }
    }

    /// The public JWK, as the JWKS endpoint publishes it.
    ///
    /// # Errors
    /// [`EmulatorError::Signing`] if the Ed25519 public key cannot be derived (it always can for a
    /// generated key).
    pub(crate) fn jwk(&self) -> Result<Value, EmulatorError> {
        Ok(match &self.material {
            Material::Ed25519(key) => {
                let public = key.public_key().map_err(|_| EmulatorError::Signing)?;
                json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "kid": self.kid,
                    "x": URL_SAFE_NO_PAD.encode(public),
                    "use": "sig",
                    "alg": "EdDSA",
                })
            }
            Material::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "kid": self.kid,
                    "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                    "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero()),
                    "use": "sig",
                    "alg": "RS256",
                })
            }
        })
    }

    /// Signs `claims` as a compact JWS whose header names `kid` (normally this key's own; a test
    /// may pass another to produce a token with an unknown `kid`).
    ///
    /// # Errors
    /// [`EmulatorError::Signing`] when the signature cannot be made.
    pub(crate) fn sign_jwt(
        &self,
        kid: &str,
        claims: &Map<String, Value>,
    ) -> Result<String, EmulatorError> {
        let header = json!({ "alg": self.algorithm().as_str(), "kid": kid, "typ": "JWT" });
        let mut text = URL_SAFE_NO_PAD.encode(header.to_string());
        text.push('.');
        text.push_str(&URL_SAFE_NO_PAD.encode(Value::Object(claims.clone()).to_string()));
        let signature = match &self.material {
            Material::Ed25519(key) => key
                .sign(text.as_bytes())
                .map_err(|_| EmulatorError::Signing)?
                .to_vec(),
            Material::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    text.as_bytes(),
                    &mut signature,
                )
                .map_err(|_| EmulatorError::Signing)?;
                signature
            }
        };
        text.push('.');
        text.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(text)
    }
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
