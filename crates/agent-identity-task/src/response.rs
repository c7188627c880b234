//! The forms a successful registration response takes (wire-format §3), defined once for clients
//! (which try them in order) and servers (the emulator answers in any of them).

use serde::{Deserialize, Serialize};

/// The shape of a successful registration response (wire-format §3 lists the four fields a client
/// tries, in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationForm {
    /// `{"task_id": "…"}`, in plaintext.
    Plain,
    /// `{"taskId": "…"}`, in plaintext.
    Camel,
    /// `{"encrypted_task_id": "…"}`: a sealed box addressed to the agent's key. The default (a
    /// server's choice), as in production.
    #[default]
    Encrypted,
    /// `{"encryptedTaskId": "…"}`: a sealed box addressed to the agent's key.
    EncryptedCamel,
}

impl RegistrationForm {
    /// Every form, in the order clients try their fields.
    pub const ALL: [Self; 4] = [
        Self::Plain,
        Self::Camel,
        Self::Encrypted,
        Self::EncryptedCamel,
    ];

    /// The response field this form fills: `task_id`, `taskId`, `encrypted_task_id` or
    /// `encryptedTaskId`.
    pub fn field(self) -> &'static str {
        match self {
            Self::Plain => "task_id",
            Self::Camel => "taskId",
            Self::Encrypted => "encrypted_task_id",
            Self::EncryptedCamel => "encryptedTaskId",
        }
    }

    /// Whether the task id is sealed.
    pub fn is_encrypted(self) -> bool {
        matches!(self, Self::Encrypted | Self::EncryptedCamel)
    }

    /// The snake_case name (the emulator's admin endpoint uses it): `plain`, `camel`, `encrypted` or
    /// `encrypted_camel`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Plain => "plain",
            Self::Camel => "camel",
            Self::Encrypted => "encrypted",
            Self::EncryptedCamel => "encrypted_camel",
        }
    }
}

impl std::str::FromStr for RegistrationForm {
    type Err = UnknownRegistrationForm;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|form| form.as_str() == name || form.field() == name)
            .ok_or(UnknownRegistrationForm)
    }
}

impl std::fmt::Display for RegistrationForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not a registration form (`plain`, `camel`, `encrypted`, `encrypted_camel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a registration form (plain, camel, encrypted, encrypted_camel)")]
pub struct UnknownRegistrationForm;

impl UnknownRegistrationForm {
    /// A stable snake_case name, for logs and machine-readable output:
    /// `unknown_registration_form`.
    pub fn kind(&self) -> &'static str {
        "unknown_registration_form"
    }
}
