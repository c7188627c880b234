//! The shell variables `header --format env` assigns.

/// The `Authorization` header's value.
pub(super) const AUTHORIZATION: &str = "AGENT_IDENTITY_AUTHORIZATION";
/// The `ChatGPT-Account-ID` header's value.
pub(super) const ACCOUNT_ID: &str = "AGENT_IDENTITY_ACCOUNT_ID";
/// Whether the `X-OpenAI-Fedramp` header is sent (`true` or `false`).
pub(super) const FEDRAMP: &str = "AGENT_IDENTITY_FEDRAMP";
