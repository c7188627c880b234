//! What a store holds: a [`Credential`], either the identity JWT or Codex's stored record
//! ([`AgentRecord`]), the two forms of `agent_identity` in `auth.json` (wire-format §6).

use std::fmt;

use agent_identity_jwt::{AgentIdentityRecord, IdentityJwt};
use agent_identity_task::TaskId;

/// The stored agent identity, in one of the two forms Codex writes.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Credential {
    /// The identity JWT, verified against the key set before use.
    Jwt(IdentityJwt),
    /// A record: the identity's fields and private key, trusted as stored (no key set fetch),
    /// with its task when one was registered.
    Record(AgentRecord),
}

impl Credential {
    /// `jwt` or `record`, for status output.
    pub fn form(&self) -> &'static str {
        match self {
            Self::Jwt(_) => "jwt",
            Self::Record(_) => "record",
        }
    }
}

/// Which kind of file holds a record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordKind {
    /// `auth_mode` `agentIdentity`: the record alone.
    Standalone,
    /// `auth_mode` `chatgpt`: the record beside a ChatGPT login, which is not ours to touch.
    Managed,
}

impl RecordKind {
    /// `standalone` or `managed`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Standalone => "standalone",
            Self::Managed => "managed",
        }
    }
}

/// Codex's record form of an agent identity: the identity (its private key parsed once,
/// zeroized on drop, never printed), the task registered for it if any, and the kind of file it
/// was found in. A record has no expiry.
#[derive(Clone)]
pub struct AgentRecord {
    identity: AgentIdentityRecord,
    task_id: Option<TaskId>,
    kind: RecordKind,
}

impl AgentRecord {
    /// A record of `identity` (built with [`AgentIdentityRecord::from_stored`]).
    pub fn new(identity: AgentIdentityRecord, task_id: Option<TaskId>, kind: RecordKind) -> Self {
        Self {
            identity,
            task_id,
            kind,
        }
    }

    /// The identity, for signing.
    pub fn identity(&self) -> &AgentIdentityRecord {
        &self.identity
    }

    /// The task stored in the record (`task_id`), which is the task to use.
    pub fn task_id(&self) -> Option<&TaskId> {
        self.task_id.as_ref()
    }

    /// The kind of file the record was found in.
    pub fn kind(&self) -> RecordKind {
        self.kind
    }

    /// Whether `other` is the same stored record: the same agent, key and task.
    pub(crate) fn same_as(&self, identity: &AgentIdentityRecord, task_id: &TaskId) -> bool {
        identity.is_stored()
            && identity.runtime_id() == self.identity.runtime_id()
            && identity.account_id() == self.identity.account_id()
            && identity.key().public_key().ok() == self.identity.key().public_key().ok()
            && Some(task_id) == self.task_id.as_ref()
    }
}

impl fmt::Debug for AgentRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentRecord")
            .field("runtime_id", self.identity.runtime_id())
            .field("account_id", self.identity.account_id())
            .field("task_id", &self.task_id)
            .field("kind", &self.kind)
            .field("key", self.identity.key())
            .finish()
    }
}
