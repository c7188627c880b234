//! The client token: what a local client shows the proxy so that only its owner's programs can
//! act as the agent.

use std::fmt;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use agent_identity_manager::Insecurity;
use base64::Engine as _;
use hyper::http::header::{self, HeaderMap};

use crate::error::ProxyError;

/// 32 random bytes (256 bits), as much as the assertion's own key: guessing is hopeless.
const TOKEN_BYTES: usize = 32;
/// A token file larger than this is refused rather than read: ours are 43 characters.
const MAX_TOKEN_FILE_BYTES: u64 = 4096;
/// 22 base64url characters carry 132 bits: the least a token given to us may hold (128 bits).
pub(crate) const MIN_TOKEN_CHARS: usize = 22;

/// A secret bearer token for local clients. `Debug` prints `ClientToken(<redacted>)`, and the
/// comparison with what a client presents takes the same time wherever the first difference is.
#[derive(Clone)]
pub struct ClientToken(String);

impl ClientToken {
    /// A fresh random token (32 bytes, base64url without padding).
    ///
    /// # Panics
    /// When the system's random source fails, which aws-lc treats as fatal too.
    #[must_use]
    pub fn generate() -> Self {
        let mut bytes = [0_u8; TOKEN_BYTES];
        #[allow(clippy::expect_used)]
        // a machine without randomness cannot run a credential server
        aws_lc_rs::rand::fill(&mut bytes).expect("the system random source works");
        Self(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A token given by its text, trimmed.
    ///
    /// # Errors
    /// [`ProxyError::BadTokenFile`] (naming `origin`) unless it is at least 22 characters of
    /// base64 or base64url (128 bits or more), since it must be hard to guess and travel in an
    /// `Authorization` header.
    pub fn from_text(text: &str, origin: &Path) -> Result<Self, ProxyError> {
        let text = text.trim();
        let alphabet = |byte: u8| byte.is_ascii_alphanumeric() || b"-_+/=".contains(&byte);
        let significant = text.bytes().filter(|&byte| byte != b'=').count();
        if significant < MIN_TOKEN_CHARS || !text.bytes().all(alphabet) {
            return Err(ProxyError::BadTokenFile {
                path: origin.to_owned(),
            });
        }
        Ok(Self(text.to_owned()))
    }

    /// Reads a token from a file (at most 4 KiB, surrounding whitespace ignored). The file is
    /// opened without following a symlink and without waiting on a FIFO, must be a regular file,
    /// and is held to the credential store's rule: owned by us or root, writable by nobody else.
    ///
    /// # Errors
    /// [`ProxyError::TokenFile`] when it cannot be opened or read, [`ProxyError::InsecureTokenFile`]
    /// when it is not a regular file or others could have written it,
    /// [`ProxyError::BadTokenFile`] when it holds no usable token.
    pub fn read_file(path: &Path) -> Result<Self, ProxyError> {
        let io = |source| ProxyError::TokenFile {
            path: path.to_owned(),
            source,
        };
        let insecure = |problem| ProxyError::InsecureTokenFile {
            path: path.to_owned(),
            problem,
        };
        let file = std::fs::OpenOptions::new()
            .read(true)
            // Small positive constants; the casts cannot wrap.
            .custom_flags(
                (rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW).bits() as i32,
            )
            .open(path)
            .map_err(io)?;
        let metadata = file.metadata().map_err(io)?;
        if !metadata.is_file() {
            return Err(insecure(Insecurity::NotRegularFile));
        }
        if let Some(problem) = agent_identity_manager::trust_problem(&metadata) {
            return Err(insecure(problem));
        }
        let mut text = String::new();
        file.take(MAX_TOKEN_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(|_| ProxyError::BadTokenFile {
                path: path.to_owned(),
            })?;
        if text.len() as u64 > MAX_TOKEN_FILE_BYTES {
            return Err(ProxyError::BadTokenFile {
                path: path.to_owned(),
            });
        }
        Self::from_text(&text, path)
    }

    /// Writes the token to `path` with mode `0600`, atomically: a new file beside it (created
    /// `0600`, never readable by others even for a moment), then renamed over `path`.
    ///
    /// # Errors
    /// [`ProxyError::TokenFile`] when the file cannot be written.
    pub fn write_file(&self, path: &Path) -> Result<(), ProxyError> {
        let io = |source| ProxyError::TokenFile {
            path: path.to_owned(),
            source,
        };
        let mut temp_name = path.as_os_str().to_owned();
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = std::path::PathBuf::from(temp_name);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)
            .map_err(io)?;
        let written = file
            .write_all(self.0.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .and_then(|()| std::fs::rename(&temp, path));
        if let Err(error) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(io(error));
        }
        Ok(())
    }

    /// The token itself, to hand to a child process or a client. A secret.
    #[must_use]
    pub fn expose_secret(&self) -> &str {
        &self.0
    }

    /// Whether `presented` is this token, in time independent of where they differ.
    #[must_use]
    pub fn matches(&self, presented: &[u8]) -> bool {
        // Lengths are not secret (every generated token has the same one).
        #[allow(deprecated)] // still aws-lc-rs's constant-time comparison
        let equal =
            aws_lc_rs::constant_time::verify_slices_are_equal(self.0.as_bytes(), presented).is_ok();
        equal
    }
}

impl ClientToken {
    /// Whether `headers` carry this token as `Authorization: Bearer …`.
    pub(crate) fn matches_bearer(&self, headers: &HeaderMap) -> bool {
        headers.get_all(header::AUTHORIZATION).iter().any(|value| {
            let bytes = value.as_bytes();
            bytes.len() > 7
                && bytes[..7].eq_ignore_ascii_case(b"bearer ")
                && self.matches(bytes[7..].trim_ascii())
        })
    }
}

impl fmt::Debug for ClientToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientToken(<redacted>)")
    }
}
