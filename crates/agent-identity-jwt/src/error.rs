//! The crate's one public error type.

use std::sync::Arc;

use crate::key::KeyError;

/// Why a token was not accepted, or why it could not be checked.
///
/// Callers branch on the variant: everything is a permanent verdict on the token except
/// [`JwtError::KeySourceUnavailable`] and [`JwtError::KidNotYetKnown`], which
/// [`JwtError::is_transient`] reports. No message ever
/// contains token text or key material; attacker-chosen header values (`kid`, `alg`) are
/// shortened before they are shown.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The input is not a compact JWS with a JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The token is larger than the configured bound; it was not parsed.
    #[error("token is {len} bytes, over the {max}-byte limit")]
    TooLarge {
        /// The token's length in bytes.
        len: usize,
        /// The bound.
        max: usize,
    },
    /// The header has no `kid`.
    #[error("token header has no kid")]
    MissingKid,
    /// The `kid` names no key in the key set.
    #[error("token kid {kid:?} is not in the key set")]
    UntrustedKid {
        /// The `kid` from the header, shortened to 64 characters.
        kid: String,
    },
    /// The `kid` is not in the key set as last fetched, and the key set was fetched too recently
    /// to fetch it again (at most once per refetch interval). Transient: the key may have been
    /// rotated in since, and a retry after `retry_after` refetches.
    #[error(
        "token kid {kid:?} is not in the key set yet; the key set is refetched in at most {retry_after:?}"
    )]
    KidNotYetKnown {
        /// The `kid` from the header, shortened to 64 characters.
        kid: String,
        /// How long until a refetch is allowed.
        retry_after: std::time::Duration,
    },
    /// The header's `alg` is not allowed by configuration, or does not fit the key.
    #[error(
        "token algorithm {alg:?} is not among the accepted algorithms [{}]",
        accepted.iter().map(|alg| alg.as_str()).collect::<Vec<_>>().join(", ")
    )]
    AlgorithmNotAllowed {
        /// The `alg` from the header, shortened to 16 characters.
        alg: String,
        /// What would have been accepted: the configured algorithms, or, when the `alg` is
        /// configured but does not fit the key, the configured ones that do.
        accepted: Vec<crate::SigningAlgorithm>,
    },
    /// The signature does not verify under the key the `kid` names.
    #[error("token signature does not verify")]
    BadSignature,
    /// `exp` (plus leeway) is in the past.
    #[error(
        "token expired at {} ({} ago)",
        crate::time::rfc3339(*expired_at),
        crate::time::span(checked_at.saturating_sub(*expired_at))
    )]
    Expired {
        /// The `exp` claim, in seconds since the epoch.
        expired_at: u64,
        /// When it was checked, in seconds since the epoch.
        checked_at: u64,
    },
    /// `nbf` (minus leeway) is in the future.
    #[error(
        "token is not valid before {} (in {}); check this machine's clock",
        crate::time::rfc3339(*not_before),
        crate::time::span(not_before.saturating_sub(*checked_at))
    )]
    NotYetValid {
        /// The `nbf` claim, in seconds since the epoch.
        not_before: u64,
        /// When it was checked, in seconds since the epoch.
        checked_at: u64,
    },
    /// `iss` is not the configured issuer.
    #[error("token issuer is {found:?}, expected {expected:?}")]
    WrongIssuer {
        /// The configured issuer.
        expected: String,
        /// The token's `iss`, shortened to 128 characters.
        found: String,
    },
    /// `aud` does not contain the configured audience.
    #[error(
        "token audience [{}] does not include the expected {expected:?}",
        found.iter().map(|aud| format!("{aud:?}")).collect::<Vec<_>>().join(", ")
    )]
    WrongAudience {
        /// The configured audience.
        expected: String,
        /// The token's `aud` values, at most 8, each shortened to 128 characters.
        found: Vec<String>,
    },
    /// A required claim is absent (or, for string claims, empty).
    #[error("token is missing the required claim {0}")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or an invalid value.
    #[error("token claim {claim} is invalid: {reason}")]
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
        /// What is wrong, never the value itself.
        reason: &'static str,
    },
    /// `agent_private_key` is not an Ed25519 PKCS#8 key.
    #[error("token's agent_private_key is invalid")]
    InvalidPrivateKey(#[source] KeyError),
    /// The key set is malformed (a static key set that does not parse).
    #[error("key set is invalid: {0}")]
    InvalidKeySet(String),
    /// The key set could not be fetched, and no usable cached copy remains. Transient: retry later.
    #[error("key source unavailable")]
    KeySourceUnavailable(#[source] Option<Arc<dyn std::error::Error + Send + Sync>>),
}

impl JwtError {
    /// Whether retrying later may succeed: true for [`JwtError::KeySourceUnavailable`] and
    /// [`JwtError::KidNotYetKnown`]; every other variant is a verdict on the token.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::KeySourceUnavailable(_) | Self::KidNotYetKnown { .. }
        )
    }

    /// A stable snake_case name for the variant, for logs and machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::TooLarge { .. } => "too_large",
            Self::MissingKid => "missing_kid",
            Self::UntrustedKid { .. } => "untrusted_kid",
            Self::KidNotYetKnown { .. } => "kid_not_yet_known",
            Self::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            Self::BadSignature => "bad_signature",
            Self::Expired { .. } => "expired",
            Self::NotYetValid { .. } => "not_yet_valid",
            Self::WrongIssuer { .. } => "wrong_issuer",
            Self::WrongAudience { .. } => "wrong_audience",
            Self::MissingClaim(_) => "missing_claim",
            Self::InvalidClaim { .. } => "invalid_claim",
            Self::InvalidPrivateKey(_) => "invalid_private_key",
            Self::InvalidKeySet(_) => "invalid_key_set",
            Self::KeySourceUnavailable(_) => "key_source_unavailable",
        }
    }

    pub(crate) fn untrusted_kid(kid: &str) -> Self {
        Self::UntrustedKid {
            kid: shorten(kid, 64),
        }
    }

    pub(crate) fn kid_not_yet_known(kid: &str, retry_after: std::time::Duration) -> Self {
        Self::KidNotYetKnown {
            kid: shorten(kid, 64),
            retry_after,
        }
    }

    pub(crate) fn wrong_issuer(expected: &str, found: &str) -> Self {
        Self::WrongIssuer {
            expected: shorten(expected, MAX_CLAIM_SHOWN),
            found: shorten(found, MAX_CLAIM_SHOWN),
        }
    }

    pub(crate) fn wrong_audience<'a>(
        expected: &str,
        found: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        Self::WrongAudience {
            expected: shorten(expected, MAX_CLAIM_SHOWN),
            found: found
                .into_iter()
                .take(MAX_AUDIENCES_SHOWN)
                .map(|aud| shorten(aud, MAX_CLAIM_SHOWN))
                .collect(),
        }
    }

    pub(crate) fn algorithm_not_allowed(alg: &str, accepted: Vec<crate::SigningAlgorithm>) -> Self {
        Self::AlgorithmNotAllowed {
            alg: shorten(alg, 16),
            accepted,
        }
    }
}

/// How many characters of an issuer or audience an error shows.
const MAX_CLAIM_SHOWN: usize = 128;
/// How many of a token's audiences an error shows.
const MAX_AUDIENCES_SHOWN: usize = 8;

/// Keeps at most `max` characters of an attacker-chosen value, so a hostile header cannot flood logs.
fn shorten(value: &str, max: usize) -> String {
    match value.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &value[..cut]),
        None => value.to_owned(),
    }
}
