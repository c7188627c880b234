//! The upstream client: HTTP/1 connections to the one upstream, kept between requests.
//!
//! The proxy talks to one origin, so its pool is a list, not a map keyed by origin: a request
//! takes the first connection that is ready for another request, or opens one. A connection goes
//! back on the list as soon as its response's headers have come; it is ready again once its
//! response body has been read through, and until then the list simply skips it. Nothing is
//! spawned or boxed per request (the general-purpose pooled client spawns a task per response to
//! wait for its connection to become ready again).
//!
//! A request that meets a kept connection closed before the request was written (the upstream
//! closed it while it was idle) is sent again on a new connection, as the pooled client does.
//! Connections idle for longer than [`IDLE_TIMEOUT`] are closed by a reaper task, which holds the
//! pool weakly and ends with it.

use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper::http::{Request, Response, Uri};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::time::Instant;
use tower_service::Service as _;

use crate::forward::{BoxError, ProxyBody};

/// Idle upstream connections are closed after 90 s (hyper-util's default, and Go's).
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
    /// Every kept connection, ready or still reading its last response; the last one most
    /// recently used.
    kept: Mutex<Vec<Kept>>,
    /// Whether the reaper task runs (it is started on the first request, inside the runtime).
    reaper: std::sync::Once,
}

struct Kept {
    sender: SendRequest<ProxyBody>,
    /// When it last carried a request.
    used: Instant,
}

impl UpstreamClient {
    pub(crate) fn new(connector: HttpsConnector<HttpConnector>, origin: Uri) -> Arc<Self> {
        Arc::new(Self {
            connector,
            origin,
            kept: Mutex::new(Vec::new()),
            reaper: std::sync::Once::new(),
        })
    }

    /// Sends `request` (an origin-form target) on a kept connection or a new one.
    ///
    /// # Errors
    /// [`SendError::Connect`] when no connection could be opened, [`SendError::Failed`] when
    /// the connection failed before the response's headers.
    pub(crate) async fn request(
        self: &Arc<Self>,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, SendError> {
        self.reaper.call_once(|| {
            tokio::spawn(reap(Arc::downgrade(self)));
        });
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

    async fn connect(&self) -> Result<SendRequest<ProxyBody>, SendError> {
        let io = self
            .connector
            .clone()
            .call(self.origin.clone())
            .await
            .map_err(SendError::Connect)?;
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
