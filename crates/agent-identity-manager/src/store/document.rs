//! Codex's `auth.json` document: where the agent identity sits in it (the JWT, or the record
//! standalone or beside a ChatGPT login), and how a save, a task write-back and a logout change
//! it. The one home of these rules: the file store keeps the document in
//! `auth.json`, the keyring store as its entry's value, and both read, save and clear it here.
//!
//! The document is shared with Codex, so the rules keep what is not ours: every unknown field
//! survives a save and a logout, a document in another login mode (`auth_mode` `chatgpt` or
//! `apikey`) holds no agent identity and is never changed, and a mistyped field is reported as
//! corrupt, never read as "logged out".

use agent_identity_jwt::{AgentIdentityRecord, AgentRuntimeId, IdentityJwt, StoredFields};
use agent_identity_task::TaskId;
use serde_json::{Map, Value};

use crate::credential::{AgentRecord, Credential, RecordKind};

/// The `auth_mode` of a document holding an agent identity, as Codex writes it.
const AUTH_MODE_AGENT_IDENTITY: &str = "agentIdentity";
/// The `auth_mode` of Codex's ChatGPT login, beside which Codex keeps a record (the managed
/// form).
const AUTH_MODE_CHATGPT: &str = "chatgpt";
/// The ChatGPT login's tokens: a document without `auth_mode` that has them is a ChatGPT login,
/// as Codex resolves it.
const TOKENS: &str = "tokens";
/// The record's fields (wire-format §6).
const RUNTIME_ID: &str = "agent_runtime_id";
const PRIVATE_KEY: &str = "agent_private_key";
const ACCOUNT_ID: &str = "account_id";
const CHATGPT_USER_ID: &str = "chatgpt_user_id";
const EMAIL: &str = "email";
const PLAN_TYPE: &str = "plan_type";
const FEDRAMP: &str = "chatgpt_account_is_fedramp";
const TASK_ID: &str = "task_id";
/// The reverted April 2026 object's tell-tale field.
const APRIL_WORKSPACE_ID: &str = "workspace_id";
/// The fields this crate reads and writes; everything else belongs to someone else.
const AUTH_MODE: &str = "auth_mode";
const AGENT_IDENTITY: &str = "agent_identity";
/// Codex writes `"OPENAI_API_KEY": null` into every document; a save adds it when missing.
const API_KEY_PLACEHOLDER: &str = "OPENAI_API_KEY";

/// A parsed credentials document: a JSON object, whatever its fields.
#[derive(Debug, Default)]
pub(super) struct AuthDocument {
    fields: Map<String, Value>,
}

/// Why a document's agent identity cannot be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Problem {
    /// The document is mistyped: corrupt.
    Corrupt(&'static str),
    /// A well-formed document whose `agent_identity` is a form we do not use: refused, named, and
    /// never changed by a read.
    Unsupported(&'static str),
}

/// What [`AuthDocument::clear`] leaves for the store to do.
#[derive(Debug)]
pub(super) enum Cleared {
    /// The document is mistyped (it does not read as credentials): nothing in it can be kept,
    /// and leaving it would keep the user logged in as far as any other reader is concerned.
    /// Delete it.
    Corrupt,
    /// Another login mode, named as [`login_mode_name`] shows it: not ours to touch.
    OtherLogin(String),
    /// Nothing is left but Codex's placeholder: delete the document. `removed`: whether an
    /// identity was there.
    Empty { removed: bool },
    /// Write back what is left. `removed`: whether an identity was there.
    Rest {
        document: AuthDocument,
        removed: bool,
    },
}

impl AuthDocument {
    /// The document with these fields.
    pub(super) fn new(fields: Map<String, Value>) -> Self {
        Self { fields }
    }

    /// The fields, for writing out.
    pub(super) fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// The document as compact JSON text (a keyring entry's value).
    #[cfg(feature = "keyring")]
    pub(super) fn to_text(&self) -> String {
        Value::Object(self.fields.clone()).to_string()
    }

    /// The agent identity stored here: `None` when there is none (or the document is another
    /// login with no record beside it), or why it cannot be read.
    pub(super) fn identity(&self) -> Result<Option<Credential>, Problem> {
        let kind = match self.fields.get(AUTH_MODE) {
            None | Some(Value::Null) if self.fields.contains_key(TOKENS) => RecordKind::Managed,
            None | Some(Value::Null) => RecordKind::Standalone,
            Some(Value::String(mode)) if mode == AUTH_MODE_AGENT_IDENTITY => RecordKind::Standalone,
            Some(Value::String(mode)) if mode == AUTH_MODE_CHATGPT => RecordKind::Managed,
            // Another login mode (Codex's API key login): no agent identity here.
            Some(Value::String(_)) => return Ok(None),
            Some(_) => return Err(Problem::Corrupt("auth_mode is not a string")),
        };
        match self.fields.get(AGENT_IDENTITY) {
            None | Some(Value::Null) => Ok(None),
            // Beside a ChatGPT login Codex keeps only the record form.
            Some(Value::String(_)) if kind == RecordKind::Managed && self.is_chatgpt() => Ok(None),
            Some(Value::String(token)) if token.trim().is_empty() => Ok(None),
            Some(Value::String(token)) => {
                Ok(Some(Credential::Jwt(IdentityJwt::new(token.as_str()))))
            }
            Some(Value::Object(record)) => {
                parse_record(record, kind).map(|record| Some(Credential::Record(record)))
            }
            Some(_) => Err(Problem::Corrupt(
                "agent_identity is neither a token string nor a record object",
            )),
        }
    }

    /// Whether `auth_mode` is Codex's ChatGPT login.
    fn is_chatgpt(&self) -> bool {
        matches!(self.fields.get(AUTH_MODE), Some(Value::String(mode)) if mode == AUTH_MODE_CHATGPT)
    }

    /// Writes `task_id` into the stored record of `runtime_id`, keeping every other field and
    /// unknown key. Returns `false` (and changes nothing) when the document holds no record of
    /// that agent.
    pub(super) fn save_record_task(
        &mut self,
        runtime_id: &AgentRuntimeId,
        task_id: &TaskId,
    ) -> bool {
        let Some(Value::Object(record)) = self.fields.get_mut(AGENT_IDENTITY) else {
            return false;
        };
        if record.get(RUNTIME_ID).and_then(Value::as_str) != Some(runtime_id.as_str()) {
            return false;
        }
        record.insert(TASK_ID.into(), Value::String(task_id.as_str().to_owned()));
        true
    }

    /// Stores `record` as Codex writes one: managed (beside the ChatGPT login, whose fields stay
    /// as they are) or standalone (`auth_mode` `agentIdentity`); every other field kept.
    pub(super) fn save_record(&mut self, record: &AgentRecord) {
        let identity = record.identity();
        let mut object = Map::new();
        object.insert(RUNTIME_ID.into(), identity.runtime_id().as_str().into());
        object.insert(
            PRIVATE_KEY.into(),
            identity.key().to_pkcs8_base64().as_str().into(),
        );
        object.insert(ACCOUNT_ID.into(), identity.account_id().as_str().into());
        object.insert(CHATGPT_USER_ID.into(), identity.chatgpt_user_id().into());
        // Codex writes a missing email as "".
        object.insert(EMAIL.into(), identity.email().unwrap_or_default().into());
        object.insert(
            PLAN_TYPE.into(),
            identity
                .plan()
                .map_or("unknown", |plan| plan.as_str())
                .into(),
        );
        object.insert(FEDRAMP.into(), identity.is_fedramp().into());
        if let Some(task_id) = record.task_id() {
            object.insert(TASK_ID.into(), task_id.as_str().into());
        }
        if record.kind() == RecordKind::Standalone {
            self.fields.insert(
                AUTH_MODE.into(),
                Value::String(AUTH_MODE_AGENT_IDENTITY.into()),
            );
        }
        self.fields
            .entry(API_KEY_PLACEHOLDER)
            .or_insert(Value::Null);
        self.fields
            .insert(AGENT_IDENTITY.into(), Value::Object(object));
    }

    /// Stores `token` as the agent identity, as Codex writes one: `auth_mode` `agentIdentity`,
    /// the placeholder kept or added, every other field kept.
    pub(super) fn save(&mut self, token: &IdentityJwt) {
        self.fields.insert(
            AUTH_MODE.into(),
            Value::String(AUTH_MODE_AGENT_IDENTITY.into()),
        );
        self.fields
            .entry(API_KEY_PLACEHOLDER)
            .or_insert(Value::Null);
        self.fields.insert(
            AGENT_IDENTITY.into(),
            Value::String(token.expose_secret().to_owned()),
        );
    }

    /// Removes the agent identity, keeping every other field: beside a ChatGPT login only
    /// `agent_identity` goes (the login stays as it was), otherwise `auth_mode` too. See
    /// [`Cleared`] for what the store does next.
    pub(super) fn clear(mut self) -> Cleared {
        let present = match self.identity() {
            Ok(credential) => credential.is_some(),
            // A form we do not use is still an agent identity the user asked to remove.
            Err(Problem::Unsupported(_)) => true,
            Err(Problem::Corrupt(_)) => return Cleared::Corrupt,
        };
        if self.is_chatgpt() {
            if !present {
                return Cleared::OtherLogin(AUTH_MODE_CHATGPT.to_owned());
            }
            self.fields.remove(AGENT_IDENTITY);
            return Cleared::Rest {
                document: self,
                removed: true,
            };
        }
        if let Some(Value::String(mode)) = self.fields.get(AUTH_MODE)
            && mode != AUTH_MODE_AGENT_IDENTITY
        {
            return Cleared::OtherLogin(login_mode_name(mode));
        }
        self.fields.remove(AGENT_IDENTITY);
        self.fields.remove(AUTH_MODE);
        let removed = present;
        // The placeholder a save adds is, alone, nobody's data.
        let only_placeholder = self.fields.is_empty()
            || (self.fields.len() == 1
                && self.fields.get(API_KEY_PLACEHOLDER) == Some(&Value::Null));
        if only_placeholder {
            Cleared::Empty { removed }
        } else {
            Cleared::Rest {
                document: self,
                removed,
            }
        }
    }
}

/// Reads a record object (wire-format §6), naming what is wrong when it is not one.
fn parse_record(record: &Map<String, Value>, kind: RecordKind) -> Result<AgentRecord, Problem> {
    if record.contains_key(APRIL_WORKSPACE_ID) && !record.contains_key(ACCOUNT_ID) {
        return Err(Problem::Unsupported(
            "agent_identity is an object with workspace_id: the form of April 2026 Codex builds, \
             which current Codex does not read either; register the agent again (agent-identity \
             register, or codex login)",
        ));
    }
    let text = |field: &'static str, missing: &'static str| match record.get(field) {
        Some(Value::String(value)) if !value.is_empty() => Ok(value.as_str()),
        _ => Err(Problem::Unsupported(missing)),
    };
    let runtime_id = text(
        RUNTIME_ID,
        "agent_identity is an object without a string agent_runtime_id, so not a record Codex \
         writes; register the agent again",
    )?;
    let private_key = text(
        PRIVATE_KEY,
        "agent_identity is an object without a string agent_private_key, so not a record Codex \
         writes; register the agent again",
    )?;
    let account_id = text(
        ACCOUNT_ID,
        "agent_identity is an object without a string account_id, so not a record Codex writes; \
         register the agent again",
    )?;
    let chatgpt_user_id = text(
        CHATGPT_USER_ID,
        "agent_identity is an object without a string chatgpt_user_id, so not a record Codex \
         writes; register the agent again",
    )?;
    let email = match record.get(EMAIL) {
        None | Some(Value::Null) => None,
        Some(Value::String(email)) => Some(email.as_str()),
        Some(_) => return Err(Problem::Corrupt("agent_identity.email is not a string")),
    };
    let plan_type = match record.get(PLAN_TYPE) {
        Some(Value::String(plan)) => Some(plan.as_str()),
        None | Some(Value::Null) => {
            return Err(Problem::Unsupported(
                "agent_identity is an object without a string plan_type, so not a record Codex \
                 writes; register the agent again",
            ));
        }
        Some(_) => return Err(Problem::Corrupt("agent_identity.plan_type is not a string")),
    };
    let fedramp = match record.get(FEDRAMP) {
        Some(Value::Bool(flag)) => *flag,
        None | Some(Value::Null) => {
            return Err(Problem::Unsupported(
                "agent_identity is an object without chatgpt_account_is_fedramp, so not a record \
                 Codex writes; register the agent again",
            ));
        }
        Some(_) => {
            return Err(Problem::Corrupt(
                "agent_identity.chatgpt_account_is_fedramp is not a boolean",
            ));
        }
    };
    let task_id = match record.get(TASK_ID) {
        None | Some(Value::Null) => None,
        Some(Value::String(task)) if task.is_empty() => None,
        Some(Value::String(task)) => Some(TaskId::new(task.as_str())),
        Some(_) => return Err(Problem::Corrupt("agent_identity.task_id is not a string")),
    };
    let identity = AgentIdentityRecord::from_stored(StoredFields {
        runtime_id,
        private_key,
        account_id,
        chatgpt_user_id,
        email,
        plan_type,
        fedramp,
    })
    .map_err(|_| {
        Problem::Corrupt(
            "agent_identity.agent_private_key is not a usable base64 PKCS#8 Ed25519 key",
        )
    })?;
    Ok(AgentRecord::new(identity, task_id, kind))
}

/// Another login mode's name as shown to the user: Codex's are short words; anything else in
/// the field (it is not ours) is not repeated.
fn login_mode_name(mode: &str) -> String {
    let plain = !mode.is_empty()
        && mode.len() <= 32
        && mode
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
    if plain {
        mode.to_owned()
    } else {
        "unknown".to_owned()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod record_tests;
