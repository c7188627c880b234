//! The one server-side check of an agent's request headers: the `AgentAssertion`, the account
//! id against the runtime's account, and the FedRAMP header against the runtime's flag. The
//! emulator's protected endpoints and the facade's tower layer both call [`verify_request`].

use std::cell::OnceCell;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agent_identity_jwt::{AccountId, AgentRuntimeId};

use super::{AssertionError, AssertionLookup, verify_assertion};
use crate::assertion::{ACCOUNT_ID_HEADER_NAME, FEDRAMP_HEADER_NAME};
use crate::task_id::TaskId;
use crate::timestamp::Timestamp;

/// What a server knows about one agent runtime: its public key and its account, as the issuer
/// (the AuthAPI) recorded them. Never derive one from an agent's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownRuntime {
    public_key: [u8; 32],
    account_id: AccountId,
    fedramp: bool,
}

impl KnownRuntime {
    /// A runtime with its raw 32-byte Ed25519 public key and the account it belongs to; not a
    /// FedRAMP account unless [`KnownRuntime::fedramp`] says so.
    pub fn new(public_key: [u8; 32], account_id: impl Into<AccountId>) -> Self {
        Self {
            public_key,
            account_id: account_id.into(),
            fedramp: false,
        }
    }

    /// Whether the runtime's account is a FedRAMP account. Defaults to `false`.
    pub fn fedramp(mut self, fedramp: bool) -> Self {
        self.fedramp = fedramp;
        self
    }

    /// The raw Ed25519 public key.
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// The account the runtime belongs to.
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }

    /// Whether the runtime's account is a FedRAMP account.
    pub fn is_fedramp(&self) -> bool {
        self.fedramp
    }
}

/// The lookups [`verify_request`] needs: the runtime behind a runtime id, and whether a task is
/// valid.
///
/// Both are called on the request path, synchronously: answer from memory (a map refreshed in
/// the background), not over the network.
pub trait AgentDirectory {
    /// The runtime with this id, if it is known.
    fn runtime(&self, runtime_id: &str) -> Option<KnownRuntime>;

    /// Whether `task_id` was issued to `runtime_id` and is still valid (not revoked).
    fn task_valid(&self, runtime_id: &str, task_id: &str) -> bool;
}

/// A shared directory, so that a server can keep updating it (revoking tasks) after giving it
/// away.
impl<D: AgentDirectory + ?Sized> AgentDirectory for Arc<D> {
    fn runtime(&self, runtime_id: &str) -> Option<KnownRuntime> {
        (**self).runtime(runtime_id)
    }

    fn task_valid(&self, runtime_id: &str, task_id: &str) -> bool {
        (**self).task_valid(runtime_id, task_id)
    }
}

/// A request that passed every check of [`verify_request`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest {
    runtime_id: AgentRuntimeId,
    task_id: TaskId,
    account_id: AccountId,
    fedramp: bool,
    signed_at: Timestamp,
}

impl VerifiedRequest {
    /// The runtime that signed.
    pub fn runtime_id(&self) -> &AgentRuntimeId {
        &self.runtime_id
    }

    /// The task it proved.
    pub fn task_id(&self) -> &TaskId {
        &self.task_id
    }

    /// The runtime's account, which the request's `ChatGPT-Account-ID` matched.
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }

    /// Whether the runtime's account is a FedRAMP account (from the directory, not the request).
    pub fn is_fedramp(&self) -> bool {
        self.fedramp
    }

    /// When the assertion was signed.
    pub fn signed_at(&self) -> Timestamp {
        self.signed_at
    }
}

/// Why [`verify_request`] refused a request. Its [`kind`](Self::kind) is the one vocabulary of
/// refusals, for logs, metrics and the `error` of a `WWW-Authenticate: AgentAssertion`
/// challenge; the emulator and the facade's tower layer answer with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RejectedAssertion {
    /// No `Authorization` header.
    #[error("no agent assertion")]
    MissingAuthorization,
    /// The assertion itself failed a check (an `Authorization` value that is not text is
    /// [`AssertionError::Malformed`]).
    #[error(transparent)]
    Assertion(#[from] AssertionError),
    /// `ChatGPT-Account-ID` is missing or is not the runtime's account.
    #[error("the account id is not the agent runtime's account")]
    AccountMismatch,
    /// The runtime's account is a FedRAMP account and `X-OpenAI-Fedramp: true` is missing.
    #[error("a fedramp account's request lacks the fedramp header")]
    MissingFedrampHeader,
}

impl RejectedAssertion {
    /// A stable snake_case name: `missing_authorization`, `account_mismatch`,
    /// `missing_fedramp_header`, or the assertion error's [`AssertionError::kind`] (`malformed`,
    /// `unknown_runtime`, `bad_signature`, `task_not_issued`, `stale`).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingAuthorization => "missing_authorization",
            Self::Assertion(error) => error.kind(),
            Self::AccountMismatch => "account_mismatch",
            Self::MissingFedrampHeader => "missing_fedramp_header",
        }
    }
}

/// Checks an agent's request headers, in this order, and returns the first failure:
///
/// 1. `Authorization: AgentAssertion …` is present
///    ([`MissingAuthorization`](RejectedAssertion::MissingAuthorization)) and passes
///    [`verify_assertion`] against `directory`, with `skew` around `now`
///    ([`Assertion`](RejectedAssertion::Assertion));
/// 2. `ChatGPT-Account-ID` is the runtime's account
///    ([`AccountMismatch`](RejectedAssertion::AccountMismatch));
/// 3. for a FedRAMP runtime, `X-OpenAI-Fedramp` is `true`
///    ([`MissingFedrampHeader`](RejectedAssertion::MissingFedrampHeader)).
///
/// The runtime is looked up once per call. What a directory must hold, and where it comes from,
/// is the resource server's concern: in the deployed system only the AuthAPI knows runtimes and
/// tasks, so the directory comes from the issuer, never from an agent's token.
///
/// # Replays
/// The same assertion is accepted in more than one text form: base64url with or without
/// padding, and any header value whose decoded JSON holds the same four fields. A replay cache
/// must therefore be keyed on what was signed, the runtime id and the signature (or
/// [`VerifiedRequest::runtime_id`] with [`VerifiedRequest::task_id`] and
/// [`VerifiedRequest::signed_at`]), never on the header text.
///
/// # Errors
/// The [`RejectedAssertion`] of the first check that fails.
pub fn verify_request<D>(
    headers: &http::HeaderMap,
    directory: &D,
    now: SystemTime,
    skew: Duration,
) -> Result<VerifiedRequest, RejectedAssertion>
where
    D: AgentDirectory + ?Sized,
{
    let value = headers
        .get(http::header::AUTHORIZATION)
        .ok_or(RejectedAssertion::MissingAuthorization)?
        .to_str()
        .map_err(|_| AssertionError::Malformed("the authorization header is not text"))?;
    let lookup = Lookup {
        directory,
        runtime: OnceCell::new(),
    };
    let verified = verify_assertion(value, &lookup, now, skew)?;
    // The signature verified, so the runtime was found; its record is cached in `lookup`.
    let known = lookup
        .runtime
        .into_inner()
        .flatten()
        .ok_or(AssertionError::UnknownRuntime)?;
    let claimed = headers
        .get(ACCOUNT_ID_HEADER_NAME)
        .and_then(|value| value.to_str().ok());
    if claimed != Some(known.account_id.as_str()) {
        return Err(RejectedAssertion::AccountMismatch);
    }
    if known.fedramp {
        let flag = headers
            .get(FEDRAMP_HEADER_NAME)
            .and_then(|value| value.to_str().ok());
        if flag != Some("true") {
            return Err(RejectedAssertion::MissingFedrampHeader);
        }
    }
    Ok(VerifiedRequest {
        runtime_id: verified.runtime_id().clone(),
        task_id: verified.task_id().clone(),
        account_id: known.account_id,
        fedramp: known.fedramp,
        signed_at: verified.timestamp(),
    })
}

/// The directory as [`verify_assertion`] asks it, remembering the runtime it found.
struct Lookup<'a, D: ?Sized> {
    directory: &'a D,
    runtime: OnceCell<Option<KnownRuntime>>,
}

impl<D: AgentDirectory + ?Sized> AssertionLookup for Lookup<'_, D> {
    fn public_key(&self, runtime_id: &str) -> Option<[u8; 32]> {
        self.runtime
            .get_or_init(|| self.directory.runtime(runtime_id))
            .as_ref()
            .map(|known| known.public_key)
    }

    fn task_issued(&self, runtime_id: &str, task_id: &str) -> bool {
        self.directory.task_valid(runtime_id, task_id)
    }
}

#[cfg(test)]
mod tests;
