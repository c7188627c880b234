//! Minting agent identity tokens: [`MintRequest`] and the [`MintedIdentity`] it returns.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use agent_identity_jwt::{AgentKey, AgentRuntimeId, IdentityJwt};
use serde_json::{Map, Value};

use crate::error::EmulatorError;
use crate::random::hex_id;
use crate::state::Shared;

/// 1 h: the default lifetime of a minted token.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The default `account_id` of a minted token.
pub const DEFAULT_ACCOUNT_ID: &str = "account-emulator";
/// The default `chatgpt_user_id` of a minted token.
pub const DEFAULT_CHATGPT_USER_ID: &str = "user-emulator";
/// The default `plan_type` of a minted token.
pub const DEFAULT_PLAN_TYPE: &str = "pro";

/// A token the emulator minted, with what a test needs to use it.
///
/// `Debug` redacts the token and the key.
#[derive(Debug, Clone)]
pub struct MintedIdentity {
    /// The signed agent identity JWT. A secret, like any identity token: it embeds `key`.
    pub token: IdentityJwt,
    /// The runtime id the emulator recorded, and the token's `agent_runtime_id` unless a claim
    /// override changed it.
    pub runtime_id: AgentRuntimeId,
    /// The agent's Ed25519 private key, the one in the `agent_private_key` claim.
    pub key: AgentKey,
    /// The `kid` in the token's header.
    pub kid: String,
}

/// Configures one token; made by [`Emulator::mint`](crate::Emulator::mint), finished by
/// [`issue`](MintRequest::issue). Every setting has a documented default.
#[must_use = "a mint request does nothing until `issue` is called"]
pub struct MintRequest<'a> {
    shared: &'a Arc<Shared>,
    runtime_id: Option<String>,
    agent_key: Option<AgentKey>,
    account_id: String,
    chatgpt_user_id: String,
    email: Option<String>,
    plan_type: String,
    fedramp: bool,
    issuer: Option<String>,
    audience: Option<String>,
    lifetime: Duration,
    expires_at: Option<SystemTime>,
    not_before: Option<SystemTime>,
    kid: Option<String>,
    overrides: Vec<(String, Option<Value>)>,
}

impl<'a> MintRequest<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Self {
            shared,
            runtime_id: None,
            agent_key: None,
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            chatgpt_user_id: DEFAULT_CHATGPT_USER_ID.to_owned(),
            email: None,
            plan_type: DEFAULT_PLAN_TYPE.to_owned(),
            fedramp: false,
            issuer: None,
            audience: None,
            lifetime: DEFAULT_LIFETIME,
            expires_at: None,
            not_before: None,
            kid: None,
            overrides: Vec::new(),
        }
    }

    /// The `agent_runtime_id`. Defaults to a fresh random `agent-<hex>`.
    ///
    /// Minting a runtime id the emulator already knows reuses its agent key (so earlier tokens
    /// keep working) unless [`agent_key`](Self::agent_key) gives another.
    pub fn runtime_id(mut self, runtime_id: impl Into<String>) -> Self {
        self.runtime_id = Some(runtime_id.into());
        self
    }

    /// The agent key to embed. Defaults to the runtime's key on record, or a fresh random key.
    pub fn agent_key(mut self, key: AgentKey) -> Self {
        self.agent_key = Some(key);
        self
    }

    /// The `account_id`, which the protected endpoint expects as `ChatGPT-Account-ID`. Defaults
    /// to `account-emulator`.
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = account_id.into();
        self
    }

    /// The `chatgpt_user_id`. Defaults to `user-emulator`.
    pub fn chatgpt_user_id(mut self, user_id: impl Into<String>) -> Self {
        self.chatgpt_user_id = user_id.into();
        self
    }

    /// The `email`; `None` leaves the claim out. Defaults to `None`.
    pub fn email(mut self, email: Option<String>) -> Self {
        self.email = email;
        self
    }

    /// The `plan_type`. Defaults to `pro`.
    pub fn plan_type(mut self, plan_type: impl Into<String>) -> Self {
        self.plan_type = plan_type.into();
        self
    }

    /// `chatgpt_account_is_fedramp`; when true the protected endpoint also requires
    /// `X-OpenAI-Fedramp: true`. Defaults to false.
    pub fn fedramp(mut self, fedramp: bool) -> Self {
        self.fedramp = fedramp;
        self
    }

    /// The `iss`. Defaults to the emulator's issuer; another makes a token that verifiers of
    /// the emulator's issuer refuse.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The `aud`. Defaults to the emulator's audience; another makes a token for the wrong
    /// audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// `exp` is `iat` plus this. Defaults to 1 h. [`expires_at`](Self::expires_at) wins over it.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// An absolute `exp`, for expired or nearly expired tokens. Defaults to now plus the lifetime.
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// An `nbf` claim. Defaults to none.
    pub fn not_before(mut self, at: SystemTime) -> Self {
        self.not_before = Some(at);
        self
    }

    /// Sets (or adds) any claim to `value`, after every other setting: `iss`, `aud`,
    /// `agent_private_key`, anything. It changes the token only, not what the emulator records.
    pub fn claim(mut self, name: impl Into<String>, value: Value) -> Self {
        self.overrides.push((name.into(), Some(value)));
        self
    }

    /// Leaves a claim out of the token (after every other setting).
    pub fn without_claim(mut self, name: impl Into<String>) -> Self {
        self.overrides.push((name.into(), None));
        self
    }

    /// The header's `kid`. Defaults to the current signing key's. The token is still signed with
    /// the current key, so another value makes a token whose `kid` the JWKS does not know.
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Records the runtime, signs the token with the current signing key, and returns it.
    ///
    /// # Errors
    /// [`EmulatorError::Random`] when the system random source fails (for a runtime id or a key),
    /// [`EmulatorError::LifetimeOverflow`] when now plus the [`lifetime`](Self::lifetime) cannot
    /// be represented, [`EmulatorError::Signing`] when the token cannot be signed.
    pub fn issue(self) -> Result<MintedIdentity, EmulatorError> {
        let runtime_id = match self.runtime_id {
            Some(runtime_id) => runtime_id,
            None => hex_id("agent-", 8)?,
        };
        let key = self.shared.record_runtime(
            &runtime_id,
            self.agent_key,
            &self.account_id,
            self.fedramp,
        )?;

        let now = SystemTime::now();
        // An overflowing lifetime is an error: falling back to `now` made `exp == iat` silently.
        let expires_at = match self.expires_at {
            Some(at) => at,
            None => now
                .checked_add(self.lifetime)
                .ok_or(EmulatorError::LifetimeOverflow)?,
        };
        let config = &self.shared.config;
        let mut claims = Map::new();
        let issuer = self.issuer.unwrap_or_else(|| config.issuer.clone());
        let audience = self.audience.unwrap_or_else(|| config.audience.clone());
        claims.insert("iss".into(), issuer.into());
        claims.insert("aud".into(), audience.into());
        claims.insert("iat".into(), unix_seconds(now).into());
        claims.insert("exp".into(), unix_seconds(expires_at).into());
        if let Some(not_before) = self.not_before {
            claims.insert("nbf".into(), unix_seconds(not_before).into());
        }
        claims.insert("agent_runtime_id".into(), runtime_id.clone().into());
        claims.insert(
            "agent_private_key".into(),
            key.to_pkcs8_base64().as_str().into(),
        );
        claims.insert("account_id".into(), self.account_id.into());
        claims.insert("chatgpt_user_id".into(), self.chatgpt_user_id.into());
        if let Some(email) = self.email {
            claims.insert("email".into(), email.into());
        }
        claims.insert("plan_type".into(), self.plan_type.into());
        claims.insert("chatgpt_account_is_fedramp".into(), self.fedramp.into());
        for (name, value) in self.overrides {
            match value {
                Some(value) => claims.insert(name, value),
                None => claims.remove(&name),
            };
        }

        let signing_key = self.shared.current_key();
        let kid = self.kid.unwrap_or_else(|| signing_key.kid().to_owned());
        let token = signing_key.sign_jwt(&kid, &claims)?;
        Ok(MintedIdentity {
            token: IdentityJwt::new(token),
            runtime_id: AgentRuntimeId::new(runtime_id),
            key,
            kid,
        })
    }
}

impl fmt::Debug for MintRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Claim overrides may carry a private key: only their names are shown.
        let overridden: Vec<&str> = self
            .overrides
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        f.debug_struct("MintRequest")
            .field("runtime_id", &self.runtime_id)
            .field("account_id", &self.account_id)
            .field("plan_type", &self.plan_type)
            .field("fedramp", &self.fedramp)
            .field("lifetime", &self.lifetime)
            .field("kid", &self.kid)
            .field("overridden_claims", &overridden)
            .finish_non_exhaustive()
    }
}

/// Seconds since the Unix epoch, negative before it.
pub(crate) fn unix_seconds(at: SystemTime) -> i64 {
    match at.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

#[cfg(test)]
mod tests;
