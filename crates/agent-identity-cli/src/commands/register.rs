//! `register`: create an agent identity from a ChatGPT login, as Codex does. A fresh Ed25519
//! key; `POST {authapi}/v1/agent/register` with the login's bearer token; a task; and the record
//! written, managed (into the login's own `auth.json`, beside it) or standalone (alone in the
//! home). Nothing is written unless every step succeeded, and no ChatGPT token is ever copied.

use std::io::Read as _;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use agent_identity_jwt::{AgentIdentityRecord, AgentKey, StoredFields};
use agent_identity_manager::{AgentRecord, RecordKind};
use agent_identity_task::AgentBom;
use base64::Engine as _;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::cli::RegisterArgs;
use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::{Output, redact};

/// The id token's claim that carries the ChatGPT account, as Codex reads it.
const AUTH_CLAIM: &str = "https://api.openai.com/auth";
/// 1 MiB: a Codex `auth.json` is a few KiB.
const MAX_LOGIN_BYTES: u64 = 1 << 20;
/// The bill of materials' defaults: what this tool is.
const DEFAULT_HARNESS_ID: &str = "agent-identity-cli";
const DEFAULT_RUNNING_LOCATION: &str = "local";

pub(crate) async fn run(
    config: &Config<'_>,
    args: &RegisterArgs,
    out: Output,
) -> Result<Exit, Failure> {
    let store = config.durable_store()?;
    let home_file = config.file_store()?.path().to_path_buf();
    let (source, kind) = match &args.chatgpt_auth {
        Some(file) if !same_file(file, &home_file) => (file.clone(), RecordKind::Standalone),
        _ => (home_file, RecordKind::Managed),
    };
    let login = read_login(&source)?;
    // Checked before anything is generated or sent: a store that cannot take the record.
    store.check_writable()?;
    let key = AgentKey::generate().map_err(|error| {
        Failure::new(
            "key",
            format!("generating the agent key failed: {error}"),
            Exit::Rejected,
        )
    })?;
    let bom = AgentBom {
        agent_version: args
            .agent_version
            .clone()
            .unwrap_or_else(|| env!("CARGO_PKG_VERSION").to_owned()),
        agent_harness_id: args
            .agent_harness_id
            .clone()
            .unwrap_or_else(|| DEFAULT_HARNESS_ID.to_owned()),
        running_location: args
            .running_location
            .clone()
            .unwrap_or_else(|| DEFAULT_RUNNING_LOCATION.to_owned()),
    };
    let tasks = config.task_client()?;
    let runtime_id = tasks
        .register_agent(&login.access_token, login.fedramp, &bom, &key)
        .await?;
    let key_text = key.to_pkcs8_base64();
    let identity = AgentIdentityRecord::from_stored(StoredFields {
        runtime_id: runtime_id.as_str(),
        private_key: &key_text,
        account_id: &login.account_id,
        chatgpt_user_id: &login.user_id,
        email: login.email.as_deref(),
        plan_type: login.plan_type.as_deref(),
        fedramp: login.fedramp,
    })
    .map_err(|error| {
        Failure::new(
            "key",
            format!("the agent key cannot be used: {error}"),
            Exit::Rejected,
        )
    })?;
    let task_id = tasks.register_task(&identity).await?;
    let record = AgentRecord::new(identity, Some(task_id.clone()), kind);
    store.save_record(&record)?;

    let path = redact(&store.describe());
    if out.is_json() {
        out.json_line(&json!({
            "ok": true,
            "runtime_id": runtime_id.as_str(),
            "account_id": login.account_id,
            "task_id": task_id.as_str(),
            "record_file": kind.name(),
            "store": path,
        }));
    } else {
        out.line(format!(
            "registered agent {runtime_id} for account {} (task {task_id}); wrote a {} record \
             to {path}",
            login.account_id,
            kind.name()
        ));
    }
    Ok(Exit::Success)
}

/// What `register` takes from a ChatGPT login. The access token is a secret.
struct Login {
    access_token: Zeroizing<String>,
    account_id: String,
    user_id: String,
    email: Option<String>,
    plan_type: Option<String>,
    fedramp: bool,
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

fn no_login(path: &Path, what: &str) -> Failure {
    Failure::new(
        "no_chatgpt_login",
        format!(
            "{} holds no usable chatgpt login: {what}; run `codex login` first, or name a \
             login with --chatgpt-auth FILE",
            redact(&path.display().to_string())
        ),
        Exit::Rejected,
    )
}

/// Reads the ChatGPT login of a Codex `auth.json` in `chatgpt` mode. Never echoes a token.
fn read_login(path: &Path) -> Result<Login, Failure> {
    let text = read_capped(path).map_err(|error| {
        Failure::new(
            "no_chatgpt_login",
            format!(
                "reading the chatgpt login {} failed: {error}; run `codex login` first, or name \
                 a login with --chatgpt-auth FILE",
                redact(&path.display().to_string())
            ),
            Exit::Rejected,
        )
    })?;
    let document: Value =
        serde_json::from_slice(&text).map_err(|_| no_login(path, "it is not a json document"))?;
    let tokens = document
        .get("tokens")
        .ok_or_else(|| no_login(path, "it has no tokens"))?;
    let access_token = match tokens.get("access_token") {
        Some(Value::String(token)) if !token.is_empty() => Zeroizing::new(token.clone()),
        _ => return Err(no_login(path, "tokens.access_token is absent")),
    };
    let access =
        claims(&access_token).ok_or_else(|| no_login(path, "tokens.access_token is not a jwt"))?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    if let Some(exp) = access.get("exp").and_then(Value::as_u64)
        && exp <= now
    {
        return Err(no_login(
            path,
            "the access token has expired (run `codex login`, or any codex command that refreshes it)",
        ));
    }
    let id_token = match tokens.get("id_token") {
        Some(Value::String(token)) if !token.is_empty() => Zeroizing::new(token.clone()),
        _ => return Err(no_login(path, "tokens.id_token is absent")),
    };
    let id = claims(&id_token).ok_or_else(|| no_login(path, "tokens.id_token is not a jwt"))?;
    let auth = id
        .get(AUTH_CLAIM)
        .ok_or_else(|| no_login(path, "the id token has no chatgpt account claim"))?;
    let text = |name: &str| auth.get(name).and_then(Value::as_str).map(str::to_owned);
    let account_id = text("chatgpt_account_id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| no_login(path, "the id token names no chatgpt_account_id"))?;
    let user_id = text("chatgpt_user_id")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| no_login(path, "the id token names no chatgpt_user_id"))?;
    Ok(Login {
        access_token,
        account_id,
        user_id,
        email: id
            .get("email")
            .and_then(Value::as_str)
            .filter(|email| !email.is_empty())
            .map(str::to_owned),
        plan_type: text("chatgpt_plan_type").map(|plan| plan.to_ascii_lowercase()),
        fedramp: auth
            .get("chatgpt_account_is_fedramp")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// A JWT's payload, decoded without any check: the login's own tokens, read for their claims,
/// as Codex reads them. The AuthAPI is what checks the access token.
fn claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

/// Reads at most [`MAX_LOGIN_BYTES`] of a regular file.
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    file.take(MAX_LOGIN_BYTES + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_LOGIN_BYTES {
        return Err(std::io::Error::other("larger than 1 MiB"));
    }
    Ok(bytes)
}
