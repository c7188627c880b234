//! Agent registration from a ChatGPT login: `POST {authapi}/v1/agent/register` with the login's
//! bearer token and the new agent's public key, answered with its `agent_runtime_id`.

use std::time::Duration;

use agent_identity_jwt::{AgentKey, AgentRuntimeId};
use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue, USER_AGENT};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{TaskClient, USER_AGENT_VALUE, read_capped, transport_error};
use crate::assertion::FEDRAMP_HEADER;
use crate::error::{Operation, TaskError, TaskErrorKind, body_excerpt};
use crate::retry::{backoff_cap, full_jitter};

/// 15 s: the reference client's agent registration timeout.
pub const DEFAULT_AGENT_REGISTRATION_TIMEOUT: Duration = Duration::from_secs(15);

/// The one capability an agent asks for: the Responses API, as Codex registers its agents.
pub const AGENT_CAPABILITY: &str = "responsesapi";

/// The agent's bill of materials (`abom`): what it is, which harness runs it, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentBom {
    /// `agent_version`.
    pub agent_version: String,
    /// `agent_harness_id` (Codex sends `codex-cli` or `codex-app`).
    pub agent_harness_id: String,
    /// `running_location`.
    pub running_location: String,
}

impl TaskClient {
    /// Registers a new agent for a ChatGPT login: `POST {authapi}/v1/agent/register` with
    /// `Authorization: Bearer {access_token}`, `X-OpenAI-Fedramp: true` for a FedRAMP account,
    /// and the body `{"abom", "agent_public_key": "ssh-ed25519 …", "capabilities":
    /// ["responsesapi"], "ttl": null}`. Returns the answer's `agent_runtime_id`.
    ///
    /// Retried as task registration is (the client's attempts, backoff and deadline), each
    /// attempt within [`DEFAULT_AGENT_REGISTRATION_TIMEOUT`] at most. A 401 or 403 is permanent.
    ///
    /// # Errors
    /// A [`TaskError`] with [`Operation::RegisterAgent`]: the last transient failure once the
    /// attempts are spent; the first permanent one (a 4xx status, an answer without a string
    /// `agent_runtime_id`, a key that cannot give its public key).
    pub async fn register_agent(
        &self,
        access_token: &str,
        fedramp: bool,
        bom: &AgentBom,
        key: &AgentKey,
    ) -> Result<AgentRuntimeId, TaskError> {
        let public = key
            .public_key()
            .map_err(|_| TaskError::new(Operation::RegisterAgent, TaskErrorKind::Signing))?;
        let body = json!({
            "abom": {
                "agent_version": bom.agent_version,
                "agent_harness_id": bom.agent_harness_id,
                "running_location": bom.running_location,
            },
            "agent_public_key": openssh_ed25519(&public),
            "capabilities": [AGENT_CAPABILITY],
            "ttl": null,
        })
        .to_string();
        let url = format!("{}/v1/agent/register", self.inner.base.as_str());
        let mut bearer = HeaderValue::from_str(&Zeroizing::new(format!("Bearer {access_token}")))
            .map_err(|_| {
            TaskError::new(Operation::RegisterAgent, TaskErrorKind::InvalidHeaderValue)
        })?;
        bearer.set_sensitive(true);
        let started = tokio::time::Instant::now();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let error = match self.agent_attempt(&url, &bearer, fedramp, &body).await {
                Ok(runtime_id) => return Ok(runtime_id),
                Err(error) => error,
            };
            if !error.is_transient() || attempt >= self.inner.max_attempts {
                return Err(error);
            }
            let delay = full_jitter(backoff_cap(
                self.inner.initial_backoff,
                self.inner.max_backoff,
                attempt,
            ));
            if let Some(deadline) = self.inner.total_deadline
                && started.elapsed().saturating_add(delay) >= deadline
            {
                return Err(error);
            }
            tracing::info!(attempt, ?delay, error = %error, "agent registration failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    async fn agent_attempt(
        &self,
        url: &str,
        bearer: &HeaderValue,
        fedramp: bool,
        body: &str,
    ) -> Result<AgentRuntimeId, TaskError> {
        let inner = &*self.inner;
        let mut request = inner
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, USER_AGENT_VALUE)
            .header(AUTHORIZATION, bearer.clone())
            .body(body.to_owned());
        if fedramp {
            request = request.header(FEDRAMP_HEADER, "true");
        }
        let limit = inner
            .attempt_timeout
            .map_or(DEFAULT_AGENT_REGISTRATION_TIMEOUT, |timeout| {
                timeout.min(DEFAULT_AGENT_REGISTRATION_TIMEOUT)
            });
        let exchange = async {
            let mut response = request
                .send()
                .await
                .map_err(|error| transport_error(error).during(Operation::RegisterAgent))?;
            let status = response.status();
            if status.is_redirection() {
                return Err(TaskError::new(
                    Operation::RegisterAgent,
                    TaskErrorKind::Redirected,
                ));
            }
            let body = read_capped(&mut response, inner.max_body_bytes, !status.is_success())
                .await
                .map_err(|error| error.during(Operation::RegisterAgent))?;
            if !status.is_success() {
                let mut error = TaskError::new(
                    Operation::RegisterAgent,
                    TaskErrorKind::Status(status.as_u16()),
                );
                if let Some(excerpt) = body_excerpt(&body) {
                    error = error.with_detail(excerpt);
                }
                return Err(error);
            }
            runtime_id_from(&body)
        };
        tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(TaskError::new(
                    Operation::RegisterAgent,
                    TaskErrorKind::Timeout,
                ))
            })
    }
}

/// The answer's `agent_runtime_id`: a non-empty string without control characters.
fn runtime_id_from(body: &[u8]) -> Result<AgentRuntimeId, TaskError> {
    let malformed = || TaskError::new(Operation::RegisterAgent, TaskErrorKind::MalformedResponse);
    let value: Value = serde_json::from_slice(body).map_err(|_| malformed())?;
    match value.get("agent_runtime_id") {
        Some(Value::String(id))
            if !id.is_empty() && id.len() <= 1024 && !id.chars().any(char::is_control) =>
        {
            Ok(AgentRuntimeId::new(id.as_str()))
        }
        _ => Err(malformed().with_detail("no agent_runtime_id string in the answer")),
    }
}

/// An Ed25519 public key as an OpenSSH public key line: `ssh-ed25519 ` and the base64 of the
/// SSH wire form (the algorithm name and the key, each a length-prefixed string).
fn openssh_ed25519(public: &[u8; 32]) -> String {
    const ALGORITHM: &[u8] = b"ssh-ed25519";
    let mut wire = Vec::with_capacity(4 + ALGORITHM.len() + 4 + public.len());
    for part in [ALGORITHM, public.as_slice()] {
        wire.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        wire.extend_from_slice(part);
    }
    format!(
        "ssh-ed25519 {}",
        base64::engine::general_purpose::STANDARD.encode(wire)
    )
}

#[cfg(test)]
mod tests;
