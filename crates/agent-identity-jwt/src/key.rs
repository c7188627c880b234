//! The agent's Ed25519 private key: parsed once from PKCS#8, zeroized on drop, never printed.

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::{Zeroize as _, Zeroizing};

/// Length of an Ed25519 seed, public key, and X25519 key.
const KEY_LEN: usize = 32;

/// DER of the PKCS#8 `AlgorithmIdentifier` for Ed25519 (RFC 8410: OID 1.3.101.112, no parameters).
const ED25519_ALGORITHM_ID: [u8; 7] = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

/// Why bytes were not accepted as an Ed25519 PKCS#8 private key.
///
/// The messages name the structural problem only; they never contain key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The text was not standard base64.
    #[error("the private key is not standard base64")]
    NotBase64,
    /// The DER structure is not a PKCS#8 `OneAsymmetricKey`.
    #[error("the private key is not PKCS#8 DER ({0})")]
    NotPkcs8(&'static str),
    /// The PKCS#8 document holds a key for another algorithm.
    #[error("the private key is not an Ed25519 key")]
    NotEd25519,
    /// The embedded public key (PKCS#8 v2) does not belong to the seed.
    #[error("the private key's embedded public key does not match its seed")]
    InconsistentPublicKey,
    /// The system random source failed while generating a key.
    #[error("the system random source failed")]
    Random,
}

impl KeyError {
    /// A stable snake_case name, for logs and machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::NotBase64 => "not_base64",
            Self::NotPkcs8(_) => "not_pkcs8",
            Self::NotEd25519 => "not_ed25519",
            Self::InconsistentPublicKey => "inconsistent_public_key",
            Self::Random => "random",
        }
    }
}

/// An agent's Ed25519 private key.
///
/// Parsed once, from the `agent_private_key` claim, in either the 48-byte PKCS#8 v1 form or the v2
/// form that embeds the public key. The seed is zeroized when the last clone is dropped, and
/// neither `Debug` nor any error ever prints it. Clones share one allocation.
#[derive(Clone)]
pub struct AgentKey {
    inner: Arc<KeyInner>,
}

struct KeyInner {
    seed: Zeroizing<[u8; KEY_LEN]>,
    /// The public key the PKCS#8 v2 document claims, checked against the seed when the key pair is built.
    embedded_public: Option<[u8; KEY_LEN]>,
    /// Built on first use: deriving the public key is a scalar multiplication, which token
    /// verification should not pay for when the caller only reads claims.
    pair: OnceLock<Result<Ed25519KeyPair, KeyError>>,
}

impl AgentKey {
    /// Parses standard base64 (with padding) of a PKCS#8 DER Ed25519 private key, v1 or v2.
    ///
    /// # Errors
    /// [`KeyError`] when the text is not base64 or the DER is not an Ed25519 PKCS#8 key.
    pub fn from_pkcs8_base64(text: &str) -> Result<Self, KeyError> {
        let der = Zeroizing::new(
            STANDARD
                .decode(text.trim())
                .map_err(|_| KeyError::NotBase64)?,
        );
        Self::from_pkcs8_der(&der)
    }

    /// Parses PKCS#8 DER of an Ed25519 private key, v1 (RFC 5208) or v2 (RFC 5958).
    ///
    /// # Errors
    /// [`KeyError`] when the DER is not an Ed25519 PKCS#8 key.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, KeyError> {
        let (seed, embedded_public) = parse_pkcs8(der)?;
        Ok(Self::from_parts(seed, embedded_public))
    }

    /// Builds a key from a raw 32-byte Ed25519 seed.
    pub fn from_seed(seed: [u8; KEY_LEN]) -> Self {
        Self::from_parts(Zeroizing::new(seed), None)
    }

    /// Generates a fresh random key (for emulators and tests that mint identities).
    ///
    /// # Errors
    /// [`KeyError::Random`] only if the system random source fails.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; KEY_LEN]);
        aws_lc_rs::rand::fill(&mut seed[..]).map_err(|_| KeyError::Random)?;
        Ok(Self::from_parts(seed, None))
    }

    fn from_parts(seed: Zeroizing<[u8; KEY_LEN]>, embedded_public: Option<[u8; KEY_LEN]>) -> Self {
        Self {
            inner: Arc::new(KeyInner {
                seed,
                embedded_public,
                pair: OnceLock::new(),
            }),
        }
    }

    fn pair(&self) -> Result<&Ed25519KeyPair, KeyError> {
        let inner = &*self.inner;
        inner
            .pair
            .get_or_init(|| {
                let built = match &inner.embedded_public {
                    Some(public) => {
                        Ed25519KeyPair::from_seed_and_public_key(&inner.seed[..], public)
                    }
                    None => Ed25519KeyPair::from_seed_unchecked(&inner.seed[..]),
                };
                built.map_err(|_| KeyError::InconsistentPublicKey)
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Checks that the key can sign: for a v2 key, that its embedded public key matches the seed.
    ///
    /// Every 32-byte seed is an Ed25519 private key, so a key without an embedded public key
    /// (PKCS#8 v1, or a raw seed) can always sign: checking it derives nothing, and the scalar
    /// multiplication that derives its public key waits for the first signature.
    ///
    /// # Errors
    /// [`KeyError::InconsistentPublicKey`] when it does not.
    pub fn check(&self) -> Result<(), KeyError> {
        if self.inner.embedded_public.is_none() {
            return Ok(());
        }
        self.pair().map(|_| ())
    }

    /// The raw 32-byte Ed25519 public key.
    ///
    /// # Errors
    /// [`KeyError::InconsistentPublicKey`] for a v2 key whose embedded public key is not the seed's.
    pub fn public_key(&self) -> Result<[u8; KEY_LEN], KeyError> {
        let mut out = [0u8; KEY_LEN];
        out.copy_from_slice(self.pair()?.public_key().as_ref());
        Ok(out)
    }

    /// Signs `message` with Ed25519 (deterministic, RFC 8032).
    ///
    /// # Errors
    /// [`KeyError::InconsistentPublicKey`] for a v2 key whose embedded public key is not the seed's.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        let signature = self.pair()?.sign(message);
        let mut out = [0u8; 64];
        out.copy_from_slice(signature.as_ref());
        Ok(out)
    }

    /// The X25519 secret key that sealed boxes addressed to this agent open with.
    ///
    /// SHA-512 of the seed, first 32 bytes, clamped: libsodium's `crypto_sign_ed25519_sk_to_curve25519`.
    pub fn x25519_secret(&self) -> Zeroizing<[u8; KEY_LEN]> {
        // aws-lc-rs's `Digest` lives on the stack and is not zeroized; it is dropped at once.
        let hash = digest::digest(&digest::SHA512, &self.inner.seed[..]);
        let mut out = Zeroizing::new([0u8; KEY_LEN]);
        out.copy_from_slice(&hash.as_ref()[..KEY_LEN]);
        out[0] &= 248;
        out[31] &= 127;
        out[31] |= 64;
        out
    }

    /// The key as standard base64 of PKCS#8 v1 DER, the form the `agent_private_key` claim carries.
    ///
    /// The result is a secret; it is zeroized on drop.
    pub fn to_pkcs8_base64(&self) -> Zeroizing<String> {
        let mut der = Zeroizing::new(Vec::with_capacity(48));
        der.extend_from_slice(&[0x30, 0x2e, 0x02, 0x01, 0x00]);
        der.extend_from_slice(&ED25519_ALGORITHM_ID);
        der.extend_from_slice(&[0x04, 0x22, 0x04, 0x20]);
        der.extend_from_slice(&self.inner.seed[..]);
        Zeroizing::new(STANDARD.encode(&der[..]))
    }
}

impl fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AgentKey(<redacted>)")
    }
}

impl Drop for KeyInner {
    fn drop(&mut self) {
        // `Zeroizing` wipes the seed; this also wipes the copy of the claimed public key, which is
        // not secret but costs nothing to clear.
        if let Some(public) = self.embedded_public.as_mut() {
            public.zeroize();
        }
    }
}

/// A minimal DER reader over exactly the shapes an Ed25519 PKCS#8 document can take.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    /// Reads one TLV with a definite length of at most two length bytes; returns (tag, contents).
    fn next(&mut self) -> Result<(u8, &'a [u8]), KeyError> {
        let [tag, first, rest @ ..] = self.rest else {
            return Err(KeyError::NotPkcs8("truncated"));
        };
        let (len, rest) = match *first {
            n if n < 0x80 => (usize::from(n), rest),
            0x81 => match rest {
                [n, rest @ ..] if *n >= 0x80 => (usize::from(*n), rest),
                _ => return Err(KeyError::NotPkcs8("non-minimal length")),
            },
            0x82 => match rest {
                [hi, lo, rest @ ..] if *hi != 0 => (usize::from(*hi) << 8 | usize::from(*lo), rest),
                _ => return Err(KeyError::NotPkcs8("non-minimal length")),
            },
            _ => return Err(KeyError::NotPkcs8("unsupported length")),
        };
        if rest.len() < len {
            return Err(KeyError::NotPkcs8("truncated"));
        }
        let (contents, rest) = rest.split_at(len);
        self.rest = rest;
        Ok((*tag, contents))
    }

    fn expect(&mut self, tag: u8, what: &'static str) -> Result<&'a [u8], KeyError> {
        match self.next()? {
            (found, contents) if found == tag => Ok(contents),
            _ => Err(KeyError::NotPkcs8(what)),
        }
    }
}

/// Parses `OneAsymmetricKey` (RFC 5958), accepting v1 and v2, and returns the seed and any embedded public key.
/// A parsed seed and the public key a v2 document may embed.
type Pkcs8Parts = (Zeroizing<[u8; KEY_LEN]>, Option<[u8; KEY_LEN]>);

fn parse_pkcs8(der: &[u8]) -> Result<Pkcs8Parts, KeyError> {
    let mut outer = Der { rest: der };
    let body = outer.expect(0x30, "expected a SEQUENCE")?;
    if !outer.rest.is_empty() {
        return Err(KeyError::NotPkcs8("trailing bytes"));
    }
    let mut fields = Der { rest: body };
    let version = fields.expect(0x02, "expected a version INTEGER")?;
    if version != [0] && version != [1] {
        return Err(KeyError::NotPkcs8("unsupported version"));
    }
    let algorithm = fields.expect(0x30, "expected an AlgorithmIdentifier")?;
    if algorithm != &ED25519_ALGORITHM_ID[2..] {
        return Err(KeyError::NotEd25519);
    }
    let wrapped = fields.expect(0x04, "expected the private key OCTET STRING")?;
    let mut inner = Der { rest: wrapped };
    let seed_bytes = inner.expect(0x04, "expected the CurvePrivateKey OCTET STRING")?;
    if !inner.rest.is_empty() || seed_bytes.len() != KEY_LEN {
        return Err(KeyError::NotEd25519);
    }
    let mut seed = Zeroizing::new([0u8; KEY_LEN]);
    seed.copy_from_slice(seed_bytes);

    let mut embedded_public = None;
    while !fields.rest.is_empty() {
        match fields.next()? {
            // [0] IMPLICIT attributes: allowed and ignored.
            (0xa0, _) if embedded_public.is_none() => {}
            // [1] IMPLICIT BIT STRING publicKey (RFC 5958), only in v2.
            (0x81, bits) if version == [1] && embedded_public.is_none() => {
                embedded_public = Some(public_from_bit_string(bits)?);
            }
            // Some encoders wrap the BIT STRING in an explicit [1] tag.
            (0xa1, wrapped) if version == [1] && embedded_public.is_none() => {
                let mut explicit = Der { rest: wrapped };
                let bits = explicit.expect(0x03, "expected a BIT STRING public key")?;
                if !explicit.rest.is_empty() {
                    return Err(KeyError::NotPkcs8("trailing bytes"));
                }
                embedded_public = Some(public_from_bit_string(bits)?);
            }
            _ => return Err(KeyError::NotPkcs8("unexpected field")),
        }
    }
    Ok((seed, embedded_public))
}

fn public_from_bit_string(bits: &[u8]) -> Result<[u8; KEY_LEN], KeyError> {
    match bits {
        [0, key @ ..] if key.len() == KEY_LEN => {
            let mut out = [0u8; KEY_LEN];
            out.copy_from_slice(key);
            Ok(out)
        }
        _ => Err(KeyError::NotPkcs8("malformed public key")),
    }
}

#[cfg(test)]
mod tests;
