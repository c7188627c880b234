//! Where the proxy listens: a loopback TCP port (clients show the client token) or a unix socket
//! of mode `0600` (the file mode and the peer's uid are the authentication).

use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use tokio::net::{TcpListener, UnixListener};

use crate::error::ProxyError;

/// A bound listening socket. [`Listener::Tcp`] requires a client token on every request.
#[derive(Debug)]
pub enum Listener {
    /// A TCP listener (loopback unless the caller chose otherwise).
    Tcp(TcpListener),
    /// A unix socket, created `0600`; connections from other uids are dropped.
    Unix {
        /// The listener.
        listener: UnixListener,
        /// Its path, removed when the proxy stops.
        path: PathBuf,
    },
}

impl Listener {
    /// Binds a TCP address, such as `127.0.0.1:0`.
    ///
    /// # Errors
    /// [`ProxyError::Listen`] when the address cannot be bound.
    pub async fn bind_tcp(addr: SocketAddr) -> Result<Self, ProxyError> {
        TcpListener::bind(addr)
            .await
            .map(Self::Tcp)
            .map_err(|source| ProxyError::Listen {
                what: addr.to_string(),
                source,
            })
    }

    /// Creates a unix socket at `path` with mode `0600`. It is bound under a temporary name,
    /// restricted, then renamed into place, so it is never reachable under `path` with a wider
    /// mode. A stale socket at `path` that nothing listens on is replaced; anything else there
    /// is an error.
    ///
    /// # Errors
    /// [`ProxyError::Listen`] when the socket cannot be created or `path` is taken.
    pub fn bind_unix(path: &Path) -> Result<Self, ProxyError> {
        let fail = |source| ProxyError::Listen {
            what: path.display().to_string(),
            source,
        };
        if let Ok(metadata) = std::fs::symlink_metadata(path) {
            let stale = metadata.file_type().is_socket()
                && std::os::unix::net::UnixStream::connect(path).is_err();
            if !stale {
                return Err(fail(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    "the path exists and is not a stale socket",
                )));
            }
            std::fs::remove_file(path).map_err(fail)?;
        }
        let mut temp_name = path.as_os_str().to_owned();
        temp_name.push(format!(".{}.tmp", std::process::id()));
        let temp = PathBuf::from(temp_name);
        let _ = std::fs::remove_file(&temp);
        let listener = UnixListener::bind(&temp).map_err(fail)?;
        let placed = std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o600))
            .and_then(|()| std::fs::rename(&temp, path));
        if let Err(error) = placed {
            let _ = std::fs::remove_file(&temp);
            return Err(fail(error));
        }
        Ok(Self::Unix {
            listener,
            path: path.to_owned(),
        })
    }

    /// `http://ADDR` for a TCP listener, `None` for a unix socket.
    #[must_use]
    pub fn url(&self) -> Option<String> {
        match self {
            Self::Tcp(listener) => listener
                .local_addr()
                .ok()
                .map(|addr| format!("http://{addr}")),
            Self::Unix { .. } => None,
        }
    }

    /// The TCP address, if any.
    #[must_use]
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Self::Tcp(listener) => listener.local_addr().ok(),
            Self::Unix { .. } => None,
        }
    }
}
