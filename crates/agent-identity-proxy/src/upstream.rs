//! The upstream client: HTTP/1 connections to the one upstream, kept between requests.
//!
//! The proxy talks to one origin, so each of its pools is a list, not a map keyed by origin.
//! Two kinds of connection are kept:
//! - **Held bodies** (nearly every request: its body is empty or kept for a replay) go over a
//!   connection the request drives itself ([`wire`]): no task, channel or box per request. The
//!   connection is back on its list the moment its response body has been read through; it is
//!   taken off it while in use.
//! - **Streamed bodies and upgrades** go over hyper's client connections, which read while they
//!   write and hand over an upgraded connection. One goes back on its list as soon as its
//!   response's headers have come; it is ready again once its response body has been read, and
//!   until then the list simply skips it.
//!
//! A request that meets a kept connection the upstream had closed while it was idle goes again
//! on a new connection: always when nothing of it could be written, and for an idempotent
//! method when the connection ended before any byte of a response. A kept connection is checked
//! before use, and one the upstream closed is dropped then. Connections idle for longer than
//! [`IDLE_TIMEOUT`] (and hyper's, once closed) are dropped by a reaper task, which holds the pool
//! weakly and ends with it.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::http::header::{HeaderName, HeaderValue};
use hyper::http::{Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;
use tower_service::Service as _;

use crate::forward::{BoxError, ProxyBody};

pub(crate) mod wire;

pub(crate) use wire::UpstreamBody;
use wire::{Conn, Io};

/// Idle upstream connections are closed after 90 s (hyper-util's default, and Go's), by a sweep
/// every half of it: so after 90 to 135 s.
pub(crate) const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// Why a request got no response from the upstream.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// No connection could be opened.
    #[error("cannot connect to the upstream")]
    Connect(#[source] BoxError),
    /// The connection failed before the response's headers came.
    #[error("the upstream connection failed")]
    Failed(#[source] hyper::Error),
    /// The connection failed, or the response head was unusable, before the response's body.
    #[error("the upstream connection failed")]
    Wire(#[source] wire::WireError),
}

impl SendError {
    pub(crate) fn is_connect(&self) -> bool {
        matches!(self, Self::Connect(_))
    }
}

/// The pool of connections to the upstream.
pub(crate) struct UpstreamClient {
    connector: HttpsConnector<HttpConnector>,
    /// The upstream's `scheme://authority`, which the connector dials.
    origin: Uri,
    /// Every kept hyper connection, ready or still reading its last response; the last one most
    /// recently used.
    kept: Mutex<Vec<Kept>>,
    /// The idle connections requests with held bodies drive themselves; the last one most
    /// recently used.
    idle: Mutex<Vec<Idle>>,
    /// Whether the reaper task runs (it is started on the first request, inside the runtime).
    reaper: std::sync::Once,
}

struct Kept {
    sender: SendRequest<ProxyBody>,
    /// When it last carried a request.
    used: Instant,
}

struct Idle {
    conn: Box<Conn>,
    /// When its last response was read through.
    since: Instant,
}

impl UpstreamClient {
    pub(crate) fn new(connector: HttpsConnector<HttpConnector>, origin: Uri) -> Arc<Self> {
        Arc::new(Self {
            connector,
            origin,
            kept: Mutex::new(Vec::new()),
            idle: Mutex::new(Vec::new()),
            reaper: std::sync::Once::new(),
        })
    }

    /// Sends a request whose body is held, over a connection this task drives: its own fields
    /// and then `identity`'s (the signed headers), so the request must hold none of `identity`'s
    /// names (`upstream_headers` dropped the client's). The request is only read, so that it can
    /// go again after a recovery without a copy.
    ///
    /// # Errors
    /// [`SendError::Connect`] when no connection could be opened, [`SendError::Wire`] when the
    /// connection failed, or the response head was unusable, before the response's body.
    pub(crate) async fn request_held<'a>(
        self: &Arc<Self>,
        request: &Request<Bytes>,
        identity: impl IntoIterator<Item = (HeaderName, &'a HeaderValue)>,
    ) -> Result<Response<ProxyBody>, SendError> {
        self.start_reaper();
        let body = request.body();
        let head = wire::encode_head(request, body.len(), identity);
        let method = request.method();
        let mut conn = match self.check_out().await {
            Some(mut conn) => match wire::exchange(&mut conn, &head, body, method).await {
                Ok(response) => return Ok(self.respond(conn, response)),
                Err(failed) if failed.retry => {
                    tracing::debug!(error = %failed.error, "a kept upstream connection had closed; sending again on a new one");
                    Conn::new(self.dial().await?)
                }
                Err(failed) => return Err(SendError::Wire(failed.error)),
            },
            None => Conn::new(self.dial().await?),
        };
        match wire::exchange(&mut conn, &head, body, method).await {
            Ok(response) => Ok(self.respond(conn, response)),
            Err(failed) => Err(SendError::Wire(failed.error)),
        }
    }

    fn respond(self: &Arc<Self>, conn: Box<Conn>, mut head: wire::Head) -> Response<ProxyBody> {
        let body = UpstreamBody::new(conn, &mut head, Arc::clone(self));
        let mut response = Response::new(ProxyBody::Upstream(body));
        *response.status_mut() = head.status;
        *response.version_mut() = head.version;
        *response.headers_mut() = head.headers;
        response
    }

    /// The most recently idle connection the upstream has not closed; closed ones are dropped.
    async fn check_out(&self) -> Option<Box<Conn>> {
        loop {
            let mut conn = crate::lock(&self.idle).pop()?.conn;
            if conn.is_open_and_quiet().await {
                return Some(conn);
            }
        }
    }

    /// Keeps a connection whose response was read through, for the next request.
    pub(crate) fn check_in(&self, conn: Box<Conn>) {
        crate::lock(&self.idle).push(Idle {
            conn,
            since: Instant::now(),
        });
    }

    /// Sends a request with a streamed body, or an upgrade, over one of hyper's connections
    /// (kept or new), which reads while it writes and hands an upgraded connection over.
    ///
    /// # Errors
    /// [`SendError::Connect`] when no connection could be opened, [`SendError::Failed`] when
    /// the connection failed before the response's headers.
    pub(crate) async fn request(
        self: &Arc<Self>,
        request: Request<ProxyBody>,
    ) -> Result<Response<ProxyBody>, SendError> {
        self.start_reaper();
        self.request_streamed(request)
            .await
            .map(|response| response.map(ProxyBody::Stream))
    }

    async fn request_streamed(
        self: &Arc<Self>,
        request: Request<ProxyBody>,
    ) -> Result<Response<hyper::body::Incoming>, SendError> {
        let mut request = request;
        if let Some(mut sender) = self.checkout() {
            match sender.try_send_request(request).await {
                Ok(response) => {
                    self.checkin(sender);
                    return Ok(response);
                }
                Err(mut error) => match error.take_message() {
                    // Closed before the request was written: a new connection gets it.
                    Some(unsent) => request = unsent,
                    None => return Err(SendError::Failed(error.into_error())),
                },
            }
        }
        let mut sender = self.connect().await?;
        let response = sender
            .send_request(request)
            .await
            .map_err(SendError::Failed)?;
        self.checkin(sender);
        Ok(response)
    }

    /// The most recently used connection that is ready for a request; closed ones are dropped.
    fn checkout(&self) -> Option<SendRequest<ProxyBody>> {
        let mut kept = crate::lock(&self.kept);
        kept.retain(|kept| !kept.sender.is_closed());
        let index = kept.iter().rposition(|kept| kept.sender.is_ready())?;
        Some(kept.swap_remove(index).sender)
    }

    fn checkin(&self, sender: SendRequest<ProxyBody>) {
        if sender.is_closed() {
            return;
        }
        crate::lock(&self.kept).push(Kept {
            sender,
            used: Instant::now(),
        });
    }

    /// Starts the reaper task on the first request (it needs the runtime the requests run on).
    fn start_reaper(self: &Arc<Self>) {
        self.reaper.call_once(|| {
            tokio::spawn(reap(Arc::downgrade(self)));
        });
    }

    /// A new connection to the upstream (TLS set up for `https`).
    async fn dial(&self) -> Result<Io, SendError> {
        let io = self
            .connector
            .clone()
            .call(self.origin.clone())
            .await
            .map_err(SendError::Connect)?;
        Ok(TokioIo::new(io))
    }

    async fn connect(&self) -> Result<SendRequest<ProxyBody>, SendError> {
        let io = self.dial().await?.into_inner();
        let (sender, connection) = hyper::client::conn::http1::Builder::new()
            .handshake(io)
            .await
            .map_err(|error| SendError::Connect(error.into()))?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    /// Closes the connections idle for longer than [`IDLE_TIMEOUT`], and those closed already.
    fn close_idle(&self, now: Instant) {
        crate::lock(&self.kept).retain(|kept| {
            let idle_too_long =
                kept.sender.is_ready() && now.duration_since(kept.used) > IDLE_TIMEOUT;
            !kept.sender.is_closed() && !idle_too_long
        });
        crate::lock(&self.idle).retain(|idle| now.duration_since(idle.since) <= IDLE_TIMEOUT);
    }
}

/// Every half idle timeout, closes the idle connections, until the pool is gone.
async fn reap(pool: Weak<UpstreamClient>) {
    let mut ticks = tokio::time::interval(IDLE_TIMEOUT / 2);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(pool) = pool.upgrade() else {
            return;
        };
        pool.close_idle(Instant::now());
    }
}

#[cfg(test)]
mod tests;
