//! Newtypes for the values an agent identity carries, the secret token type, and the clock seam.

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use zeroize::Zeroizing;

macro_rules! string_newtype {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self(value)
            }
        }
    };
}

string_newtype!(
    /// The server-assigned id of an agent runtime (the `agent_runtime_id` claim).
    AgentRuntimeId
);
string_newtype!(
    /// The ChatGPT workspace id (the `account_id` claim), sent as `ChatGPT-Account-ID`.
    AccountId
);
string_newtype!(
    /// A token issuer (`iss`).
    Issuer
);
string_newtype!(
    /// A token audience (`aud`).
    Audience
);

/// The ChatGPT plan the identity belongs to (the `plan_type` claim).
///
/// The aliases `hc` (enterprise) and `education` (edu) are folded in; an unknown value is kept
/// as [`PlanType::Unknown`], not rejected, so a new plan on the server never breaks a client.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PlanType {
    /// `free`
    Free,
    /// `plus`
    Plus,
    /// `pro`
    Pro,
    /// `team`
    Team,
    /// `business`
    Business,
    /// `enterprise`, alias `hc`
    Enterprise,
    /// `edu`, alias `education`
    Edu,
    /// Any other value, kept verbatim.
    Unknown(String),
}

impl PlanType {
    /// Parses a `plan_type` claim value; never fails.
    pub fn parse(value: &str) -> Self {
        match value {
            "free" => Self::Free,
            "plus" => Self::Plus,
            "pro" => Self::Pro,
            "team" => Self::Team,
            "business" => Self::Business,
            "enterprise" | "hc" => Self::Enterprise,
            "edu" | "education" => Self::Edu,
            other => Self::Unknown(other.to_owned()),
        }
    }

    /// The canonical wire name (an unknown value as it was given).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Free => "free",
            Self::Plus => "plus",
            Self::Pro => "pro",
            Self::Team => "team",
            Self::Business => "business",
            Self::Enterprise => "enterprise",
            Self::Edu => "edu",
            Self::Unknown(other) => other,
        }
    }
}

impl fmt::Display for PlanType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for PlanType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A raw agent identity JWT. It embeds a long-lived private key, so it is a secret everywhere:
/// `Debug` redacts it, it has no `Display`, and its memory is zeroized on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct IdentityJwt(Arc<Zeroizing<String>>);

impl IdentityJwt {
    /// Wraps a compact JWS. Surrounding whitespace (a trailing newline from a file) is removed.
    pub fn new(token: impl Into<String>) -> Self {
        let raw = Zeroizing::new(token.into());
        // Both the untrimmed and the trimmed copy are zeroized when dropped.
        let token = if raw.trim().len() == raw.len() {
            raw
        } else {
            Zeroizing::new(raw.trim().to_owned())
        };
        Self(Arc::new(token))
    }

    /// The token text. Handle with care: this is the secret.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// The lowercase hex SHA-256 of the token text: names this token (to bind a cached task to
    /// it, or tell two tokens apart) without revealing it.
    pub fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.0.as_bytes());
        digest
            .as_ref()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

impl fmt::Debug for IdentityJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityJwt(<redacted>)")
    }
}

/// Where "now" comes from. Production uses [`SystemClock`]; tests inject a fixed or stepped clock.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}
