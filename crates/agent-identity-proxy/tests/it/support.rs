//! A proxy served in-process, signing with an identity from the emulator, in front of a local
//! upstream that counts what reaches it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use agent_identity_emulator::Emulator;
use agent_identity_manager::{AuthManager, CredentialStore, MemoryStore, TaskReuse};
use agent_identity_proxy::{AccessRecord, ClientToken, Listener, Proxy, ProxyBuilder, ProxyError};
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub(crate) use agent_identity_test_support::net::{
    exchange, nothing_received_yet, read_until_closed, step, write_ignoring_close,
};

/// An upstream on a loopback port: `200 ok` to any request, and for an upgrade request a `101`
/// followed by an echo of the upgraded stream. It counts the requests it received.
pub(crate) struct Upstream {
    pub(crate) url: String,
    received: Arc<AtomicUsize>,
}

impl Upstream {
    pub(crate) async fn start() -> Self {
        Self::answering(StatusCode::OK).await
    }

    /// An upstream already listening at `url`, whose requests are not counted here.
    pub(crate) fn at(url: String) -> Self {
        Self {
            url,
            received: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// An upstream that answers `status` (with the body `ok`) to every request but an upgrade.
    pub(crate) async fn answering(status: StatusCode) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the upstream");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let received = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&received);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = Arc::clone(&counter);
                let service = service_fn(move |request: Request<Incoming>| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move { Ok::<_, Infallible>(answer(request, status)) }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades(),
                );
            }
        });
        Self { url, received }
    }

    /// How many requests reached the upstream.
    pub(crate) fn received(&self) -> usize {
        self.received.load(Ordering::SeqCst)
    }
}

fn answer(mut request: Request<Incoming>, status: StatusCode) -> Response<Full<Bytes>> {
    if !request.headers().contains_key("upgrade") {
        let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
        *response.status_mut() = status;
        return response;
    }
    let upgraded = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        if let Ok(upgraded) = upgraded.await {
            let (mut read, mut write) = tokio::io::split(TokioIo::new(upgraded));
            let _ = tokio::io::copy(&mut read, &mut write).await;
        }
    });
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    response
        .headers_mut()
        .insert("connection", "upgrade".parse().expect("value"));
    response
        .headers_mut()
        .insert("upgrade", "echo".parse().expect("value"));
    response
}

/// A proxy serving on a loopback port until dropped.
pub(crate) struct Running {
    pub(crate) addr: SocketAddr,
    pub(crate) token: ClientToken,
    /// Every access-log record, as the proxy reports it.
    pub(crate) log: mpsc::UnboundedReceiver<AccessRecord>,
    stop: Option<oneshot::Sender<()>>,
    served: Option<JoinHandle<Result<(), ProxyError>>>,
    /// The emulator that minted the identity and registers its tasks.
    pub(crate) emulator: Emulator,
    /// The runtime of the identity in the store, when one is.
    pub(crate) runtime_id: Option<String>,
}

/// How [`Running::launch`] starts a proxy.
pub(crate) struct Launch {
    emulator: Emulator,
    upstream: String,
    logged_in: bool,
    max_attempts: Option<u32>,
}

impl Launch {
    /// A proxy to `upstream`, signing with an identity `emulator` minted.
    pub(crate) fn new(emulator: Emulator, upstream: String) -> Self {
        Self {
            emulator,
            upstream,
            logged_in: true,
            max_attempts: None,
        }
    }

    /// With nothing in the store.
    pub(crate) fn logged_out(mut self) -> Self {
        self.logged_in = false;
        self
    }

    /// With a task client that makes `attempts` registration attempts per call.
    pub(crate) fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = Some(attempts);
        self
    }
}

/// The emulator's base URL as an upstream: `/echo` and its siblings are under it.
pub(crate) fn emulator_url(emulator: &Emulator) -> String {
    emulator
        .base_url()
        .as_str()
        .trim_end_matches('/')
        .to_owned()
}

impl Running {
    /// A proxy to `upstream`, with the limits `configure` sets.
    pub(crate) async fn start(
        upstream: &Upstream,
        configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder,
    ) -> Self {
        let emulator = Emulator::start().await.expect("the emulator starts");
        Self::launch(Launch::new(emulator, upstream.url.clone()), configure).await
    }

    /// A proxy whose upstream is the emulator itself: its `/echo` checks each request's
    /// assertion as a resource server would and answers with the identity it names.
    pub(crate) async fn to_emulator(configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder) -> Self {
        let emulator = Emulator::start().await.expect("the emulator starts");
        let upstream = emulator_url(&emulator);
        Self::launch(Launch::new(emulator, upstream), configure).await
    }

    /// A proxy started as `launch` says, with the limits `configure` sets.
    pub(crate) async fn launch(
        launch: Launch,
        configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder,
    ) -> Self {
        let Launch {
            emulator,
            upstream,
            logged_in,
            max_attempts,
        } = launch;
        let (store, runtime_id) = if logged_in {
            let minted = emulator.mint().issue().expect("mint");
            let runtime_id = minted.runtime_id.as_str().to_owned();
            (MemoryStore::with_token(minted.token), Some(runtime_id))
        } else {
            (MemoryStore::new(), None)
        };
        let store: Arc<dyn CredentialStore> = Arc::new(store);
        let mut task_client = emulator.task_client_builder();
        if let Some(attempts) = max_attempts {
            task_client = task_client.max_attempts(attempts);
        }
        let manager = AuthManager::with_task_reuse(
            emulator.verifier(),
            task_client.build(),
            store,
            TaskReuse::PerProcess,
        )
        .await
        .expect("the manager starts");
        let token = ClientToken::generate();
        let (log_tx, log) = mpsc::unbounded_channel();
        let proxy = configure(
            Proxy::builder(manager, upstream.as_str())
                .client_token(token.clone())
                .access_log(move |record| {
                    let _ = log_tx.send(record.clone());
                }),
        )
        .build()
        .expect("the proxy builds");
        let listener = Listener::bind_tcp(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("a tcp address");
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            proxy
                .serve(listener, async {
                    let _ = stopped.await;
                })
                .await
        });
        Self {
            addr,
            token,
            log,
            stop: Some(stop),
            served: Some(served),
            emulator,
            runtime_id,
        }
    }

    /// A request's head, ending the headers, with the client token.
    pub(crate) fn head(&self, path: &str, extra: &str) -> String {
        format!(
            "GET {path} HTTP/1.1\r\nhost: {}\r\nauthorization: Bearer {}\r\n{extra}\r\n",
            self.addr,
            self.token.expose_secret()
        )
    }

    /// The proxy's answer to `GET path` with the client token, on a connection of its own: the
    /// status and the JSON body.
    pub(crate) async fn get_json(&self, path: &str) -> (StatusCode, serde_json::Value) {
        let answer = exchange(
            self.addr,
            self.head(path, "connection: close\r\n").as_bytes(),
        )
        .await;
        json_answer(&answer)
    }

    /// A keep-alive client connection.
    pub(crate) async fn connect(&self) -> Client {
        let stream = step("connect", TcpStream::connect(self.addr))
            .await
            .expect("connect to the proxy");
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("handshake");
        Client {
            sender,
            connection: tokio::spawn(async move {
                let _ = connection.await;
            }),
            authorization: format!("Bearer {}", self.token.expose_secret()),
        }
    }

    /// The next access-log record.
    pub(crate) async fn logged(&mut self) -> AccessRecord {
        step("an access-log record", self.log.recv())
            .await
            .expect("the proxy is running")
    }

    /// Stops the proxy and waits for `serve` to return.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(served) = self.served.take() {
            step("the proxy stops", served)
                .await
                .expect("serve did not panic")
                .expect("serve returned ok");
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(served) = &self.served {
            served.abort();
        }
    }
}

/// One client connection, kept alive between requests.
pub(crate) struct Client {
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
    connection: JoinHandle<()>,
    authorization: String,
}

impl Client {
    /// `GET path` on this connection: the status and the body.
    pub(crate) async fn get(&mut self, path: &str) -> (StatusCode, Bytes) {
        let request = Request::get(path)
            .header("host", "proxy")
            .header("authorization", &self.authorization)
            .body(Empty::new())
            .expect("request");
        step("a response", async {
            // The previous exchange may still be settling on the connection: sending before it
            // is ready fails at once with "connection was not ready".
            self.sender
                .ready()
                .await
                .expect("the connection stays open");
            let response = self.sender.send_request(request).await.expect("a response");
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .expect("the body")
                .to_bytes();
            (status, body)
        })
        .await
    }

    /// Waits until the proxy has closed this connection.
    pub(crate) async fn closed_by_the_proxy(self) {
        let Self {
            sender, connection, ..
        } = self;
        // Keeping the sender: dropping it would close the connection from our side.
        step("the proxy closes the connection", connection)
            .await
            .expect("the connection task");
        drop(sender);
    }

    /// Closes the connection from the client's side and waits until it is closed.
    pub(crate) async fn close(self) {
        drop(self.sender);
        step("the client connection closes", self.connection)
            .await
            .expect("the connection task");
    }
}

/// The status and JSON body of a raw HTTP/1.1 answer.
pub(crate) fn json_answer(answer: &str) -> (StatusCode, serde_json::Value) {
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .and_then(|code| StatusCode::from_u16(code).ok())
        .unwrap_or_else(|| panic!("a status line: {answer:?}"));
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunked(body)
    } else {
        body.to_owned()
    };
    let body = serde_json::from_str(&body).unwrap_or_else(|_| panic!("a json body: {answer:?}"));
    (status, body)
}

/// A chunked body's data, its chunks joined.
pub(crate) fn dechunked(mut body: &str) -> String {
    let mut data = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.split(';').next().unwrap_or_default().trim(), 16)
            .unwrap_or_else(|_| panic!("a chunk size: {body:?}"));
        if size == 0 {
            break;
        }
        data.push_str(&rest[..size]);
        body = rest[size..].strip_prefix("\r\n").unwrap_or_default();
    }
    data
}

/// An upstream on a loopback port that reads each request's head and answers every one with
/// `response`, byte for byte, then closes.
pub(crate) async fn raw_upstream(response: &'static [u8]) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the upstream");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buffer = [0_u8; 4096];
                while !head.windows(4).any(|window| window == b"\r\n\r\n") {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(read) => head.extend_from_slice(&buffer[..read]),
                    }
                }
                let _ = stream.write_all(response).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    url
}
