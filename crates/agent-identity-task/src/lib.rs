//! Task registration with the AuthAPI and the `AgentAssertion` header that proves a task, for
//! agent identities decoded by `agent-identity-jwt`.
//!
//! The pieces, in the order a client meets them (section numbers refer to the wire format):
//! - [`AuthApiBaseUrl`] resolves where the AuthAPI is (§4): explicit configuration, then
//!   `AGENT_IDENTITY_AUTHAPI_BASE_URL` and two compatibility variables, then production;
//!   `https` unless the host is loopback. A bad URL fails here, not at request time.
//! - [`TaskClient`] registers a task (§3): a signed `{"timestamp","signature"}` body, the four
//!   response forms, sealed-box decryption of an encrypted task id, capped body reads, and retries
//!   of transient failures with exponential backoff, full jitter and `Retry-After`.
//! - [`authorization_header`], [`request_headers`] and [`AgentSigner`] build the per-request
//!   headers (§5), byte-for-byte those of the reference implementation.
//! - [`verify_request`] is the server side's one check of an agent's request headers (the
//!   assertion through [`verify_assertion`], the account id, the FedRAMP header) against an
//!   [`AgentDirectory`], shared by the emulator and the facade's tower layer;
//!   [`verify_registration_request`] checks a registration body. Pure functions each; [`seal_task_id`] and
//!   [`seal_task_id_for_public_key`] make the encrypted task ids a server returns.
//!
//! Client failures are one opaque [`TaskError`] with [`TaskError::is_transient`],
//! [`TaskError::status`], [`TaskError::kind`] (a stable name) and [`TaskError::reason`] (the cause
//! to branch on); verification failures are an [`AssertionError`].
//!
//! Architecture invariant: this crate verifies no tokens (the JWT crate does), uses the JWT crate
//! only for the record and key types, and never logs or prints a key, a token or a signature.

mod assertion;
mod base_url;
mod client;
mod env;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod metrics;
mod probe;
mod response;
mod retry;
mod sealed;
mod task_id;
mod timestamp;
mod verify;

pub use assertion::{
    ACCOUNT_ID_HEADER, ACCOUNT_ID_HEADER_NAME, AGENT_ASSERTION_SCHEME, AUTHORIZATION_HEADER,
    AgentSigner, FEDRAMP_HEADER, FEDRAMP_HEADER_NAME, RegistrationRequest, RequestHeaders,
    authorization_header, authorization_header_for, request_headers,
};
pub use base_url::{AuthApiBaseUrl, PRODUCTION_AUTHAPI_BASE_URL};
pub use client::{
    AGENT_CAPABILITY, AgentBom, DEFAULT_AGENT_REGISTRATION_TIMEOUT, DEFAULT_ATTEMPT_TIMEOUT,
    DEFAULT_INITIAL_BACKOFF, DEFAULT_MAX_ATTEMPTS, DEFAULT_MAX_BACKOFF, DEFAULT_MAX_BODY_BYTES,
    DEFAULT_TOTAL_DEADLINE, MAX_RETRY_AFTER, TaskClient, TaskClientBuilder,
};
pub use env::AUTHAPI_BASE_URL_ENV_VARS;
pub use error::{Operation, TaskError, TaskErrorKind};
pub use probe::AuthApiProbe;
pub use response::{RegistrationForm, UnknownRegistrationForm};
pub use sealed::{open_task_id, seal_task_id, seal_task_id_for_public_key};
pub use task_id::{MAX_TASK_ID_BYTES, TaskId};
pub use timestamp::Timestamp;
pub use verify::{
    AgentDirectory, AssertionError, AssertionLookup, DEFAULT_SKEW, KnownRuntime,
    MAX_ASSERTION_HEADER_BYTES, RejectedAssertion, VerifiedAssertion, VerifiedRequest,
    verify_assertion, verify_registration_request, verify_request,
};
