//! The loudly named decodes that check no signature: for shape checks and diagnoses, never for a
//! trust decision.

use super::{MAX_TOKEN_BYTES, split};
use crate::error::JwtError;
use crate::record::AgentIdentityRecord;
use crate::types::IdentityJwt;

/// Decodes a token's record **without checking its signature, issuer, audience or times**.
///
/// Anyone can forge a token that passes this. It exists for shape checks and for showing what a
/// token claims before it can be verified; never use its result to make a trust decision. The
/// claims' types and the embedded private key are still checked.
///
/// # Errors
/// A [`JwtError`] for a token that is too large, malformed, or whose claims are invalid.
pub fn insecure_decode_unverified(token: &IdentityJwt) -> Result<AgentIdentityRecord, JwtError> {
    let parts = split(token.expose_secret(), MAX_TOKEN_BYTES)?;
    parts.header()?;
    AgentIdentityRecord::from_payload(token.clone(), &parts.payload()?)
}

/// A token's header as written, **not verified**: the `alg` and `kid` it claims.
///
/// From [`insecure_decode_header`]; for showing which key a token names before it can be
/// verified, never for a trust decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnverifiedHeader {
    alg: Option<String>,
    kid: Option<String>,
}

impl UnverifiedHeader {
    /// The `alg` the header names, if any.
    pub fn alg(&self) -> Option<&str> {
        self.alg.as_deref()
    }

    /// The `kid` the header names, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// Decodes a token's header **without checking anything it says**: the `alg` and `kid` it
/// claims, for a diagnosis ("the token names key X, the key set holds Y").
///
/// Anyone can write any header; never use the result to decide trust. The header holds no
/// secret, so the result may be shown.
///
/// # Errors
/// [`JwtError::TooLarge`] or [`JwtError::Malformed`] for a token that is not a compact JWS
/// with a JSON header.
pub fn insecure_decode_header(token: &IdentityJwt) -> Result<UnverifiedHeader, JwtError> {
    let header = split(token.expose_secret(), MAX_TOKEN_BYTES)?.header()?;
    Ok(UnverifiedHeader {
        alg: header.alg,
        kid: header.kid,
    })
}
