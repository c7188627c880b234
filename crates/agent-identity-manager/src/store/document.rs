//! Codex's `auth.json` document: where the agent identity sits in it, and how a save and a
//! logout change it. The one home of these rules: the file store keeps the document in
//! `auth.json`, the keyring store as its entry's value, and both read, save and clear it here.
//!
//! The document is shared with Codex, so the rules keep what is not ours: every unknown field
//! survives a save and a logout, a document in another login mode (`auth_mode` `chatgpt` or
//! `apikey`) holds no agent identity and is never changed, and a mistyped field is reported as
//! corrupt, never read as "logged out".

use agent_identity_jwt::IdentityJwt;
use serde_json::{Map, Value};

/// The `auth_mode` of a document holding an agent identity, as Codex writes it.
const AUTH_MODE_AGENT_IDENTITY: &str = "agentIdentity";
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

    /// The agent identity stored here: `None` when there is none (or the document is in another
    /// login mode), or why the document is not a credentials document.
    pub(super) fn identity(&self) -> Result<Option<IdentityJwt>, &'static str> {
        match self.fields.get(AUTH_MODE) {
            None | Some(Value::Null) => {}
            Some(Value::String(mode)) if mode == AUTH_MODE_AGENT_IDENTITY => {}
            // Another login mode (Codex's API key or ChatGPT login): no agent identity here.
            Some(Value::String(_)) => return Ok(None),
            Some(_) => return Err("auth_mode is not a string"),
        }
        match self.fields.get(AGENT_IDENTITY) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(token)) if token.trim().is_empty() => Ok(None),
            Some(Value::String(token)) => Ok(Some(IdentityJwt::new(token.as_str()))),
            Some(_) => Err("agent_identity is not a string"),
        }
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

    /// Removes the agent identity and its `auth_mode`, keeping every other field; see
    /// [`Cleared`] for what the store does next.
    pub(super) fn clear(mut self) -> Cleared {
        let Ok(token) = self.identity() else {
            return Cleared::Corrupt;
        };
        if let Some(Value::String(mode)) = self.fields.get(AUTH_MODE)
            && mode != AUTH_MODE_AGENT_IDENTITY
        {
            return Cleared::OtherLogin(login_mode_name(mode));
        }
        self.fields.remove(AGENT_IDENTITY);
        self.fields.remove(AUTH_MODE);
        let removed = token.is_some();
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
