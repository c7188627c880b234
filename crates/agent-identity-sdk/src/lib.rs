//! Authenticate an AI agent runtime as an **agent identity**.
//!
//! An agent runtime is handed an agent identity token: a JWT, signed by the ChatGPT backend, that
//! names the agent's runtime and account and carries the agent's Ed25519 private key. This crate
//! verifies that token against the backend's key set, registers the process's *task* with the
//! AuthAPI as soon as auth loads, signs every outgoing request with an `AgentAssertion`, and keeps
//! the identity cached and durable through reloads, outages, crashes and concurrent processes.
//!
//! It is a thin facade: everything here is re-exported from the layer crates, which can also be
//! used on their own ([`jwt`], [`task`], [`manager`], and, with the `emulator` feature,
//! `emulator`).
//!
//! # Getting started
//!
//! [`AuthManager::from_env`] sets everything up in one call, from the variables the
//! `agent-identity` CLI reads (see [Configuration](#configuration)): it verifies the stored
//! token and registers this process's task before it returns. `AgentIdentityMiddleware`
//! (feature `reqwest-middleware`) then signs every request a `reqwest_middleware` client sends
//! to the origins you name, and recovers by itself when one of them answers 401:
//!
//! ```no_run
//! use agent_identity_sdk::{AgentIdentityMiddleware, AuthManager, Origins};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let manager = AuthManager::from_env().await?;
//! // Only these origins get the assertion; a request anywhere else passes through unsigned
//! // (or, after `.strict()`, fails).
//! let origins = Origins::new(["https://api.example.com"])?;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(AgentIdentityMiddleware::new(manager.clone(), origins))
//!     .build();
//! let response = client.get("https://api.example.com/v1/models").send().await?;
//! println!("{}", response.status());
//! # Ok(())
//! # }
//! ```
//!
//! [`AuthManager::auth`] is one atomic load: without the middleware, call it for every request
//! and add [`AgentIdentityAuth::headers`] yourself. A resource server that checks these headers
//! uses the `server` module (feature `server`).
//!
//! # What it does, and what it does not
//!
//! - It **does** verify tokens (issuer, audience, expiry, `kid`, algorithm, signature, and every
//!   claim), cache the key set without ever blocking a reader, register tasks with retries on
//!   transient failures, build byte-exact `AgentAssertion` headers, store credentials in a
//!   Codex-compatible `auth.json` atomically, and keep a loaded identity through transient
//!   outages.
//! - It does **not** obtain agent identity tokens (that is the ChatGPT backend's job), make your
//!   requests for you (it gives you the headers), or refresh tokens: when a token expires, the
//!   manager says so (`Expired`) and a new one must be stored.
//!
//! # Long-running processes
//!
//! In a long-running process, call [`AuthManager::reload`] when the stored credentials may have
//! changed (on a timer, or on a file-change notification). It returns what happened:
//! [`ReloadOutcome::Unchanged`], `Updated`, `LoggedOut { reason }` — only for a permanent
//! verdict: the credentials are gone, the token is invalid, expired or untrusted, or the AuthAPI
//! answered 401/403 — or `KeptCached { error }`, when a transient failure (the AuthAPI or the key
//! set unreachable, a corrupt file) left the current identity and its task id in place. After a
//! resource server answers 401, [`AuthManager::recover_unauthorized`] registers a fresh task.
//! [`AuthManager::subscribe`] notifies you of every state change, and [`AuthManager::status`]
//! reports without the network.
//!
//! # Configuration
//!
//! [`AuthManager::from_env`] sets everything up from the variables the
//! `agent-identity` CLI reads, with the same aliases and precedence (the key set file wins over
//! its URL; `AGENT_IDENTITY_JWT`, then `CODEX_ACCESS_TOKEN`, override the stored token
//! read-only); [`AuthManager::builder`] sets each explicitly and reads no variable, and
//! [`AuthManagerBuilder::from_env_lookup`] takes the environment as a function, for tests. Setup
//! fails with an [`AuthError`] (a bad setting is [`AuthError::Config`]); a plain-`http` key set
//! URL off loopback is refused unless given to [`AuthManagerBuilder::insecure_jwks_url`].
//!
//! | what | where | default |
//! | --- | --- | --- |
//! | key set | [`HttpJwksSource`] URL, or [`StaticJwksSource`] from a file | [`PRODUCTION_JWKS_URL`] |
//! | issuer, audience | [`VerifierBuilder::issuer`], [`VerifierBuilder::audience`] | [`DEFAULT_ISSUER`], [`DEFAULT_AUDIENCE`] |
//! | accepted algorithms | [`VerifierBuilder::algorithms`] | RS256 |
//! | clock leeway | [`VerifierBuilder::leeway`] | 60 s |
//! | key cache | [`VerifierBuilder::keys_ttl`], `max_staleness`, `refetch_interval` | 1 h, 24 h, 30 s |
//! | AuthAPI base URL | [`AuthApiBaseUrl::resolve`]: explicit, then `AGENT_IDENTITY_AUTHAPI_BASE_URL`, `CODEX_AUTHAPI_BASE_URL`, `CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL` | `https://auth.openai.com/api/accounts` |
//! | registration retries | [`TaskClientBuilder`]: attempts, per-attempt timeout, total deadline, backoff | 4, 30 s, 120 s, 250 ms doubling to 8 s |
//! | credentials | [`FileStore`] in `$AGENT_IDENTITY_HOME` (default `~/.agent-identity`); a [`TokenFileStore`] when `AGENT_IDENTITY_JWT_FILE` names a token file; `KeyringStore` when `AGENT_IDENTITY_STORE=keyring`; overridden read-only by `AGENT_IDENTITY_JWT` / `CODEX_ACCESS_TOKEN` through [`EnvOverride`] | |
//!
//! Every URL the identity travels to or trusts (the AuthAPI, the key set, a middleware's
//! [`Origins`]) passes one rule, [`UrlRule`]: `https`, or plain `http` to a loopback host only;
//! no credentials in it.
//!
//! # Feature flags
//!
//! The user guide (`cargo doc -p agent-identity-sdk --all-features --open`) shows every feature;
//! each gated item says which feature it needs in its first lines.
//!
//! - `http` (default): [`HttpJwksSource`], which fetches the key set with reqwest and rustls.
//!   Without it, verify against a [`StaticJwksSource`].
//! - `emulator`: `emulator`, a local AuthAPI and ChatGPT key set for your
//!   tests. It pulls in axum; enable it in `[dev-dependencies]` only.
//! - `reqwest-middleware`: `AgentIdentityMiddleware`, which signs the requests of a
//!   `reqwest_middleware` client to the [`Origins`] it is given, afresh each time, recovers once
//!   from such an origin's 401, and fails with the [`AuthError`] without sending anything when
//!   the manager is not `Ready`.
//! - `server`: the `server` module, a tower layer and an axum extractor that verify
//!   `AgentAssertion` headers for resource servers, with ready directories (read its notes on
//!   where the directory comes from, and on replays). A worked axum server is
//!   `examples/axum_server.rs`.
//! - `keyring`: `KeyringStore`, the credentials in the OS keyring under the entry Codex uses
//!   for the same home, every call time-boxed and never a fallback to a file; it also lets
//!   `AGENT_IDENTITY_STORE=keyring` choose it in [`AuthManager::from_env`].
//!
//! # Manual setup
//!
//! Each part can also be built by hand, as [`AuthManager::from_env`] builds them inside.
//! [`AuthManager::new`] loads eagerly, like `from_env`: it reads the stored token, verifies it,
//! and registers the task before it returns. After that, [`AuthManager::auth`] is one atomic load — call it for
//! every request.
//!
//! ```
//! use std::sync::Arc;
//! use agent_identity_sdk::emulator::Emulator;
//! use agent_identity_sdk::{AuthApiBaseUrl, AuthManager, HttpJwksSource, MemoryStore, SigningAlgorithm, TaskClient, Verifier};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Here the emulator stands in for ChatGPT and the AuthAPI; in production, use
//! // `agent_identity_sdk::PRODUCTION_JWKS_URL` and `AuthApiBaseUrl::resolve(None)`.
//! let emulator = Emulator::start().await?;
//! let token = emulator.mint().issue()?.token;
//!
//! let jwks = HttpJwksSource::new(emulator.jwks_url())?;
//! let verifier = Verifier::builder(jwks)
//!     .algorithms([SigningAlgorithm::Rs256, SigningAlgorithm::EdDsa])
//!     .build();
//! let tasks = TaskClient::new(AuthApiBaseUrl::parse(emulator.authapi_base_url().as_str())?);
//! let store = Arc::new(MemoryStore::with_token(token));
//!
//! let manager = AuthManager::new(verifier, tasks, store).await?;
//! let auth = manager.auth()?;
//! println!("registered task {}", auth.task_id());
//!
//! // Every request carries a fresh assertion, the account id, and the FedRAMP flag if set.
//! let mut request = reqwest::Client::new().get(emulator.echo_url());
//! for (name, value) in auth.headers()?.iter() {
//!     request = request.header(name, value);
//! }
//! assert!(request.send().await?.status().is_success());
//! # Ok(())
//! # }
//! ```
//!
//! # Testing your agent with the emulator
//!
//! The emulator serves the key set, task registration (verifying signatures and timestamps, and
//! answering with encrypted task ids by default) and a protected echo endpoint that checks
//! `AgentAssertion` headers, all on `127.0.0.1` with a random port. It mints identities, counts
//! what it served, and injects faults, so you can test your own code's behaviour when the AuthAPI
//! is down:
//!
//! ```
//! use std::sync::Arc;
//! use agent_identity_sdk::emulator::Emulator;
//! use agent_identity_sdk::{AuthManager, CredentialStore, MemoryStore, ReloadOutcome};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let emulator = Emulator::start().await?;
//! let store = Arc::new(MemoryStore::with_token(emulator.mint().issue()?.token));
//! let manager = AuthManager::new(emulator.verifier(), emulator.task_client(), store.clone()).await?;
//! let task = manager.auth()?.task_id().clone();
//!
//! // Another process stores a new token while the AuthAPI is failing.
//! store.save(&emulator.mint().issue()?.token)?;
//! emulator.fail_next_registrations(10, 503);
//! let outcome = manager.reload().await;
//! assert!(matches!(outcome, ReloadOutcome::KeptCached { .. }));
//! assert_eq!(manager.auth()?.task_id(), &task, "still serving the cached identity");
//! # Ok(())
//! # }
//! ```

// The README's code blocks, compiled (and the runnable ones run) as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

pub use agent_identity_jwt as jwt;
pub use agent_identity_manager as manager;
pub use agent_identity_task as task;

/// The local AuthAPI and ChatGPT key set, for your tests.
///
/// *Available with the `emulator` feature.*
#[cfg(feature = "emulator")]
pub use agent_identity_emulator as emulator;

#[cfg(feature = "reqwest-middleware")]
mod middleware;
/// *Available with the `reqwest-middleware` feature.*
#[cfg(feature = "reqwest-middleware")]
pub use middleware::{AgentIdentityMiddleware, auth_error};

mod origins;
pub use origins::Origins;

#[cfg(feature = "server")]
pub mod server;

/// *Available with the `http` feature (on by default).*
#[cfg(feature = "http")]
pub use agent_identity_jwt::HttpJwksSource;

/// *Available with the `keyring` feature.*
#[cfg(feature = "keyring")]
pub use agent_identity_manager::KeyringStore;

pub mod dangerous {
    //! What defeats a check, under names that say so (as rustls keeps its own): use these for
    //! diagnostics and tests, never to decide whom to trust.

    /// Reads a token's header and claims **without verifying its signature**, for shape checks
    /// and diagnostics only. Nothing it returns is trusted.
    pub use agent_identity_jwt::insecure_decode_unverified;
}
pub use agent_identity_jwt::{
    AgentIdentityRecord, AgentKey, AgentRuntimeId, Clock, DEFAULT_AUDIENCE, DEFAULT_ISSUER,
    IdentityJwt, JwtError, PRODUCTION_JWKS_URL, PlanType, SigningAlgorithm, StaticJwksSource,
    SystemClock, UrlRefusal, UrlRule, Verifier, VerifierBuilder,
};
pub use agent_identity_manager::{
    AgentIdentityAuth, AuthError, AuthManager, AuthManagerBuilder, AuthState, ClearOutcome,
    CredentialStore, EnvOverride, FileStore, LogoutReason, MemoryStore, ReloadOutcome, Status,
    StoreError, TaskReuse, TokenFileStore,
};
pub use agent_identity_task::{
    AssertionError, AuthApiBaseUrl, DEFAULT_SKEW, RequestHeaders, TaskClient, TaskClientBuilder,
    TaskError, TaskErrorKind, TaskId, verify_assertion,
};
