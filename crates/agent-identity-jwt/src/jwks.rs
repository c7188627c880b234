//! Turning a JWK Set into verification keys: skip what is unusable, build each key once.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use jwks_client_rs::{JsonWebKey, JsonWebKeySet};
use serde_json::Value;

use crate::algorithm::{Family, SigningAlgorithm};

/// Parses JWK Set JSON, keeping only keys we can verify with and warning about the rest.
///
/// A key is skipped, not fatal, when it has no `kid`, a `use` other than `sig`, a `kty` other than
/// `RSA`, `EC` or `OKP`, an `alg` that is not an asymmetric signature algorithm, or (for OKP) is not
/// an Ed25519 key of exactly 32 bytes. One bad key must not take the others down with it.
///
/// # Errors
/// A message (never key material) when the document is not JSON or has no `keys` array.
pub(crate) fn parse_key_set(json: &[u8]) -> Result<JsonWebKeySet, String> {
    let document: Value =
        serde_json::from_slice(json).map_err(|_| "the key set is not JSON".to_owned())?;
    let Some(keys) = document.get("keys").and_then(Value::as_array) else {
        return Err("the key set has no \"keys\" array".to_owned());
    };
    let mut usable = Vec::with_capacity(keys.len());
    for (index, key) in keys.iter().enumerate() {
        match usable_key(key) {
            Ok(jwk) => usable.push(jwk),
            Err(reason) => tracing::warn!(index, reason, "skipping an unusable key in the key set"),
        }
    }
    Ok(JsonWebKeySet::from(usable))
}

fn usable_key(key: &Value) -> Result<JsonWebKey, &'static str> {
    let field = |name: &str| key.get(name).and_then(Value::as_str);
    if !key.is_object() {
        return Err("not a JSON object");
    }
    if field("kid").is_none_or(str::is_empty) {
        return Err("no kid");
    }
    if key.get("use").is_some() && field("use") != Some("sig") {
        return Err("use is not sig");
    }
    if let Some(alg) = key.get("alg") {
        let alg = alg.as_str().ok_or("alg is not a string")?;
        if SigningAlgorithm::parse(alg).is_none() {
            return Err("alg is not an allowed signature algorithm");
        }
    }
    match field("kty") {
        Some("RSA" | "EC") => {}
        Some("OKP") => {
            if field("crv") != Some("Ed25519") {
                return Err("OKP key is not Ed25519");
            }
            let x = field("x").ok_or("OKP key has no x")?;
            match URL_SAFE_NO_PAD.decode(x) {
                Ok(bytes) if bytes.len() == 32 => {}
                _ => return Err("Ed25519 key is not 32 bytes"),
            }
        }
        _ => return Err("unsupported kty"),
    }
    serde_json::from_value(key.clone()).map_err(|_| "key fields are missing or mistyped")
}

/// A key ready to verify with: its `DecodingKey` is built once per fetch, never per token.
pub(crate) struct VerifyingKey {
    pub(crate) decoding: DecodingKey,
    family: Family,
    /// The JWK's own `alg`, when it names one: then only that algorithm may be used with it.
    alg: Option<SigningAlgorithm>,
    /// For EC keys, the one algorithm the curve allows.
    curve_alg: Option<SigningAlgorithm>,
}

impl VerifyingKey {
    /// The jsonwebtoken algorithm to verify `alg` with, if this key may be used for it.
    pub(crate) fn accepts(&self, alg: SigningAlgorithm) -> Option<Algorithm> {
        let allowed = match (self.alg, self.curve_alg) {
            (Some(own), _) => own == alg,
            (None, Some(curve)) => curve == alg,
            (None, None) => alg.family() == self.family,
        };
        allowed.then(|| alg.to_jsonwebtoken())
    }
}

/// Builds the verification keys of a set, keyed by `kid`, keeping the first of any duplicates.
/// A JWK Set document of `keys`, as JSON: what the cache persists and [`parse_key_set`] reads
/// back. Only the fields verification uses are written.
pub(crate) fn key_set_json(keys: &[JsonWebKey]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|jwk| {
            let mut key = match jwk {
                JsonWebKey::Rsa(rsa) => serde_json::json!({
                    "kty": "RSA", "kid": rsa.key_id(), "n": rsa.modulus(), "e": rsa.exponent(),
                }),
                JsonWebKey::Ec(ec) => serde_json::json!({
                    "kty": "EC", "kid": ec.key_id(), "crv": ec.curve(), "x": ec.x(), "y": ec.y(),
                }),
                JsonWebKey::Okp(okp) => serde_json::json!({
                    "kty": "OKP", "kid": okp.key_id(), "crv": okp.curve(), "x": okp.x(),
                }),
            };
            if let Some(alg) = jwk.alg() {
                key["alg"] = Value::String(alg.to_owned());
            }
            key
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

pub(crate) fn build_keys(set: JsonWebKeySet) -> HashMap<String, Arc<VerifyingKey>> {
    let mut out = HashMap::new();
    for jwk in set.keys() {
        let kid = jwk.key_id().to_owned();
        if out.contains_key(&kid) {
            tracing::warn!(kid = %kid, "skipping a duplicate kid in the key set");
            continue;
        }
        match verifying_key(&jwk) {
            Ok(key) => {
                out.insert(kid, Arc::new(key));
            }
            Err(reason) => {
                tracing::warn!(kid = %kid, reason, "skipping an unusable key in the key set")
            }
        }
    }
    out
}

fn verifying_key(jwk: &JsonWebKey) -> Result<VerifyingKey, &'static str> {
    let alg = match jwk.alg() {
        Some(name) => {
            Some(SigningAlgorithm::parse(name).ok_or("alg is not an allowed signature algorithm")?)
        }
        None => None,
    };
    let (decoding, family, curve_alg) = match jwk {
        JsonWebKey::Rsa(rsa) => (
            DecodingKey::from_rsa_components(rsa.modulus(), rsa.exponent())
                .map_err(|_| "bad RSA components")?,
            Family::Rsa,
            None,
        ),
        JsonWebKey::Ec(ec) => {
            let curve_alg = match ec.curve() {
                "P-256" => SigningAlgorithm::Es256,
                "P-384" => SigningAlgorithm::Es384,
                _ => return Err("unsupported EC curve"),
            };
            (
                DecodingKey::from_ec_components(ec.x(), ec.y()).map_err(|_| "bad EC components")?,
                Family::Ec,
                Some(curve_alg),
            )
        }
        JsonWebKey::Okp(okp) => (
            DecodingKey::from_ed_components(okp.x()).map_err(|_| "bad Ed25519 key")?,
            Family::Ed,
            None,
        ),
    };
    if alg.is_some_and(|alg| alg.family() != family) {
        return Err("alg does not fit the key type");
    }
    Ok(VerifyingKey {
        decoding,
        family,
        alg,
        curve_alg,
    })
}
