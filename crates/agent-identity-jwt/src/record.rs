//! The decoded agent identity: claims checked and typed, the private key parsed.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::error::JwtError;
use crate::key::{AgentKey, KeyError};
use crate::types::{AccountId, AgentRuntimeId, Audience, IdentityJwt, Issuer, PlanType};

/// A verified (or, from [`crate::insecure_decode_unverified`], merely decoded) agent identity.
///
/// Holds the typed claims of wire-format §1, the parsed [`AgentKey`], and the raw token it came
/// from. Clones share one allocation. `Debug` and `Serialize` redact the key and the token.
#[derive(Clone)]
pub struct AgentIdentityRecord {
    inner: Arc<RecordInner>,
}

struct RecordInner {
    token: IdentityJwt,
    key: AgentKey,
    runtime_id: AgentRuntimeId,
    account_id: AccountId,
    chatgpt_user_id: String,
    email: Option<String>,
    plan: Option<PlanType>,
    fedramp: bool,
    issuer: Issuer,
    audiences: Vec<Audience>,
    issued_at: Option<u64>,
    expires_at: u64,
    not_before: Option<u64>,
    /// Built from a stored record (Codex's record form), not decoded from a token: there is no
    /// token, issuer, audience or expiry.
    stored: bool,
}

/// The fields of a stored agent record, Codex's record form of `agent_identity` in `auth.json`
/// (wire-format §6), as [`AgentIdentityRecord::from_stored`] takes them.
#[derive(Clone, Copy)]
pub struct StoredFields<'a> {
    /// `agent_runtime_id`.
    pub runtime_id: &'a str,
    /// `agent_private_key`: base64 PKCS#8 Ed25519. A secret.
    pub private_key: &'a str,
    /// `account_id`.
    pub account_id: &'a str,
    /// `chatgpt_user_id`.
    pub chatgpt_user_id: &'a str,
    /// `email`; `None` or empty for none.
    pub email: Option<&'a str>,
    /// `plan_type`, kept as it is when it is not a plan we know.
    pub plan_type: Option<&'a str>,
    /// `chatgpt_account_is_fedramp`.
    pub fedramp: bool,
}

impl fmt::Debug for StoredFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredFields")
            .field("runtime_id", &self.runtime_id)
            .field("account_id", &self.account_id)
            .field("private_key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl AgentIdentityRecord {
    /// An identity from a stored record (Codex's record form) rather than a token. The key is
    /// parsed and checked (it can sign) once, here. Such an identity is trusted local state, as a
    /// stored token is once verified, and has no expiry: [`expiry`](Self::expiry) is `None`, and
    /// [`token`](Self::token), [`issuer`](Self::issuer) and [`audiences`](Self::audiences) are
    /// empty.
    ///
    /// # Errors
    /// [`KeyError`] when `private_key` is not a usable base64 PKCS#8 Ed25519 key.
    pub fn from_stored(fields: StoredFields<'_>) -> Result<Self, KeyError> {
        let key = AgentKey::from_pkcs8_base64(fields.private_key)?;
        key.check()?;
        Ok(Self {
            inner: Arc::new(RecordInner {
                token: IdentityJwt::new(String::new()),
                key,
                runtime_id: AgentRuntimeId::new(fields.runtime_id),
                account_id: AccountId::new(fields.account_id),
                chatgpt_user_id: fields.chatgpt_user_id.to_owned(),
                email: fields
                    .email
                    .filter(|email| !email.is_empty())
                    .map(str::to_owned),
                plan: fields.plan_type.map(PlanType::parse),
                fedramp: fields.fedramp,
                issuer: Issuer::new(String::new()),
                audiences: Vec::new(),
                issued_at: None,
                // No expiry: the end of the year 9999 keeps every time check from firing
                // without overflowing; `expiry()` says `None`.
                expires_at: MAX_NUMERIC_DATE,
                not_before: None,
                stored: true,
            }),
        })
    }

    /// Whether this identity comes from a stored record rather than a token.
    pub fn is_stored(&self) -> bool {
        self.inner.stored
    }

    /// `exp`; `None` for a stored record, which has no expiry.
    pub fn expiry(&self) -> Option<SystemTime> {
        (!self.inner.stored).then(|| self.expires_at())
    }

    /// The raw token this record was decoded from. A secret.
    pub fn token(&self) -> &IdentityJwt {
        &self.inner.token
    }

    /// The agent's Ed25519 private key.
    pub fn key(&self) -> &AgentKey {
        &self.inner.key
    }

    /// `agent_runtime_id`.
    pub fn runtime_id(&self) -> &AgentRuntimeId {
        &self.inner.runtime_id
    }

    /// `account_id`, the workspace id.
    pub fn account_id(&self) -> &AccountId {
        &self.inner.account_id
    }

    /// `chatgpt_user_id`.
    pub fn chatgpt_user_id(&self) -> &str {
        &self.inner.chatgpt_user_id
    }

    /// `email`; `None` when the claim is absent or empty.
    pub fn email(&self) -> Option<&str> {
        self.inner.email.as_deref()
    }

    /// `plan_type`, when present.
    pub fn plan(&self) -> Option<&PlanType> {
        self.inner.plan.as_ref()
    }

    /// `chatgpt_account_is_fedramp`; absent means false.
    pub fn is_fedramp(&self) -> bool {
        self.inner.fedramp
    }

    /// `iss`.
    pub fn issuer(&self) -> &Issuer {
        &self.inner.issuer
    }

    /// `aud`, as a list (a single string claim becomes one element).
    pub fn audiences(&self) -> &[Audience] {
        &self.inner.audiences
    }

    /// `iat`, when present.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.inner.issued_at.map(epoch)
    }

    /// `exp`. A stored record has none ([`expiry`](Self::expiry) is `None`); for one this is
    /// the end of the year 9999.
    pub fn expires_at(&self) -> SystemTime {
        epoch(self.inner.expires_at)
    }

    /// `exp` in seconds since the epoch.
    pub fn expires_at_unix(&self) -> u64 {
        self.inner.expires_at
    }

    /// `nbf`, when present.
    pub fn not_before(&self) -> Option<SystemTime> {
        self.inner.not_before.map(epoch)
    }

    /// Whether `exp + leeway` is at or before `now`. A leeway so large that the sum overflows
    /// means "not expired".
    pub fn is_expired_at(&self, now: SystemTime, leeway: Duration) -> bool {
        self.expires_at()
            .checked_add(leeway)
            .is_some_and(|deadline| deadline <= now)
    }

    /// Builds a record from a token's JSON payload, checking every claim rule of wire-format §1
    /// except the issuer, audience and time checks, which the verifier does with its configuration.
    pub(crate) fn from_payload(token: IdentityJwt, payload: &[u8]) -> Result<Self, JwtError> {
        let claims: RawClaims = serde_json::from_slice(payload)
            .map_err(|_| JwtError::Malformed("payload is not a JSON object"))?;
        let key_text = Zeroizing::new(required_string(
            claims.agent_private_key,
            "agent_private_key",
        )?);
        let key = AgentKey::from_pkcs8_base64(&key_text).map_err(JwtError::InvalidPrivateKey)?;
        Ok(Self {
            inner: Arc::new(RecordInner {
                token,
                key,
                runtime_id: AgentRuntimeId::new(required_string(
                    claims.agent_runtime_id,
                    "agent_runtime_id",
                )?),
                account_id: AccountId::new(required_string(claims.account_id, "account_id")?),
                chatgpt_user_id: required_string(claims.chatgpt_user_id, "chatgpt_user_id")?,
                email: optional_string(claims.email, "email")?.filter(|email| !email.is_empty()),
                plan: optional_string(claims.plan_type, "plan_type")?
                    .map(|plan| PlanType::parse(&plan)),
                fedramp: match claims.chatgpt_account_is_fedramp {
                    None | Some(Value::Null) => false,
                    Some(Value::Bool(flag)) => flag,
                    Some(_) => {
                        return Err(JwtError::InvalidClaim {
                            claim: "chatgpt_account_is_fedramp",
                            reason: "not a boolean",
                        });
                    }
                },
                issuer: Issuer::new(required_string(claims.iss, "iss")?),
                audiences: audiences(claims.aud)?,
                issued_at: optional_seconds(claims.iat, "iat")?,
                expires_at: optional_seconds(claims.exp, "exp")?
                    .ok_or(JwtError::MissingClaim("exp"))?,
                not_before: optional_seconds(claims.nbf, "nbf")?,
                stored: false,
            }),
        })
    }

    /// Checks issuer, audience, `exp` and `nbf` against the given expectations at `now`.
    pub(crate) fn check(
        &self,
        issuer: &Issuer,
        audience: &Audience,
        now: SystemTime,
        leeway: Duration,
    ) -> Result<(), JwtError> {
        if &self.inner.issuer != issuer {
            return Err(JwtError::wrong_issuer(
                issuer.as_str(),
                self.inner.issuer.as_str(),
            ));
        }
        if !self.inner.audiences.iter().any(|aud| aud == audience) {
            return Err(JwtError::wrong_audience(
                audience.as_str(),
                self.inner.audiences.iter().map(Audience::as_str),
            ));
        }
        let now = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let leeway = leeway.as_secs();
        if self.inner.expires_at.saturating_add(leeway) <= now {
            return Err(JwtError::Expired {
                expired_at: self.inner.expires_at,
                checked_at: now,
            });
        }
        if let Some(nbf) = self.inner.not_before
            && nbf > now.saturating_add(leeway)
        {
            return Err(JwtError::NotYetValid {
                not_before: nbf,
                checked_at: now,
            });
        }
        Ok(())
    }
}

/// The claims as they arrive: every field is checked by hand so that a wrong type gives a typed
/// error naming the claim, and so that no serde message (which can quote values) ever surfaces.
#[derive(Deserialize)]
struct RawClaims {
    iss: Option<Value>,
    aud: Option<Value>,
    iat: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    agent_runtime_id: Option<Value>,
    agent_private_key: Option<Value>,
    account_id: Option<Value>,
    chatgpt_user_id: Option<Value>,
    email: Option<Value>,
    plan_type: Option<Value>,
    chatgpt_account_is_fedramp: Option<Value>,
}

fn required_string(value: Option<Value>, claim: &'static str) -> Result<String, JwtError> {
    match optional_string(value, claim)? {
        Some(text) if !text.is_empty() => Ok(text),
        _ => Err(JwtError::MissingClaim(claim)),
    }
}

fn optional_string(value: Option<Value>, claim: &'static str) -> Result<Option<String>, JwtError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(JwtError::InvalidClaim {
            claim,
            reason: "not a string",
        }),
    }
}

/// 9999-12-31T23:59:59Z: later times are not plausible token times, and bounding them keeps every
/// `SystemTime` computed from a claim (plus any leeway) far from overflow.
const MAX_NUMERIC_DATE: u64 = 253_402_300_799;

fn optional_seconds(value: Option<Value>, claim: &'static str) -> Result<Option<u64>, JwtError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => {
            let after_9999 = JwtError::InvalidClaim {
                claim,
                reason: "after the year 9999",
            };
            let seconds = match (number.as_u64(), number.as_f64()) {
                (Some(seconds), _) => seconds,
                // RFC 7519 NumericDate allows fractions (and exponents); whole seconds are what
                // we keep, and the cap applies to every form a number can take.
                (None, Some(seconds)) if seconds >= 0.0 && seconds.is_finite() => {
                    if seconds > MAX_NUMERIC_DATE as f64 {
                        return Err(after_9999);
                    }
                    seconds as u64
                }
                _ => {
                    return Err(JwtError::InvalidClaim {
                        claim,
                        reason: "not a non-negative number of seconds",
                    });
                }
            };
            if seconds > MAX_NUMERIC_DATE {
                return Err(after_9999);
            }
            Ok(Some(seconds))
        }
        Some(_) => Err(JwtError::InvalidClaim {
            claim,
            reason: "not a number",
        }),
    }
}

fn audiences(value: Option<Value>) -> Result<Vec<Audience>, JwtError> {
    let invalid = JwtError::InvalidClaim {
        claim: "aud",
        reason: "not a string or an array of strings",
    };
    match value {
        None | Some(Value::Null) => Err(JwtError::MissingClaim("aud")),
        Some(Value::String(aud)) => Ok(vec![Audience::new(aud)]),
        Some(Value::Array(items)) => {
            let auds = items
                .into_iter()
                .map(|item| match item {
                    Value::String(aud) => Ok(Audience::new(aud)),
                    _ => Err(invalid.clone()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if auds.is_empty() {
                return Err(JwtError::MissingClaim("aud"));
            }
            Ok(auds)
        }
        Some(_) => Err(invalid),
    }
}

fn epoch(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

impl fmt::Debug for AgentIdentityRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("AgentIdentityRecord")
            .field("runtime_id", &inner.runtime_id)
            .field("account_id", &inner.account_id)
            .field("chatgpt_user_id", &inner.chatgpt_user_id)
            .field("email", &inner.email)
            .field("plan", &inner.plan)
            .field("fedramp", &inner.fedramp)
            .field("issuer", &inner.issuer)
            .field("audiences", &inner.audiences)
            .field("expires_at", &inner.expires_at)
            .field("stored", &inner.stored)
            .field("key", &inner.key)
            .field("token", &inner.token)
            .finish()
    }
}

/// Serializes the claims as they appeared, with `agent_private_key` replaced by `"<redacted>"`.
impl serde::Serialize for AgentIdentityRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let inner = &*self.inner;
        let mut map = serializer.serialize_map(None)?;
        if !inner.stored {
            map.serialize_entry("iss", &inner.issuer)?;
            match inner.audiences.as_slice() {
                [single] => map.serialize_entry("aud", single)?,
                many => map.serialize_entry("aud", many)?,
            }
            if let Some(iat) = inner.issued_at {
                map.serialize_entry("iat", &iat)?;
            }
            map.serialize_entry("exp", &inner.expires_at)?;
        }
        if let Some(nbf) = inner.not_before {
            map.serialize_entry("nbf", &nbf)?;
        }
        map.serialize_entry("agent_runtime_id", &inner.runtime_id)?;
        map.serialize_entry("agent_private_key", "<redacted>")?;
        map.serialize_entry("account_id", &inner.account_id)?;
        map.serialize_entry("chatgpt_user_id", &inner.chatgpt_user_id)?;
        map.serialize_entry("email", &inner.email)?;
        map.serialize_entry("plan_type", &inner.plan)?;
        map.serialize_entry("chatgpt_account_is_fedramp", &inner.fedramp)?;
        map.end()
    }
}
