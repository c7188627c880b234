//! The crate's one public error type.

use std::net::SocketAddr;

/// Why the emulator could not start or could not mint a token.
///
/// Messages are lowercase and never contain a token or key material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EmulatorError {
    /// The listening socket could not be bound (the address is in use, or not local).
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The system random source failed while generating a key or an id.
    #[error("the system random source failed")]
    Random,
    /// A signing key could not be generated.
    #[error("cannot generate a {0} signing key")]
    KeyGeneration(&'static str),
    /// A token could not be signed.
    #[error("cannot sign the token")]
    Signing,
    /// The token's lifetime added to the current time overflows the system's time type, so no
    /// `exp` can be written for it.
    #[error("the token lifetime is too long: its expiry overflows")]
    LifetimeOverflow,
    /// The emulator only signs with EdDSA and RS256.
    #[error("the emulator cannot sign with {0}; use EdDSA or RS256")]
    UnsupportedAlgorithm(agent_identity_jwt::SigningAlgorithm),
}

impl EmulatorError {
    /// A stable snake_case name, for logs and machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Bind { .. } => "bind",
            Self::Random => "random",
            Self::KeyGeneration(_) => "key_generation",
            Self::Signing => "signing",
            Self::LifetimeOverflow => "lifetime_overflow",
            Self::UnsupportedAlgorithm(_) => "unsupported_algorithm",
        }
    }
}
