//! [`Proxy`] and its builder: the settings, the upstream client, and the accept loop with its
//! limits and graceful shutdown.

use std::future::Future;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use agent_identity_jwt::{UrlRefusal, UrlRule};
use agent_identity_manager::AuthManager;
use hyper::http::HeaderValue;
use hyper::http::uri::{self, PathAndQuery, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use tokio::sync::{Semaphore, mpsc, watch};
use url::{Host, Url};

use crate::background::{AbortOnDrop, timer_anchor, watch_state};
use crate::conn::{Accepted, Conn, Untrusted, accept, serve_connection};
use crate::error::ProxyError;
use crate::listener::Listener;
use crate::log::AccessRecord;
use crate::token::ClientToken;
use crate::upstream::UpstreamClient;

/// 10 s to send a request's headers: generous for any real client on the same machine, short
/// enough that slow-header connections cannot pile up (nginx's `client_header_timeout` is 60 s,
/// for remote clients).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// 64 KiB of request headers, the whole read buffer of a connection: above the 8 KiB most
/// servers allow per line, far below hyper's default of about 400 KiB.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 64 * 1024;
/// The least hyper accepts as a connection's read buffer.
const MIN_HEADER_BYTES: usize = 8 * 1024;
/// 512 concurrent connections: far more than a harness on one machine opens, and a bound on
/// what a runaway client can hold (file descriptors, memory).
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// 10 s to connect to the upstream (TCP and TLS).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// 300 s for the upstream to answer with its headers: a model's non-streaming answer can take
/// minutes. A streamed body is not limited once its headers have come.
pub const DEFAULT_RESPONSE_HEADER_TIMEOUT: Duration = Duration::from_secs(300);
/// Request bodies up to 1 MiB are kept so that a request refused with 401 can be replayed after
/// the recovery; larger ones stream through and the 401 is passed on.
pub const DEFAULT_REPLAY_LIMIT: usize = 1024 * 1024;
/// 30 s for in-flight requests to finish after SIGTERM: Kubernetes' default grace period.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

type AccessLog = Arc<dyn Fn(&AccessRecord) + Send + Sync>;
type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

/// Builds a [`Proxy`]. Every limit has a documented default.
#[must_use]
pub struct ProxyBuilder {
    manager: AuthManager,
    upstream: String,
    client_token: Option<ClientToken>,
    limits: Limits,
    access_log: Option<AccessLog>,
    metrics: Option<MetricsRender>,
}

/// The limits, copied into the proxy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_header_bytes: usize,
    pub(crate) max_connections: usize,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_header_timeout: Duration,
    pub(crate) replay_limit: usize,
    pub(crate) drain_timeout: Duration,
}

impl ProxyBuilder {
    /// The token TCP clients must send as `Authorization: Bearer …`. Required to serve TCP.
    pub fn client_token(mut self, token: ClientToken) -> Self {
        self.client_token = Some(token);
        self
    }

    /// How long a client may take to send a request's headers before its connection is closed.
    /// Defaults to [`DEFAULT_HEADER_READ_TIMEOUT`] (10 s).
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.limits.header_read_timeout = timeout;
        self
    }

    /// The most bytes of request line and headers (at least 8 KiB; larger requests get 431),
    /// counted as sent: `name: value` and CRLF per field. Defaults to
    /// [`DEFAULT_MAX_HEADER_BYTES`] (64 KiB).
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.limits.max_header_bytes = bytes.max(MIN_HEADER_BYTES);
        self
    }

    /// The most client connections served at once. At the limit, a new connection takes the
    /// place of the oldest one that has not yet shown the client token (one that has sent
    /// nothing, half its headers, or only refused requests): whoever lacks the token cannot
    /// keep a client that has it out. When every connection has shown the token, new ones wait
    /// in the listen backlog (they are not refused) and are served as connections close. An
    /// upgraded (WebSocket) connection counts until its stream closes; an idle keep-alive
    /// connection is closed after the header read timeout, which bounds the wait. On a unix
    /// socket every peer is the owner and nothing is shed. Defaults to
    /// [`DEFAULT_MAX_CONNECTIONS`] (512).
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.max_connections = connections.max(1);
        self
    }

    /// How long connecting to the upstream may take. Defaults to [`DEFAULT_CONNECT_TIMEOUT`]
    /// (10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.limits.connect_timeout = timeout;
        self
    }

    /// How long the upstream may take to send its response headers (504 after). Defaults to
    /// [`DEFAULT_RESPONSE_HEADER_TIMEOUT`] (300 s).
    pub fn response_header_timeout(mut self, timeout: Duration) -> Self {
        self.limits.response_header_timeout = timeout;
        self
    }

    /// The largest request body kept for a replay after a 401. Defaults to
    /// [`DEFAULT_REPLAY_LIMIT`] (1 MiB).
    pub fn replay_limit(mut self, bytes: usize) -> Self {
        self.limits.replay_limit = bytes;
        self
    }

    /// How long in-flight requests may take to finish once shutdown begins. Defaults to
    /// [`DEFAULT_DRAIN_TIMEOUT`] (30 s).
    pub fn drain_timeout(mut self, timeout: Duration) -> Self {
        self.limits.drain_timeout = timeout;
        self
    }

    /// Called once per request, when its response headers are sent, with what may be logged
    /// (never a header value or a body). Defaults to none.
    pub fn access_log(mut self, log: impl Fn(&AccessRecord) + Send + Sync + 'static) -> Self {
        self.access_log = Some(Arc::new(log));
        self
    }

    /// Serves `GET /_agent-identity/metrics` (client token needed) with what `render` returns:
    /// the Prometheus text of the recorder the application installed, which holds the library's
    /// metrics and the proxy's own ([`crate::metrics`]). Defaults to none (404).
    pub fn metrics(mut self, render: impl Fn() -> String + Send + Sync + 'static) -> Self {
        self.metrics = Some(Arc::new(render));
        self
    }

    /// Checks the upstream URL and builds the upstream client.
    ///
    /// # Errors
    /// [`ProxyError::InvalidUpstream`] for a URL that is not `https` (or `http` to a loopback
    /// host), or that has credentials, a query or a fragment; [`ProxyError::Tls`] when no TLS
    /// root store can be loaded.
    pub fn build(self) -> Result<Proxy, ProxyError> {
        let upstream = Upstream::parse(&self.upstream)?;
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(self.limits.connect_timeout));
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .try_with_platform_verifier()
            .map_err(|error| ProxyError::Tls(error.to_string()))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = UpstreamClient::new(https, upstream.origin.clone());
        Ok(Proxy {
            inner: Arc::new(Inner {
                manager: self.manager,
                upstream,
                client,
                client_token: self.client_token,
                limits: self.limits,
                access_log: self.access_log,
                metrics: self.metrics,
                health: Health::default(),
            }),
        })
    }
}

/// The upstream, parsed once: where requests go and the `Host` they carry.
#[derive(Debug)]
pub(crate) struct Upstream {
    /// `scheme://authority` and the base path without a trailing `/`.
    pub(crate) prefix: String,
    /// The `Host` header value (the port only when not the scheme's default).
    pub(crate) host: HeaderValue,
    /// `host:port` with the port always present, to compare absolute-form targets with.
    pub(crate) authority: String,
    pub(crate) url: Url,
    /// The prefix's scheme, authority and base path, parsed once: every request's upstream URI
    /// is put together from them and the client's path, not formatted and parsed again.
    /// `scheme://authority`, which the upstream client dials.
    pub(crate) origin: Uri,
    base_path: String,
}

impl Upstream {
    pub(crate) fn parse(text: &str) -> Result<Self, ProxyError> {
        let invalid = ProxyError::InvalidUpstream;
        // The workspace's one URL rule, strict: paths are appended to the upstream.
        let url = UrlRule::new().parse(text).map_err(|refusal| match refusal {
            UrlRefusal::PlainHttp => invalid(
                "https is required for a non-loopback host: assertions must not travel in clear text",
            ),
            refusal => invalid(refusal.reason()),
        })?;
        let host_text = match url.host() {
            Some(Host::Ipv6(ip)) => format!("[{ip}]"),
            Some(host) => host.to_string(),
            None => return Err(invalid("the url has no host")),
        };
        let port = url
            .port_or_known_default()
            .ok_or(invalid("the url has no port"))?;
        let host = match url.port() {
            Some(port) => format!("{host_text}:{port}"),
            None => host_text.clone(),
        };
        let prefix = format!(
            "{}://{host}{}",
            url.scheme(),
            url.path().trim_end_matches('/')
        );
        let parsed: Uri = prefix
            .parse()
            .map_err(|_| invalid("the url is not a valid request target"))?;
        let (Some(scheme), Some(uri_authority)) = (parsed.scheme(), parsed.authority()) else {
            return Err(invalid("the url has no scheme or host"));
        };
        let mut origin = uri::Parts::default();
        origin.scheme = Some(scheme.clone());
        origin.authority = Some(uri_authority.clone());
        origin.path_and_query = Some(PathAndQuery::from_static("/"));
        let origin = Uri::from_parts(origin)
            .map_err(|_| invalid("the url is not a valid request target"))?;
        Ok(Self {
            base_path: url.path().trim_end_matches('/').to_owned(),
            prefix,
            host: HeaderValue::from_str(&host)
                .map_err(|_| invalid("the host is not a header value"))?,
            authority: format!("{}:{port}", host_text.to_ascii_lowercase()),
            url,
            origin,
        })
    }

    /// The origin-form target the upstream gets for a client's target: the base path, then the
    /// target's path and query. `None` when they do not make a target.
    pub(crate) fn uri_for(&self, target: &Uri) -> Option<Uri> {
        let path = target
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/"));
        let path = if self.base_path.is_empty() {
            // The common case: the client's path as it came, shared rather than copied.
            path
        } else {
            PathAndQuery::try_from(format!("{}{}", self.base_path, path.as_str())).ok()?
        };
        Some(Uri::from(path))
    }
}

/// What `/_agent-identity/health` reports beyond the manager's state.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// When the manager's state last changed (or the proxy started).
    pub(crate) since: Mutex<Option<SystemTime>>,
    /// The last recovery or readiness failure the proxy met: kind and message.
    pub(crate) last_error: Mutex<Option<(&'static str, String)>>,
}

pub(crate) struct Inner {
    pub(crate) manager: AuthManager,
    pub(crate) upstream: Upstream,
    pub(crate) client: Arc<UpstreamClient>,
    pub(crate) client_token: Option<ClientToken>,
    pub(crate) limits: Limits,
    pub(crate) access_log: Option<AccessLog>,
    pub(crate) metrics: Option<MetricsRender>,
    pub(crate) health: Health,
}

/// A local authenticating reverse proxy to one upstream: every request it forwards is signed
/// with fresh headers from its [`AuthManager`]. Cheap to clone.
///
/// # Examples
///
/// ```no_run
/// use agent_identity_proxy::{ClientToken, Listener, Proxy};
/// # async fn run(manager: agent_identity_manager::AuthManager) -> Result<(), Box<dyn std::error::Error>> {
/// let token = ClientToken::generate();
/// let proxy = Proxy::builder(manager, "https://chatgpt.com/backend-api")
///     .client_token(token.clone())
///     .build()?;
/// let listener = Listener::bind_tcp("127.0.0.1:0".parse()?).await?;
/// println!("{}", listener.url().unwrap_or_default());
/// proxy.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct Proxy {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("upstream", &self.inner.upstream.prefix)
            .field("limits", &self.inner.limits)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// A builder for a proxy to `upstream` (`https://…`, or `http://` to a loopback host) that
    /// signs with `manager`. A path in the URL prefixes every forwarded path.
    pub fn builder(manager: AuthManager, upstream: impl Into<String>) -> ProxyBuilder {
        ProxyBuilder {
            manager,
            upstream: upstream.into(),
            client_token: None,
            limits: Limits {
                header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
                max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
                max_connections: DEFAULT_MAX_CONNECTIONS,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
                response_header_timeout: DEFAULT_RESPONSE_HEADER_TIMEOUT,
                replay_limit: DEFAULT_REPLAY_LIMIT,
                drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            },
            access_log: None,
            metrics: None,
        }
    }

    /// The upstream URL requests go to.
    #[must_use]
    pub fn upstream(&self) -> &Url {
        &self.inner.upstream.url
    }

    /// Serves `listener` until `shutdown` completes; then stops accepting, lets in-flight
    /// requests finish for at most the drain timeout, closes what is left and returns. A unix
    /// socket's file is removed.
    ///
    /// # Errors
    /// [`ProxyError::ClientTokenRequired`] for a TCP listener without a client token.
    pub async fn serve(
        &self,
        listener: Listener,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), ProxyError> {
        if matches!(listener, Listener::Tcp(_)) && self.inner.client_token.is_none() {
            return Err(ProxyError::ClientTokenRequired);
        }
        let _watcher =
            AbortOnDrop(tokio::spawn(watch_state(Arc::clone(&self.inner))).abort_handle());
        let _anchor = AbortOnDrop(
            tokio::spawn(timer_anchor(self.inner.limits.header_read_timeout)).abort_handle(),
        );
        let (stop_tx, stop_rx) = watch::channel(false);
        // Every connection task holds a sender; `recv` returns `None` once all are gone.
        let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
        let permits = Arc::new(Semaphore::new(self.inner.limits.max_connections));
        let untrusted = Untrusted::default();
        let mut next_id = 0_u64;
        tokio::pin!(shutdown);
        loop {
            // With a slot free, accept. At the limit, a connection that is already waiting is
            // accepted all the same, and takes the place of the oldest one that never showed the
            // client token; when there is none, it waits for a slot.
            let (permit, accepted) = match Arc::clone(&permits).try_acquire_owned() {
                Ok(permit) => {
                    let accepted = tokio::select! {
                        () = &mut shutdown => break,
                        accepted = accept(&listener) => accepted,
                    };
                    (permit, accepted)
                }
                Err(_) => {
                    let accepted = tokio::select! {
                        () = &mut shutdown => break,
                        accepted = accept(&listener) => accepted,
                        // A slot freed before anyone came: accept as usual.
                        permit = Arc::clone(&permits).acquire_owned() => {
                            drop(permit);
                            continue;
                        }
                    };
                    if accepted.is_ok() && untrusted.shed_oldest() {
                        tracing::debug!(
                            "at the connection limit: shed a connection without the client token"
                        );
                    }
                    let permit = tokio::select! {
                        () = &mut shutdown => break,
                        permit = Arc::clone(&permits).acquire_owned() => match permit {
                            Ok(permit) => permit,
                            Err(_) => break,
                        },
                    };
                    (permit, accepted)
                }
            };
            let connection = match accepted {
                Ok(connection) => connection,
                Err(error) => {
                    // Out of file descriptors, most likely: back off rather than spin.
                    tracing::warn!(%error, "accept failed");
                    drop(permit);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let inner = Arc::clone(&self.inner);
            let stop = stop_rx.clone();
            let alive = alive_tx.clone();
            // The slot outlives the connection task when the connection is upgraded: the
            // upgraded stream still counts against the limit until it closes.
            let slot = Arc::new(permit);
            next_id += 1;
            match connection {
                Accepted::Tcp(stream) => {
                    let conn = Conn {
                        require_token: true,
                        local_addr: stream.local_addr().ok(),
                        trusted: Arc::new(AtomicBool::new(false)),
                        slot,
                    };
                    let shed = untrusted.register(next_id, &conn.trusted);
                    let untrusted = untrusted.clone();
                    let id = next_id;
                    tokio::spawn(async move {
                        serve_connection(inner, stream, conn, Some(shed), stop).await;
                        untrusted.forget(id);
                        drop(alive);
                    });
                }
                Accepted::Unix(stream) => {
                    let conn = Conn {
                        require_token: false,
                        local_addr: None,
                        trusted: Arc::new(AtomicBool::new(true)),
                        slot,
                    };
                    tokio::spawn(async move {
                        serve_connection(inner, stream, conn, None, stop).await;
                        drop(alive);
                    });
                }
            }
        }
        let unix_path = match &listener {
            Listener::Unix { path, .. } => Some(path.clone()),
            Listener::Tcp(_) => None,
        };
        drop(listener);
        if let Some(path) = unix_path {
            let _ = std::fs::remove_file(path);
        }
        let _ = stop_tx.send(true);
        drop(alive_tx);
        let drained = tokio::time::timeout(self.inner.limits.drain_timeout, alive_rx.recv())
            .await
            .is_ok();
        if !drained {
            tracing::warn!("in-flight requests did not finish within the drain timeout");
        }
        Ok(())
    }
}
