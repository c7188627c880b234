//! Decode and verify agent identity tokens: the JWTs that carry an agent's runtime id, account
//! and Ed25519 private key (wire-format §1), checked against a JWK Set (§2).
//!
//! The pieces:
//! - [`Verifier`] checks a token's size, shape, algorithm, `kid`, signature and claims, and returns
//!   an [`AgentIdentityRecord`] whose [`AgentKey`] is already parsed.
//! - Keys come through `jwks_client_rs`'s [`JwksSource`] seam: [`HttpJwksSource`] (feature `http`,
//!   on by default) or [`StaticJwksSource`]. The verifier caches them: known keys are read without
//!   waiting, one fetch is in flight at a time, an unknown `kid` refetches at most once per interval,
//!   and a stale key set keeps serving through outages up to a maximum staleness.
//! - [`insecure_decode_unverified`] reads a token without verifying it, for shape checks only, and
//!   [`insecure_decode_header`] reads the `alg` and `kid` its header claims.
//! - [`normalize_chatgpt_base_url`] and [`jwks_url_for_base`] find the JWKS endpoint.
//! - [`UrlRule`] is the workspace's one rule for which URLs are trusted (`https`, or `http` to
//!   loopback; no credentials; query and fragment refused): the task, manager, proxy and facade
//!   crates call it rather than writing it again.
//!
//! This crate does no network I/O except through a key source, and never prints a token or a key.

mod algorithm;
mod cache;
mod error;
mod jwks;
mod key;
pub mod metrics;
mod record;
mod source;
mod time;
mod types;
mod url;
mod verify;

pub use algorithm::{SigningAlgorithm, UnknownAlgorithm};
pub use cache::KeySetSnapshot;
pub use error::JwtError;
pub use jwks_client_rs::source::JwksSource;
pub use key::{AgentKey, KeyError};
pub use record::{AgentIdentityRecord, StoredFields};
pub use source::StaticJwksSource;
#[cfg(feature = "http")]
pub use source::{HttpJwksSource, HttpJwksSourceBuilder};
pub use types::{
    AccountId, AgentRuntimeId, Audience, Clock, IdentityJwt, Issuer, PlanType, SystemClock,
};
pub use url::{
    PRODUCTION_JWKS_URL, UrlRefusal, UrlRule, jwks_url_for_base, normalize_chatgpt_base_url,
};
pub use verify::{
    DEFAULT_AUDIENCE, DEFAULT_FETCH_TIMEOUT, DEFAULT_ISSUER, DEFAULT_KEYS_TTL, DEFAULT_LEEWAY,
    DEFAULT_MAX_STALENESS, DEFAULT_REFETCH_INTERVAL, FETCH_FAILURE_COOLDOWN, MAX_TOKEN_BYTES,
    SignaturePending, UnverifiedHeader, Verifier, VerifierBuilder, insecure_decode_header,
    insecure_decode_unverified,
};
