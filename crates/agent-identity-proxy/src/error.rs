//! The crate's one public error type.

use std::path::PathBuf;

/// Why a proxy could not be built, bound or served. Messages never contain a client token, an
/// assertion or a key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The upstream URL is not one the proxy may sign requests for.
    #[error("invalid upstream url: {0}")]
    InvalidUpstream(&'static str),
    /// A TCP listener was given without a client token: any local user could act as the agent.
    #[error("a tcp listener needs a client token")]
    ClientTokenRequired,
    /// The TLS client for an `https` upstream could not be set up (no usable root store).
    #[error("cannot set up tls for the upstream: {0}")]
    Tls(String),
    /// The client token file could not be read or written.
    #[error("client token file {}", path.display())]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The client token file is not a regular file, or another user owns it or may write it.
    #[error("client token file {} cannot be trusted: {problem}", path.display())]
    InsecureTokenFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: agent_identity_manager::Insecurity,
    },
    /// The client token file is empty, too long, or not a token of at least 22 base64url
    /// characters (128 bits).
    #[error("client token file {} does not hold a usable token (at least 22 base64url characters)", path.display())]
    BadTokenFile {
        /// The file.
        path: PathBuf,
    },
    /// The listening socket could not be set up.
    #[error("cannot listen on {what}")]
    Listen {
        /// The address or socket path.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl ProxyError {
    /// A stable snake_case name, for logs and machine-readable output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::InvalidUpstream(_) => "invalid_upstream",
            Self::ClientTokenRequired => "client_token_required",
            Self::Tls(_) => "tls",
            Self::TokenFile { .. } => "token_file",
            Self::BadTokenFile { .. } => "bad_token_file",
            Self::InsecureTokenFile { .. } => "insecure_token_file",
            Self::Listen { .. } => "listen",
        }
    }
}
