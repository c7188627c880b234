//! A local AgentIdentity backend for tests: a JWKS endpoint, the AuthAPI's task registration and
//! a protected endpoint, speaking the wire format byte for byte, with fault injection.
//!
//! Use it the way you would use `mockito` or `wiremock`: start an [`Emulator`] in your test, point
//! the code under test at its URLs, mint agent identity tokens with [`Emulator::mint`], and assert
//! on its counters. Each emulator listens on its own free port on `127.0.0.1`, so tests run in
//! parallel without sharing state, and dropping the handle stops the server.
//!
//! # Example
//!
//! ```
//! use agent_identity_emulator::Emulator;
//! use agent_identity_task::request_headers;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = tokio::runtime::Runtime::new()?;
//! runtime.block_on(async {
//!     let emulator = Emulator::start().await?;
//!
//!     // An identity as the ChatGPT backend would issue it, signed by the emulator's key.
//!     let minted = emulator.mint().account_id("acct-123").issue()?;
//!
//!     // Verify it against the emulator's JWKS, and register a task with its AuthAPI.
//!     let record = emulator.verifier().verify(&minted.token).await?;
//!     let task_id = emulator.task_client().register_task(&record).await?;
//!     assert_eq!(emulator.registrations(), 1);
//!
//!     // Make the AuthAPI fail once: the client's retry absorbs it.
//!     emulator.fail_next_registrations(1, 503);
//!     emulator.task_client().register_task(&record).await?;
//!     assert_eq!(emulator.registrations(), 2);
//!
//!     // The headers the agent sends are accepted by the protected endpoint.
//!     let headers = request_headers(&record, &task_id, std::time::SystemTime::now())?;
//!     let mut request = reqwest::Client::new().get(emulator.echo_url());
//!     for (name, value) in headers.iter() {
//!         request = request.header(name, value);
//!     }
//!     assert_eq!(request.send().await?.status(), 200);
//!     assert_eq!(emulator.assertions_accepted(), 1);
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! # Ok(())
//! # }
//! ```
//!
//! # Endpoints
//!
//! All under [`Emulator::base_url`] (`http://127.0.0.1:PORT`):
//!
//! | method | path | what |
//! | --- | --- | --- |
//! | `GET` | `/backend-api/wham/agent-identities/jwks` | the JWK Set, every key ever used (`Cache-Control: public, max-age=300`) |
//! | `POST` | `/api/accounts/v1/agent/{runtime_id}/task/register` | task registration (wire-format §3): 404 for a runtime the emulator did not mint, 400 for a malformed body, 401 for a bad signature or a timestamp outside ±300 s |
//! | `POST` | `/api/accounts/v1/agent/register` | Codex's agent registration: `Authorization: Bearer <access token>` of a ChatGPT login the emulator issued (401 `missing_authorization`, `unknown_access_token`, `expired_access_token`), `X-OpenAI-Fedramp: true` for a FedRAMP account (403 `missing_fedramp_header`), body `{"abom":{"agent_version","agent_harness_id","running_location"},"agent_public_key":"ssh-ed25519 AAAA…","capabilities":[…],"ttl":null}` (400 `malformed`, `malformed_public_key`) → `{"agent_runtime_id"}`; the new runtime then registers tasks and signs assertions like a minted one |
//! | any | `/echo` and every path under it (`/echo/chat/completions`, `/echo/v1/models`, …) | the protected endpoint: checks `Authorization: AgentAssertion …` and `ChatGPT-Account-ID` (and `X-OpenAI-Fedramp` for FedRAMP accounts); 200 `{"runtime_id","task_id","account_id","method","path","body_length","body_sha256"}` (the request body read as it streams, never held whole) or 401 `{"error":"<kind>"}` |
//! | `GET` | `/echo/events?count=N&interval_ms=M` | the same check, then a `text/event-stream` of `N` events (default 5, at most 1000) `M` ms apart (default 100), each `data: {"seq","sent_at_unix_ms"}` |
//! | `POST` | `/_emulator/mint` | mint a token: `{"runtime_id","account_id","chatgpt_user_id","email","plan_type","fedramp","lifetime_seconds","issuer","audience"}`, all optional, → `{"token","runtime_id","kid"}` |
//! | `POST` | `/_emulator/chatgpt-login` | issue a ChatGPT login for agent registration: `{"account_id","chatgpt_user_id","email","plan_type","fedramp","lifetime_seconds"}`, all optional, → `{"access_token","id_token","account_id"}` |
//! | `POST` | `/_emulator/faults` | `{"fail_next_registrations":{"n","status"},"fail_next_jwks":{"n","status"},"fail_next_agent_registrations":{"n","status"},"latency_ms","drop_next_connections","registration_form","rotate_signing_key","revoke_tasks"}`, all optional |
//! | `GET` | `/_emulator/counters` | `{"jwks_fetches","registrations","assertions_accepted","assertions_rejected","agent_registrations"}` |
//!
//! Tokens are signed with RS256 (an RSA-2048 key), as ChatGPT signs them, unless
//! [`EmulatorBuilder::algorithm`] asks for EdDSA. `docs/emulator.md` in the repository describes
//! the admin endpoints' bodies and answers in full, for driving an emulator from another language.
//!
//! The error kinds of `/echo` and registration are `missing_authorization`, `malformed`,
//! `unknown_runtime`, `bad_signature`, `task_not_issued`, `stale`, `account_mismatch` and
//! `missing_fedramp_header`.
//!
//! The admin endpoints (`/_emulator/…`) are for driving an emulator from another process (the
//! `agent-identity emulator` command). They answer loopback peers only (403 otherwise), and they
//! are never delayed or dropped by the fault knobs, so a test can always reach them. So that a
//! web page in a browser on the same machine cannot drive them (CSRF) or read a minted token
//! through DNS rebinding, they also require a `Host` of `127.0.0.1`, `localhost` or `[::1]` (any
//! port) and, when sent, a loopback `Origin` (403 `{"error":"admin_host_not_loopback"}`
//! otherwise), and every `POST` must say `Content-Type: application/json`, even with an empty
//! body (415 `{"error":"admin_body_must_be_json"}`). A `lifetime_seconds` whose `exp` would pass
//! 9999-12-31T23:59:59Z is refused with 400.
//!
//! # Secrets
//!
//! The emulator is a test fixture: `/_emulator/mint` returns a freshly minted token, a real
//! secret in form, in its response body, on purpose. Never expose an emulator beyond loopback,
//! and never point it at real accounts. Everything it signs is signed with throwaway keys made at
//! start-up.
//!
//! # Faults
//!
//! [`Emulator::fail_next_registrations`], [`Emulator::fail_next_jwks`],
//! [`Emulator::fail_next_agent_registrations`], [`Emulator::set_latency`], [`Emulator::drop_next_connections`],
//! [`Emulator::rotate_signing_key`] and [`Emulator::set_registration_form`] change the emulator's
//! behaviour from the next request on, and can be called at any time from any thread.

mod admin;
mod chatgpt;
mod emulator;
mod error;
mod mint;
mod random;
mod routes;
mod server;
mod signing;
mod state;

pub use chatgpt::{ChatGptLogin, ChatGptLoginRequest, OPENAI_AUTH_CLAIM};
pub use emulator::{Emulator, EmulatorBuilder};
pub use error::EmulatorError;
pub use mint::{
    DEFAULT_ACCOUNT_ID, DEFAULT_CHATGPT_USER_ID, DEFAULT_LIFETIME, DEFAULT_PLAN_TYPE, MintRequest,
    MintedIdentity,
};
pub use state::{RegistrationForm, UnknownRegistrationForm};
