//! Client connections: accepting them, their places under the connection limit (and shedding
//! those that never showed the client token), and serving each with hyper.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{Notify, OwnedSemaphorePermit, watch};

use crate::listener::Listener;
use crate::proxy::Inner;

pub(crate) enum Accepted {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

pub(crate) async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    match listener {
        Listener::Tcp(listener) => {
            let (stream, _) = listener.accept().await?;
            // Small writes (an SSE event, a request's headers) leave at once.
            let _ = stream.set_nodelay(true);
            Ok(Accepted::Tcp(stream))
        }
        Listener::Unix { listener, .. } => loop {
            let (stream, _) = listener.accept().await?;
            // The socket's mode already keeps other users out; the peer's uid says so for sure
            // (a socket's mode is not checked on every platform, and a directory may be shared).
            let ours = stream
                .peer_cred()
                .is_ok_and(|cred| cred.uid() == rustix::process::geteuid().as_raw());
            if ours {
                return Ok(Accepted::Unix(stream));
            }
            tracing::warn!("refused a unix socket connection from another user");
        },
    }
}

/// One client connection's place under [`ProxyBuilder::max_connections`], held until the
/// connection closes, or its upgraded stream does.
pub(crate) type Slot = Arc<OwnedSemaphorePermit>;

/// What a request's handler knows of its connection.
pub(crate) struct Conn {
    /// TCP: every request must carry the client token. A unix socket's peer is the owner.
    pub(crate) require_token: bool,
    /// The address the connection arrived on, which the local endpoints accept as `Host`.
    pub(crate) local_addr: Option<SocketAddr>,
    /// Set once a request on it showed the client token: it is then never shed.
    pub(crate) trusted: Arc<AtomicBool>,
    pub(crate) slot: Slot,
}

impl Conn {
    /// Marks the connection as a client's: it showed the token.
    pub(crate) fn trust(&self) {
        self.trusted.store(true, Ordering::Relaxed);
    }
}

/// The TCP connections that may be shed at the limit, oldest first (ids grow with age).
#[derive(Clone, Default)]
pub(crate) struct Untrusted(Arc<Mutex<BTreeMap<u64, Sheddable>>>);

/// A connection's "showed the token" flag, and the signal that closes it.
type Sheddable = (Arc<AtomicBool>, Arc<Notify>);

impl Untrusted {
    pub(crate) fn register(&self, id: u64, trusted: &Arc<AtomicBool>) -> Arc<Notify> {
        let shed = Arc::new(Notify::new());
        crate::lock(&self.0).insert(id, (Arc::clone(trusted), Arc::clone(&shed)));
        shed
    }

    pub(crate) fn forget(&self, id: u64) {
        crate::lock(&self.0).remove(&id);
    }

    /// Tells the oldest connection that never showed the token to close. Whether there was one.
    pub(crate) fn shed_oldest(&self) -> bool {
        let mut connections = crate::lock(&self.0);
        connections.retain(|_, (trusted, _)| !trusted.load(Ordering::Relaxed));
        let Some((_, (_, shed))) = connections.pop_first() else {
            return false;
        };
        // `notify_one` keeps the wake-up for a task not yet waiting on it.
        shed.notify_one();
        true
    }
}

pub(crate) async fn serve_connection<I>(
    inner: Arc<Inner>,
    io: I,
    conn: Conn,
    shed: Option<Arc<Notify>>,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handler = Arc::clone(&inner);
    let conn = Arc::new(conn);
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let handler = Arc::clone(&handler);
        let conn = Arc::clone(&conn);
        async move { Ok::<_, Infallible>(handler.handle(request, &conn).await) }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(inner.limits.header_read_timeout)
        .max_buf_size(inner.limits.max_header_bytes)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(connection);
    let shed = async {
        match shed {
            Some(shed) => shed.notified().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "client connection ended with an error");
            }
        }
        // Shed at the limit: it never showed the token, so it is closed at once.
        () = shed => {}
        () = async { let _ = stop.wait_for(|stop| *stop).await; } => {
            // Finish the request in flight, if any, then close; an idle connection closes now.
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}
