//! The accept loop and the per-connection HTTP/1 service. Connections are served with hyper
//! directly, rather than through `axum::serve`, so that a fault can close a connection without
//! answering: a service error makes hyper drop the connection with no response written.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::routes::ADMIN_PREFIX;
use crate::state::Shared;

/// How long a graceful shutdown waits for requests in flight before cutting connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// The pause after a failed `accept` (out of file descriptors, say), so the loop does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// Accepts connections until `shutdown` turns true, then drains them for at most the grace
/// period. Aborting the task running this drops every connection at once.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Owning the connection tasks here means aborting this task aborts them too.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let service = EmulatorService {
                        router: router.clone(),
                        shared: Arc::clone(&shared),
                        peer,
                    };
                    connections.spawn(serve_connection(stream, service, shutdown.clone()));
                }
                Err(error) => {
                    tracing::debug!(%error, "emulator accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    // Whatever is still running after the grace period is aborted when `connections` drops.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, drain).await;
}

async fn serve_connection(
    stream: TcpStream,
    service: EmulatorService,
    mut shutdown: watch::Receiver<bool>,
) {
    // Latency is injected deliberately; Nagle's algorithm must not add its own.
    let _ = stream.set_nodelay(true);
    let connection = http1::Builder::new()
        // No header-read timer: a paused test clock would fire it while the client is idle.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = pin!(connection);
    tokio::select! {
        // An error here is a client gone away or a deliberately dropped connection.
        _ = connection.as_mut() => {}
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.await;
        }
    }
}

/// Resolves once shutdown is asked for (or the handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender was dropped, which also means stop. The guard is dropped here,
    // before any caller awaits again.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The error that makes hyper close a connection without a response.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by fault injection")]
pub(crate) struct DroppedConnection;

/// One connection's service: applies the connection-drop and latency faults (except on the admin
/// endpoints), tells the router who the peer is, and runs it.
#[derive(Clone)]
struct EmulatorService {
    router: Router,
    shared: Arc<Shared>,
    peer: SocketAddr,
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<Body>, DroppedConnection>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for EmulatorService {
    type Response = Response<Body>;
    type Error = DroppedConnection;
    type Future = ResponseFuture;

    fn call(&self, mut request: Request<Incoming>) -> Self::Future {
        let faults_apply = !request.uri().path().starts_with(ADMIN_PREFIX);
        if faults_apply && self.shared.take_connection_drop() {
            return Box::pin(std::future::ready(Err(DroppedConnection)));
        }
        let latency = if faults_apply {
            self.shared.latency()
        } else {
            Duration::ZERO
        };
        request.extensions_mut().insert(ConnectInfo(self.peer));
        let mut router = self.router.clone();
        Box::pin(async move {
            if !latency.is_zero() {
                tokio::time::sleep(latency).await;
            }
            let response: Result<_, Infallible> =
                tower_service::Service::call(&mut router, request).await;
            match response {
                Ok(response) => Ok(response),
                Err(never) => match never {},
            }
        })
    }
}
