//! [`Emulator`], the handle of a running emulator, and [`EmulatorBuilder`].

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::{
    DEFAULT_AUDIENCE, DEFAULT_ISSUER, HttpJwksSource, SigningAlgorithm, Verifier, VerifierBuilder,
};
use agent_identity_task::{AuthApiBaseUrl, DEFAULT_SKEW, TaskClient, TaskClientBuilder};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use url::Url;

use crate::chatgpt::{AGENT_REGISTER_PATH, ChatGptLoginRequest};
use crate::error::EmulatorError;
use crate::mint::MintRequest;
use crate::routes::{self, AUTHAPI_PATH, ECHO_PATH, EVENTS_PATH, JWKS_PATH};
use crate::server;
use crate::state::{Config, RegistrationForm, Shared};

/// A running emulator. Dropping it stops the server at once; [`shutdown`](Emulator::shutdown)
/// stops it gracefully.
///
/// The handle is deliberately not `Clone`: it owns the server. Share it by reference or in an
/// `Arc`.
pub struct Emulator {
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    base_url: Url,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// Configures an [`Emulator`]. Every setting has a documented default.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `start` is awaited"]
pub struct EmulatorBuilder {
    listen: SocketAddr,
    issuer: String,
    audience: String,
    algorithm: SigningAlgorithm,
    registration_form: RegistrationForm,
    assertion_skew: Duration,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            issuer: DEFAULT_ISSUER.to_owned(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            algorithm: SigningAlgorithm::Rs256,
            registration_form: RegistrationForm::default(),
            assertion_skew: DEFAULT_SKEW,
        }
    }
}

impl EmulatorBuilder {
    /// The address to listen on. Defaults to `127.0.0.1:0` (a free port on loopback).
    ///
    /// The admin endpoints answer loopback peers only, whatever the address.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The `iss` of minted tokens. Defaults to [`DEFAULT_ISSUER`], the ChatGPT issuer.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The `aud` of minted tokens. Defaults to [`DEFAULT_AUDIENCE`], the ChatGPT audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// The token signature algorithm: [`SigningAlgorithm::Rs256`] (the default, an RSA-2048 key,
    /// what ChatGPT signs with and what `AuthManager` accepts by default) or
    /// [`SigningAlgorithm::EdDsa`] (an Ed25519 key, quicker to generate). Others make
    /// [`start`](Self::start) fail.
    pub fn algorithm(mut self, algorithm: SigningAlgorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// The shape of registration responses. Defaults to [`RegistrationForm::Encrypted`].
    pub fn registration_form(mut self, form: RegistrationForm) -> Self {
        self.registration_form = form;
        self
    }

    /// How far a registration or assertion timestamp may be from the emulator's clock. Defaults
    /// to ±300 s ([`DEFAULT_SKEW`]).
    pub fn assertion_skew(mut self, skew: Duration) -> Self {
        self.assertion_skew = skew;
        self
    }

    /// Generates the signing key, binds the listener and starts serving on the current Tokio
    /// runtime.
    ///
    /// # Errors
    /// [`EmulatorError::Bind`] when the address cannot be bound;
    /// [`EmulatorError::UnsupportedAlgorithm`] for an algorithm other than EdDSA or RS256;
    /// [`EmulatorError::KeyGeneration`] or [`EmulatorError::Random`] when the key cannot be made.
    ///
    /// # Panics
    /// When not called within a Tokio runtime.
    pub async fn start(self) -> Result<Emulator, EmulatorError> {
        let config = Config {
            issuer: self.issuer,
            audience: self.audience,
            algorithm: self.algorithm,
            assertion_skew: self.assertion_skew,
        };
        let shared = Arc::new(Shared::new(config, self.registration_form)?);
        let bind_error = |source| EmulatorError::Bind {
            addr: self.listen,
            source,
        };
        let listener = TcpListener::bind(self.listen).await.map_err(bind_error)?;
        let local_addr = listener.local_addr().map_err(bind_error)?;
        let (stop, stopped) = watch::channel(false);
        let router = routes::router(Arc::clone(&shared));
        let task = tokio::spawn(server::serve(
            listener,
            router,
            Arc::clone(&shared),
            stopped,
        ));
        Ok(Emulator {
            shared,
            local_addr,
            base_url: base_url_for(local_addr),
            stop,
            task: Some(task),
        })
    }
}

/// The URL clients use: an unspecified listen address (`0.0.0.0`, `::`) is reached on loopback.
fn base_url_for(addr: SocketAddr) -> Url {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let mut url = Url::parse("http://127.0.0.1/").unwrap_or_else(|_| unreachable!("a valid URL"));
    // A socket address is always a valid host and port.
    let _ = url.set_ip_host(ip);
    let _ = url.set_port(Some(addr.port()));
    url
}

impl Emulator {
    /// Starts configuring an emulator.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// Starts an emulator with every default: `127.0.0.1:0`, RS256 (as ChatGPT signs), the
    /// ChatGPT issuer and audience, encrypted task ids.
    ///
    /// # Errors
    /// As [`EmulatorBuilder::start`].
    ///
    /// # Panics
    /// When not called within a Tokio runtime.
    pub async fn start() -> Result<Self, EmulatorError> {
        Self::builder().start().await
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://127.0.0.1:PORT/`; other paths of the emulator are `base_url().join(…)`.
    pub fn base_url(&self) -> Url {
        self.base_url.clone()
    }

    /// `{base}/backend-api`: a ChatGPT base URL whose
    /// [`jwks_url_for_base`](agent_identity_jwt::jwks_url_for_base) is [`jwks_url`](Self::jwks_url).
    pub fn chatgpt_base_url(&self) -> Url {
        self.at("/backend-api")
    }

    /// `{base}/backend-api/wham/agent-identities/jwks`.
    pub fn jwks_url(&self) -> Url {
        self.at(JWKS_PATH)
    }

    /// `{base}/api/accounts`, the AuthAPI base.
    pub fn authapi_base_url(&self) -> Url {
        self.at(AUTHAPI_PATH)
    }

    /// `{base}/api/accounts/v1/agent/register`, Codex's agent registration: `POST` with
    /// `Authorization: Bearer <access token>` of a [`chatgpt_login`](Self::chatgpt_login).
    pub fn agent_register_url(&self) -> Url {
        self.at(AGENT_REGISTER_PATH)
    }

    /// `{base}/echo`, the protected endpoint: any method, at `/echo` or any path under it (but
    /// `/echo/events`), with the `AgentAssertion` headers.
    pub fn echo_url(&self) -> Url {
        self.at(ECHO_PATH)
    }

    /// `{base}/echo/events`, the protected server-sent-events endpoint: `GET` with the
    /// `AgentAssertion` headers, `?count=N&interval_ms=M` (defaults 5 and 100).
    pub fn events_url(&self) -> Url {
        self.at(EVENTS_PATH)
    }

    /// The base URL with `path` (absolute) as its path.
    fn at(&self, path: &str) -> Url {
        let mut url = self.base_url.clone();
        url.set_path(path);
        url
    }

    /// The `iss` of minted tokens.
    pub fn issuer(&self) -> &str {
        &self.shared.config.issuer
    }

    /// The `aud` of minted tokens.
    pub fn audience(&self) -> &str {
        &self.shared.config.audience
    }

    /// The algorithm tokens are signed with.
    pub fn algorithm(&self) -> SigningAlgorithm {
        self.shared.config.algorithm
    }

    /// The `kid` new tokens are signed under.
    pub fn current_kid(&self) -> String {
        self.shared.current_key().kid().to_owned()
    }

    /// Starts minting a token; see [`MintRequest`] for the claims and their defaults.
    pub fn mint(&self) -> MintRequest<'_> {
        MintRequest::new(&self.shared)
    }

    /// Starts issuing a ChatGPT login (an access token and an id token) whose access token
    /// [`agent_register_url`](Self::agent_register_url) accepts; see [`ChatGptLoginRequest`]
    /// for the claims and their defaults.
    pub fn chatgpt_login(&self) -> ChatGptLoginRequest<'_> {
        ChatGptLoginRequest::new(&self.shared)
    }

    /// A verifier that trusts this emulator: its JWKS over HTTP, its issuer and audience, and
    /// its algorithm alone, with every other verifier default.
    pub fn verifier(&self) -> Verifier {
        self.verifier_builder().build()
    }

    /// The builder behind [`verifier`](Self::verifier), to change other settings (a zero
    /// refetch interval, a clock).
    pub fn verifier_builder(&self) -> VerifierBuilder {
        Verifier::builder(HttpJwksSource::new(self.jwks_url()))
            .issuer(self.issuer())
            .audience(self.audience())
            .algorithms([self.algorithm()])
    }

    /// A task client for this emulator's AuthAPI, with every client default.
    ///
    /// # Panics
    /// When the emulator listens on a specific non-loopback address: the task client refuses
    /// plain `http` to anything but loopback.
    pub fn task_client(&self) -> TaskClient {
        self.task_client_builder().build()
    }

    /// The builder behind [`task_client`](Self::task_client), to change its timeouts or retries.
    ///
    /// # Panics
    /// As [`task_client`](Self::task_client).
    pub fn task_client_builder(&self) -> TaskClientBuilder {
        TaskClient::builder(self.authapi_base())
    }

    /// The AuthAPI base as a validated [`AuthApiBaseUrl`].
    ///
    /// # Panics
    /// As [`task_client`](Self::task_client).
    pub fn authapi_base(&self) -> AuthApiBaseUrl {
        match AuthApiBaseUrl::parse(self.authapi_base_url().as_str()) {
            Ok(base) => base,
            Err(error) => {
                panic!("the emulator's AuthAPI base is not usable by a task client: {error}")
            }
        }
    }

    /// Requests to the JWKS endpoint, injected failures included (dropped connections are not
    /// counted: they never reach it).
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.counters().jwks_fetches
    }

    /// Successful task registrations: each issued a task id. Refused and injected-failure
    /// requests are not counted.
    pub fn registrations(&self) -> u64 {
        self.shared.counters().registrations
    }

    /// Agents registered through [`agent_register_url`](Self::agent_register_url).
    pub fn agent_registrations(&self) -> u64 {
        self.shared.counters().agent_registrations
    }

    /// Requests to the protected endpoint that were accepted.
    pub fn assertions_accepted(&self) -> u64 {
        self.shared.counters().assertions_accepted
    }

    /// Requests to the protected endpoint that were refused.
    pub fn assertions_rejected(&self) -> u64 {
        self.shared.counters().assertions_rejected
    }

    /// The next `n` registration requests are answered with `status` (500 if it is not a valid
    /// status code) and `{"error":"injected_fault","status":…}`, before any check. Replaces any
    /// pending registration fault; `n = 0` clears it.
    pub fn fail_next_registrations(&self, n: u32, status: u16) {
        self.shared.fail_next_registrations(n, status);
    }

    /// The next `n` JWKS requests are answered with `status`, as for
    /// [`fail_next_registrations`](Self::fail_next_registrations).
    pub fn fail_next_jwks(&self, n: u32, status: u16) {
        self.shared.fail_next_jwks(n, status);
    }

    /// The next `n` agent registration requests are answered with `status`, as for
    /// [`fail_next_registrations`](Self::fail_next_registrations).
    pub fn fail_next_agent_registrations(&self, n: u32, status: u16) {
        self.shared.fail_next_agent_registrations(n, status);
    }

    /// Delays every response of the JWKS, registration and echo endpoints by `latency` (a Tokio
    /// sleep, so paused-clock tests see it without waiting). `Duration::ZERO` removes it. The
    /// admin endpoints are never delayed.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.set_latency(latency);
    }

    /// The next `n` requests to the JWKS, registration and echo endpoints have their connection
    /// closed without a response; the client sees a transport error. Replaces any pending count.
    pub fn drop_next_connections(&self, n: u32) {
        self.shared.drop_next_connections(n);
    }

    /// Revokes every task registered so far: assertions naming one are refused with 401 by the
    /// protected endpoints from now on (a client recovers by registering a new task). Returns how
    /// many tasks were revoked.
    pub fn revoke_tasks(&self) -> usize {
        self.shared.revoke_tasks()
    }

    /// Generates a new signing key under a new `kid` and publishes it beside the old ones (so
    /// tokens already minted stay valid); new tokens are signed with it. Returns the new `kid`.
    ///
    /// # Panics
    /// When the system random source fails, which makes every test meaningless anyway.
    pub fn rotate_signing_key(&self) -> String {
        match self.shared.rotate() {
            Ok(kid) => kid,
            Err(error) => panic!("cannot rotate the emulator's signing key: {error}"),
        }
    }

    /// The shape of registration responses from now on.
    pub fn set_registration_form(&self, form: RegistrationForm) {
        self.shared.set_registration_form(form);
    }

    /// Stops accepting connections, lets requests in flight finish (for at most 5 s), and waits
    /// for the server to stop.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url)
            .field("algorithm", &self.algorithm())
            .field("issuer", &self.issuer())
            .field("audience", &self.audience())
            .finish_non_exhaustive()
    }
}
