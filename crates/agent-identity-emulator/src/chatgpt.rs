//! Codex's agent registration: ChatGPT logins the emulator issues ([`ChatGptLoginRequest`],
//! `POST /_emulator/chatgpt-login`) and `POST /v1/agent/register` under the AuthAPI base, which
//! turns such a login and an agent's Ed25519 public key into a runtime the emulator then knows
//! like one it minted: its tasks are registered and its assertions accepted.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use agent_identity_task::FEDRAMP_HEADER;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::{Map, json};

use crate::admin::{malformed_body, parse_body};
use crate::error::EmulatorError;
use crate::mint::{DEFAULT_ACCOUNT_ID, DEFAULT_CHATGPT_USER_ID, DEFAULT_PLAN_TYPE, unix_seconds};
use crate::random::hex_id;
use crate::routes::{error_response, injected_fault, json_response};
use crate::state::{ChatGptAccount, Shared};

/// The agent registration path, under the AuthAPI base `/api/accounts`.
pub(crate) const AGENT_REGISTER_PATH: &str = "/api/accounts/v1/agent/register";
/// The claim that carries a ChatGPT login's account in its id and access tokens.
pub const OPENAI_AUTH_CLAIM: &str = "https://api.openai.com/auth";
/// The `iss` of the ChatGPT tokens the emulator issues (the OpenAI login's issuer).
const LOGIN_ISSUER: &str = "https://auth.openai.com";
/// The `aud` of an access token.
const ACCESS_TOKEN_AUDIENCE: &str = "https://api.openai.com/v1";
/// The `aud` of an id token: the login's client, here the emulator's own.
const ID_TOKEN_AUDIENCE: &str = "app_emulator";
/// The key type of an OpenSSH Ed25519 public key.
const SSH_ED25519: &str = "ssh-ed25519";

/// A ChatGPT login the emulator issued: an access token it accepts as
/// `Authorization: Bearer …` on `/v1/agent/register`, and an id token whose claims describe the
/// account, as a Codex `auth.json` in `chatgpt` mode holds them.
///
/// `Debug` redacts both tokens.
#[derive(Clone)]
pub struct ChatGptLogin {
    access_token: String,
    id_token: String,
    account_id: String,
}

impl ChatGptLogin {
    /// The access token (a JWT signed with the emulator's key). A secret.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The id token (a JWT signed with the emulator's key), with `email` and, under
    /// `https://api.openai.com/auth`, `chatgpt_account_id`, `chatgpt_user_id`,
    /// `chatgpt_plan_type` and `chatgpt_account_is_fedramp`. A secret.
    pub fn id_token(&self) -> &str {
        &self.id_token
    }

    /// The ChatGPT account the login belongs to.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
}

impl fmt::Debug for ChatGptLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatGptLogin")
            .field("account_id", &self.account_id)
            .field("access_token", &"<redacted>")
            .field("id_token", &"<redacted>")
            .finish()
    }
}

/// Configures one ChatGPT login; made by [`Emulator::chatgpt_login`](crate::Emulator::chatgpt_login),
/// finished by [`issue`](Self::issue). Every setting has a documented default.
#[must_use = "a login request does nothing until `issue` is called"]
pub struct ChatGptLoginRequest<'a> {
    shared: &'a Arc<Shared>,
    account_id: String,
    chatgpt_user_id: String,
    email: Option<String>,
    plan_type: String,
    fedramp: bool,
    lifetime: Duration,
}

impl<'a> ChatGptLoginRequest<'a> {
    pub(crate) fn new(shared: &'a Arc<Shared>) -> Self {
        Self {
            shared,
            account_id: DEFAULT_ACCOUNT_ID.to_owned(),
            chatgpt_user_id: DEFAULT_CHATGPT_USER_ID.to_owned(),
            email: None,
            plan_type: DEFAULT_PLAN_TYPE.to_owned(),
            fedramp: false,
            lifetime: crate::DEFAULT_LIFETIME,
        }
    }

    /// `chatgpt_account_id`, the account agents registered with this login belong to. Defaults
    /// to `account-emulator`.
    pub fn account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = account_id.into();
        self
    }

    /// `chatgpt_user_id`. Defaults to `user-emulator`.
    pub fn chatgpt_user_id(mut self, user_id: impl Into<String>) -> Self {
        self.chatgpt_user_id = user_id.into();
        self
    }

    /// The id token's `email`; `None` leaves it out. Defaults to `None`.
    pub fn email(mut self, email: Option<String>) -> Self {
        self.email = email;
        self
    }

    /// `chatgpt_plan_type`, any string (Codex keeps plans it does not know). Defaults to `pro`.
    pub fn plan_type(mut self, plan_type: impl Into<String>) -> Self {
        self.plan_type = plan_type.into();
        self
    }

    /// `chatgpt_account_is_fedramp`; when true, registration requires `X-OpenAI-Fedramp: true`
    /// and the registered agents are FedRAMP agents. Defaults to false.
    pub fn fedramp(mut self, fedramp: bool) -> Self {
        self.fedramp = fedramp;
        self
    }

    /// How long the access token is accepted (its `exp`). Defaults to 1 h; zero makes a token
    /// that is already expired.
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Signs both tokens with the emulator's current key and remembers the access token.
    ///
    /// # Errors
    /// [`EmulatorError::LifetimeOverflow`] when now plus the lifetime cannot be represented,
    /// [`EmulatorError::Random`] or [`EmulatorError::Signing`] when a token cannot be made.
    pub fn issue(self) -> Result<ChatGptLogin, EmulatorError> {
        let now = SystemTime::now();
        let expires_at = now
            .checked_add(self.lifetime)
            .ok_or(EmulatorError::LifetimeOverflow)?;
        let (iat, exp) = (unix_seconds(now), unix_seconds(expires_at));
        let auth = json!({
            "chatgpt_account_id": self.account_id,
            "chatgpt_user_id": self.chatgpt_user_id,
            "user_id": self.chatgpt_user_id,
            "chatgpt_plan_type": self.plan_type,
            "chatgpt_account_is_fedramp": self.fedramp,
        });
        let mut id_claims = Map::new();
        id_claims.insert("iss".into(), LOGIN_ISSUER.into());
        id_claims.insert("aud".into(), ID_TOKEN_AUDIENCE.into());
        id_claims.insert("sub".into(), self.chatgpt_user_id.clone().into());
        id_claims.insert("iat".into(), iat.into());
        id_claims.insert("exp".into(), exp.into());
        if let Some(email) = &self.email {
            id_claims.insert("email".into(), email.clone().into());
        }
        id_claims.insert(OPENAI_AUTH_CLAIM.into(), auth.clone());
        let mut access_claims = Map::new();
        access_claims.insert("iss".into(), LOGIN_ISSUER.into());
        access_claims.insert("aud".into(), ACCESS_TOKEN_AUDIENCE.into());
        access_claims.insert("sub".into(), self.chatgpt_user_id.clone().into());
        // A fresh `jti` makes every access token distinct, even two issued in the same second.
        access_claims.insert("jti".into(), hex_id("", 16)?.into());
        access_claims.insert("iat".into(), iat.into());
        access_claims.insert("exp".into(), exp.into());
        access_claims.insert(OPENAI_AUTH_CLAIM.into(), auth);

        let key = self.shared.current_key();
        let access_token = key.sign_jwt(key.kid(), &access_claims)?;
        let id_token = key.sign_jwt(key.kid(), &id_claims)?;
        self.shared.record_login(
            &access_token,
            ChatGptAccount {
                account_id: self.account_id.clone(),
                fedramp: self.fedramp,
                expires_at: exp,
            },
        );
        Ok(ChatGptLogin {
            access_token,
            id_token,
            account_id: self.account_id,
        })
    }
}

impl fmt::Debug for ChatGptLoginRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChatGptLoginRequest")
            .field("account_id", &self.account_id)
            .field("plan_type", &self.plan_type)
            .field("fedramp", &self.fedramp)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// The body of `POST /_emulator/chatgpt-login`, every field optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    account_id: Option<String>,
    chatgpt_user_id: Option<String>,
    email: Option<String>,
    plan_type: Option<String>,
    fedramp: Option<bool>,
    lifetime_seconds: Option<u64>,
}

/// `POST /_emulator/chatgpt-login`: issues a ChatGPT login, answering
/// `{"access_token","id_token","account_id"}`.
pub(crate) async fn admin_chatgpt_login(
    State(shared): State<Arc<Shared>>,
    body: Bytes,
) -> Response {
    let body: LoginBody = match parse_body(&body) {
        Ok(body) => body,
        Err(message) => return malformed_body(message),
    };
    let mut request = ChatGptLoginRequest::new(&shared).email(body.email);
    if let Some(account_id) = body.account_id {
        request = request.account_id(account_id);
    }
    if let Some(user_id) = body.chatgpt_user_id {
        request = request.chatgpt_user_id(user_id);
    }
    if let Some(plan_type) = body.plan_type {
        request = request.plan_type(plan_type);
    }
    if let Some(fedramp) = body.fedramp {
        request = request.fedramp(fedramp);
    }
    if let Some(seconds) = body.lifetime_seconds {
        request = request.lifetime(Duration::from_secs(seconds));
    }
    match request.issue() {
        // The tokens are secrets; this endpoint hands them out on purpose, as a test fixture.
        Ok(login) => json_response(
            StatusCode::OK,
            json!({
                "access_token": login.access_token,
                "id_token": login.id_token,
                "account_id": login.account_id,
            }),
        ),
        Err(EmulatorError::LifetimeOverflow) => {
            malformed_body("lifetime_seconds is too large: exp overflows".to_owned())
        }
        Err(_) => error_response(StatusCode::INTERNAL_SERVER_ERROR, "login_failed"),
    }
}

/// The bill of materials Codex sends with a registration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Abom {
    agent_version: String,
    agent_harness_id: String,
    running_location: String,
}

/// The body of `POST /v1/agent/register`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    abom: Abom,
    agent_public_key: String,
    capabilities: Vec<String>,
    /// Codex sends `null`; a number of seconds is accepted too, and ignored.
    #[serde(default, rename = "ttl")]
    _ttl: Option<u64>,
}

/// `POST /v1/agent/register`: Codex's agent registration. Checks, in order: an injected fault;
/// `Authorization: Bearer` with an access token the emulator issued and that has not expired
/// (401 `missing_authorization`, `unknown_access_token`, `expired_access_token`);
/// `X-OpenAI-Fedramp: true` for a FedRAMP account (403 `missing_fedramp_header`); the body
/// (400 `malformed`, `malformed_public_key`). Then answers `{"agent_runtime_id"}` for a new
/// runtime of the login's account.
pub(crate) async fn register_agent(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(status) = shared.take_agent_registration_fault() {
        return injected_fault(status);
    }
    let account = match bearer_account(&shared, &headers) {
        Ok(account) => account,
        Err(kind) => return error_response(StatusCode::UNAUTHORIZED, kind),
    };
    if account.fedramp {
        let sent = headers
            .get(FEDRAMP_HEADER)
            .and_then(|value| value.to_str().ok());
        if sent != Some("true") {
            return error_response(StatusCode::FORBIDDEN, "missing_fedramp_header");
        }
    }
    let body: RegisterBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => return malformed_body(error.to_string()),
    };
    if let Some(message) = missing_fields(&body) {
        return malformed_body(message);
    }
    let Some(public_key) = parse_ssh_ed25519(&body.agent_public_key) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({
                "error": "malformed_public_key",
                "message": "agent_public_key must be an OpenSSH Ed25519 key: ssh-ed25519 AAAA…",
            }),
        );
    };
    let Ok(runtime_id) = hex_id("agent-", 8) else {
        return error_response(StatusCode::INTERNAL_SERVER_ERROR, "random_unavailable");
    };
    shared.record_registered_runtime(
        &runtime_id,
        public_key,
        &account.account_id,
        account.fedramp,
    );
    shared.count_agent_registration();
    json_response(StatusCode::OK, json!({ "agent_runtime_id": runtime_id }))
}

/// The login behind the request's bearer token; the error is the `error` kind to answer.
fn bearer_account(shared: &Shared, headers: &HeaderMap) -> Result<ChatGptAccount, &'static str> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or("missing_authorization")?;
    let account = shared.login(token).ok_or("unknown_access_token")?;
    if account.expires_at <= unix_seconds(SystemTime::now()) {
        return Err("expired_access_token");
    }
    Ok(account)
}

/// What is missing from a body that parsed: an empty bill-of-materials value or no capability.
fn missing_fields(body: &RegisterBody) -> Option<String> {
    let abom = &body.abom;
    for (name, value) in [
        ("abom.agent_version", &abom.agent_version),
        ("abom.agent_harness_id", &abom.agent_harness_id),
        ("abom.running_location", &abom.running_location),
    ] {
        if value.trim().is_empty() {
            return Some(format!("{name} must not be empty"));
        }
    }
    body.capabilities
        .is_empty()
        .then(|| "capabilities must name at least one capability".to_owned())
}

/// The 32-byte key of an OpenSSH `ssh-ed25519 BASE64 [comment]` public key: the base64 is the
/// SSH wire form, the length-prefixed key type then the length-prefixed key.
pub(crate) fn parse_ssh_ed25519(text: &str) -> Option<[u8; 32]> {
    let mut parts = text.split_whitespace();
    if parts.next()? != SSH_ED25519 {
        return None;
    }
    let blob = STANDARD.decode(parts.next()?).ok()?;
    let (kind, rest) = ssh_string(&blob)?;
    if kind != SSH_ED25519.as_bytes() {
        return None;
    }
    let (key, rest) = ssh_string(rest)?;
    if !rest.is_empty() {
        return None;
    }
    key.try_into().ok()
}

/// One SSH wire `string`: a big-endian `u32` length, then that many bytes.
fn ssh_string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (length, rest) = bytes.split_first_chunk::<4>()?;
    let length = usize::try_from(u32::from_be_bytes(*length)).ok()?;
    (rest.len() >= length).then(|| rest.split_at(length))
}

/// The OpenSSH form of an Ed25519 public key, as Codex sends it.
#[cfg(test)]
pub(crate) fn ssh_ed25519(public_key: &[u8; 32]) -> String {
    let mut blob = Vec::with_capacity(51);
    for part in [SSH_ED25519.as_bytes(), public_key.as_slice()] {
        // Both parts are far shorter than 4 GiB.
        blob.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        blob.extend_from_slice(part);
    }
    format!("{SSH_ED25519} {}", STANDARD.encode(blob))
}

#[cfg(test)]
mod tests;
