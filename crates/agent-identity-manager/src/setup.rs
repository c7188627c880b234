//! One-call setup: [`AuthManager::from_env`] reads the same variables as the `agent-identity`
//! CLI, and [`AuthManagerBuilder`] sets each setting explicitly, without the environment.
//!
//! One piece: past 500 lines, it is still one type, the builder, whose settings, defaults and
//! environment fallbacks are read together; each `build_*` step resolves one setting the way
//! the CLI does. The variables' names live in the crate's `env` module.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::UrlRule;
use agent_identity_jwt::{
    DEFAULT_LEEWAY, IdentityJwt, PRODUCTION_JWKS_URL, SigningAlgorithm, StaticJwksSource, Verifier,
};
use agent_identity_task::{AuthApiBaseUrl, TaskClient};
use url::Url;

use crate::env::{
    ALGORITHMS_ENV_VAR, AUDIENCE_ENV_VAR, HOME_ENV_VAR, ISSUER_ENV_VAR, JWKS_BASE_URL_ENV_VAR,
    JWKS_FILE_ENV_VAR, JWKS_URL_ENV_VAR, JWT_ENV_VAR, JWT_ENV_VAR_COMPAT, STORE_ENV_VAR,
    TOKEN_FILE_ENV_VAR,
};
use crate::error::AuthError;
use crate::manager::{AuthManager, TaskReuse};
use crate::store::{CredentialStore, EnvOverride, FileStore, default_home_with};

/// How the environment is read: a variable's value, or `None` when it is unset.
type Lookup = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Where the verifier's keys come from.
#[derive(Clone, PartialEq, Eq)]
enum KeySet {
    /// [`PRODUCTION_JWKS_URL`].
    Production,
    /// A URL, and the setting that named it (for error messages); `insecure` allows plain
    /// `http` to any host.
    Url {
        text: String,
        setting: &'static str,
        insecure: bool,
    },
    /// A JWK Set file.
    File(PathBuf),
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Production => f.write_str("Production"),
            Self::Url { text, insecure, .. } => {
                write!(
                    f,
                    "Url({text:?}{})",
                    if *insecure { ", insecure" } else { "" }
                )
            }
            Self::File(path) => write!(f, "File({path:?})"),
        }
    }
}

/// Builds an [`AuthManager`] from settings, each with a documented default.
///
/// [`AuthManager::builder`] starts with every default and reads no configuration variable;
/// [`AuthManager::from_env`] (or [`AuthManagerBuilder::from_env_lookup`]) starts from the
/// environment, with the names, aliases and precedence of the `agent-identity` CLI. A setting made
/// on the builder wins over the environment. Values are trimmed, and an empty value counts as
/// unset.
///
/// The parts can also be built alone ([`build_verifier`](Self::build_verifier),
/// [`build_task_client`](Self::build_task_client), [`build_store`](Self::build_store)), for a
/// program that only verifies tokens or reads status.
///
/// # Examples
/// ```no_run
/// # async fn run() -> Result<(), agent_identity_manager::AuthError> {
/// use agent_identity_manager::AuthManager;
///
/// // Production: the key set, issuer, audience and AuthAPI defaults, `~/.agent-identity`.
/// let manager = AuthManager::builder().home("/var/lib/my-agent").build().await?;
/// // Or exactly what the CLI would use, from the environment.
/// let manager = AuthManager::from_env().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct AuthManagerBuilder {
    env: Option<Lookup>,
    home: Option<PathBuf>,
    store: Option<Arc<dyn CredentialStore>>,
    /// `Some` when [`keyring`](Self::keyring) chose the durable store, over `AGENT_IDENTITY_STORE`.
    #[cfg(feature = "keyring")]
    keyring: Option<bool>,
    key_set: KeySet,
    authapi_base_url: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    token: Option<String>,
    token_file: Option<PathBuf>,
    leeway: Duration,
    algorithms: Vec<SigningAlgorithm>,
    /// `AGENT_IDENTITY_ALGORITHMS` as read, parsed when the verifier is built (so a bad value is
    /// reported, naming the variable); [`algorithms`](Self::algorithms) clears it.
    algorithms_variable: Option<String>,
    task_reuse: TaskReuse,
    max_registration_attempts: Option<u32>,
}

impl fmt::Debug for AuthManagerBuilder {
    // Not derived: the token override is a secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthManagerBuilder")
            .field("from_env", &self.env.is_some())
            .field("home", &self.home)
            .field("store", &self.store.as_ref().map(|store| store.describe()))
            .field("key_set", &self.key_set)
            .field("authapi_base_url", &self.authapi_base_url)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("leeway", &self.leeway)
            .field("algorithms", &self.algorithms)
            .field("algorithms_variable", &self.algorithms_variable)
            .field("task_reuse", &self.task_reuse)
            .finish_non_exhaustive()
    }
}

impl Default for AuthManagerBuilder {
    fn default() -> Self {
        Self {
            env: None,
            home: None,
            store: None,
            #[cfg(feature = "keyring")]
            keyring: None,
            key_set: KeySet::Production,
            authapi_base_url: None,
            issuer: None,
            audience: None,
            token: None,
            token_file: None,
            leeway: DEFAULT_LEEWAY,
            algorithms: vec![SigningAlgorithm::Rs256],
            algorithms_variable: None,
            task_reuse: TaskReuse::default(),
            max_registration_attempts: None,
        }
    }
}

impl AuthManager {
    /// A builder with every default, reading no configuration variable (see
    /// [`AuthManagerBuilder`]).
    pub fn builder() -> AuthManagerBuilder {
        AuthManagerBuilder::default()
    }

    /// Sets up a manager as the `agent-identity` CLI would, from the process environment: see
    /// [`AuthManagerBuilder::from_env_lookup`] for every variable and its precedence.
    ///
    /// # Errors
    /// As [`AuthManagerBuilder::build`].
    pub async fn from_env() -> Result<Self, AuthError> {
        AuthManagerBuilder::from_env_lookup(|name| std::env::var(name).ok())
            .build()
            .await
    }
}

impl AuthManagerBuilder {
    /// A builder whose defaults come from `lookup`, with the CLI's names and precedence:
    ///
    /// | setting | variables, first set wins |
    /// | --- | --- |
    /// | home | `AGENT_IDENTITY_HOME`, else `$HOME/.agent-identity` (`USERPROFILE` on Windows) |
    /// | key set | `AGENT_IDENTITY_JWKS_FILE`, then `AGENT_IDENTITY_JWKS_URL`, then Codex's `CODEX_AGENT_IDENTITY_JWKS_BASE_URL` (a ChatGPT base; the URL by [`jwks_url_for_base`](agent_identity_jwt::jwks_url_for_base)), else the production URL |
    /// | AuthAPI | `AGENT_IDENTITY_AUTHAPI_BASE_URL`, `CODEX_AUTHAPI_BASE_URL`, `CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL` |
    /// | issuer, audience | `AGENT_IDENTITY_ISSUER`, `AGENT_IDENTITY_AUDIENCE` |
    /// | accepted algorithms | `AGENT_IDENTITY_ALGORITHMS` (`RS256,EdDSA`), else RS256 alone |
    /// | token override (read-only) | `AGENT_IDENTITY_JWT`, then `CODEX_ACCESS_TOKEN` |
    ///
    /// Nothing is validated here: [`build`](Self::build) reports a bad value, naming its variable.
    /// Settings made on the builder afterwards win over the variables.
    pub fn from_env_lookup(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        let lookup: Lookup = Arc::new(lookup);
        let read = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        // The file is the deliberate offline choice, so it wins over the URL.
        let key_set = match (
            read(JWKS_FILE_ENV_VAR),
            read(JWKS_URL_ENV_VAR),
            read(JWKS_BASE_URL_ENV_VAR),
        ) {
            (Some(file), _, _) => KeySet::File(PathBuf::from(file.trim())),
            (None, Some(url), _) => KeySet::Url {
                text: url,
                setting: JWKS_URL_ENV_VAR,
                insecure: false,
            },
            (None, None, Some(base)) => KeySet::Url {
                text: agent_identity_jwt::jwks_url_for_base(&base),
                setting: JWKS_BASE_URL_ENV_VAR,
                insecure: false,
            },
            (None, None, None) => KeySet::Production,
        };
        Self {
            issuer: read(ISSUER_ENV_VAR),
            audience: read(AUDIENCE_ENV_VAR),
            algorithms_variable: read(ALGORITHMS_ENV_VAR),
            key_set,
            env: Some(lookup),
            ..Self::default()
        }
    }

    /// The directory holding `auth.json` and the runtime cache. Defaults to `AGENT_IDENTITY_HOME`
    /// (from the environment only with [`from_env_lookup`](Self::from_env_lookup)), else
    /// `~/.agent-identity`.
    pub fn home(mut self, home: impl Into<PathBuf>) -> Self {
        let home = home.into();
        self.home = (!home.as_os_str().is_empty()).then_some(home);
        self
    }

    /// A credential store to use instead of the home's `auth.json` (a [`crate::MemoryStore`] in
    /// tests, a store of your own). A token override still layers over it.
    pub fn store(mut self, store: Arc<dyn CredentialStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Whether the durable store is the home's OS keyring entry ([`KeyringStore`](crate::KeyringStore))
    /// rather than its `auth.json`, whatever `AGENT_IDENTITY_STORE` says. A token file or a token
    /// still comes first, as with the file store. Defaults to the variable (`file` when unset).
    #[cfg(feature = "keyring")]
    pub fn keyring(mut self, keyring: bool) -> Self {
        self.keyring = Some(keyring);
        self
    }

    /// Fetch the key set from `url`: `https`, or `http` to a loopback host only (`localhost`,
    /// `127.0.0.0/8`, `[::1]`), since the key set decides which tokens are trusted. Defaults to
    /// [`PRODUCTION_JWKS_URL`]. Replaces any key set file. An empty value restores the default.
    pub fn jwks_url(self, url: impl Into<String>) -> Self {
        self.url_key_set(url.into(), false)
    }

    /// [`jwks_url`](Self::jwks_url) allowing plain `http` to any host. Anyone on the path can
    /// then choose which tokens this process trusts: for closed test networks only.
    pub fn insecure_jwks_url(self, url: impl Into<String>) -> Self {
        self.url_key_set(url.into(), true)
    }

    fn url_key_set(mut self, text: String, insecure: bool) -> Self {
        self.key_set = if text.trim().is_empty() {
            KeySet::Production
        } else {
            KeySet::Url {
                text,
                setting: if insecure {
                    "insecure jwks url"
                } else {
                    "jwks url"
                },
                insecure,
            }
        };
        self
    }

    /// Verify against the JWK Set in `path` (a regular file of at most 1 MiB), for machines that
    /// cannot reach the key set endpoint. Replaces any key set URL. No default.
    pub fn jwks_file(mut self, path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        self.key_set = if path.as_os_str().is_empty() {
            KeySet::Production
        } else {
            KeySet::File(path)
        };
        self
    }

    /// The AuthAPI base URL (`https` unless loopback). Defaults to the first of the AuthAPI
    /// variables that is set (with [`from_env_lookup`](Self::from_env_lookup)), else
    /// `https://auth.openai.com/api/accounts`.
    pub fn authapi_base_url(mut self, url: impl Into<String>) -> Self {
        self.authapi_base_url = Some(url.into()).filter(|url| !url.trim().is_empty());
        self
    }

    /// The expected issuer. Defaults to [`agent_identity_jwt::DEFAULT_ISSUER`].
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into()).filter(|value| !value.trim().is_empty());
        self
    }

    /// The expected audience. Defaults to [`agent_identity_jwt::DEFAULT_AUDIENCE`].
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into()).filter(|value| !value.trim().is_empty());
        self
    }

    /// A token that overrides the stored credentials, read-only: it is never written, and
    /// `login`/`logout` through the manager are refused while it is set. Defaults to none (with
    /// [`from_env_lookup`](Self::from_env_lookup): `AGENT_IDENTITY_JWT`, then
    /// `CODEX_ACCESS_TOKEN`).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into()).filter(|value| !value.trim().is_empty());
        self
    }

    /// A token file that another program writes and rotates, read instead of `auth.json`
    /// ([`TokenFileStore`](crate::TokenFileStore); the runtime cache stays in the home). A
    /// [`token`](Self::token) override still wins over it. Defaults to none (with
    /// [`from_env_lookup`](Self::from_env_lookup): `AGENT_IDENTITY_JWT_FILE`).
    pub fn token_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.token_file = Some(path.into()).filter(|path| !path.as_os_str().is_empty());
        self
    }

    /// Clock leeway for `exp` and `nbf`. Defaults to [`DEFAULT_LEEWAY`] (60 s).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The accepted signing algorithms. Defaults to RS256 alone, what ChatGPT (and the
    /// emulator, unless told otherwise) signs with; with [`from_env_lookup`](Self::from_env_lookup),
    /// to `AGENT_IDENTITY_ALGORITHMS` when it is set.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self.algorithms_variable = None;
        self
    }

    /// The algorithms the verifier accepts: the setting, or the variable's list.
    fn accepted_algorithms(&self) -> Result<Vec<SigningAlgorithm>, AuthError> {
        match &self.algorithms_variable {
            Some(text) => parse_algorithms(text).map_err(|reason| AuthError::Config {
                setting: ALGORITHMS_ENV_VAR,
                reason,
            }),
            None => Ok(self.algorithms.clone()),
        }
    }

    /// Whether processes of the same home share one task. Defaults to
    /// [`TaskReuse::PerHome`] without a maximum age.
    pub fn task_reuse(mut self, task_reuse: TaskReuse) -> Self {
        self.task_reuse = task_reuse;
        self
    }

    /// Task registration attempts, the first and its retries (at least 1). Defaults to
    /// [`agent_identity_task::DEFAULT_MAX_ATTEMPTS`].
    pub fn max_registration_attempts(mut self, attempts: u32) -> Self {
        self.max_registration_attempts = Some(attempts.max(1));
        self
    }

    /// The verifier these settings describe. A key set file is read now.
    ///
    /// # Errors
    /// [`AuthError::Config`] for an unusable key set URL (or one that needs the `http` feature),
    /// or a key set file that cannot be read or parsed.
    pub fn build_verifier(&self) -> Result<Verifier, AuthError> {
        let algorithms = self.accepted_algorithms()?;
        let mut builder = match &self.key_set {
            KeySet::File(path) => Verifier::builder(StaticJwksSource::from_file(path)?),
            KeySet::Production => http_verifier(
                parse_jwks_url(PRODUCTION_JWKS_URL, false).map_err(|reason| AuthError::Config {
                    setting: "jwks url",
                    reason: reason.to_owned(),
                })?,
            )?,
            KeySet::Url {
                text,
                setting,
                insecure,
            } => {
                let url = parse_jwks_url(text, *insecure).map_err(|reason| AuthError::Config {
                    setting,
                    reason: reason.to_owned(),
                })?;
                http_verifier(url)?
            }
        }
        .leeway(self.leeway)
        .algorithms(algorithms);
        if let Some(issuer) = &self.issuer {
            builder = builder.issuer(issuer.trim());
        }
        if let Some(audience) = &self.audience {
            builder = builder.audience(audience.trim());
        }
        Ok(builder.build())
    }

    /// The AuthAPI client these settings describe, with the task crate's timeouts and backoff.
    ///
    /// # Errors
    /// [`AuthError::Config`] when the base URL is not acceptable, its reason naming the variable
    /// it came from.
    pub fn build_task_client(&self) -> Result<TaskClient, AuthError> {
        let base = match &self.env {
            Some(lookup) => {
                AuthApiBaseUrl::resolve_with(self.authapi_base_url.as_deref(), |name| lookup(name))?
            }
            None => AuthApiBaseUrl::resolve_with(self.authapi_base_url.as_deref(), |_| None)?,
        };
        let mut builder = TaskClient::builder(base);
        if let Some(attempts) = self.max_registration_attempts {
            builder = builder.max_attempts(attempts);
        }
        Ok(builder.build())
    }

    /// The home's file store: [`home`](Self::home), else `AGENT_IDENTITY_HOME` (from the
    /// environment only with [`from_env_lookup`](Self::from_env_lookup)), else
    /// `~/.agent-identity`.
    ///
    /// # Errors
    /// [`AuthError::Store`] when no home directory can be found.
    pub fn build_file_store(&self) -> Result<FileStore, AuthError> {
        if let Some(home) = &self.home {
            return Ok(FileStore::new(home));
        }
        let home = match &self.env {
            Some(lookup) => default_home_with(&|name| lookup(name)),
            // Without the environment's configuration, still the user's own home directory.
            None => default_home_with(&|name| {
                (name != HOME_ENV_VAR)
                    .then(|| std::env::var(name).ok())
                    .flatten()
            }),
        }?;
        Ok(FileStore::new(home))
    }

    /// The durable store, without a token or token file over it: `auth.json` in the home, or its
    /// OS keyring entry when the builder's `keyring` choice (the `keyring` feature) says so or,
    /// without that, `AGENT_IDENTITY_STORE` is `keyring` (read from the environment only with
    /// [`from_env_lookup`](Self::from_env_lookup)). What a login writes and a logout clears.
    ///
    /// # Errors
    /// As [`build_file_store`](Self::build_file_store).
    pub fn build_durable_store(&self) -> Result<Arc<dyn CredentialStore>, AuthError> {
        let file = self.build_file_store()?;
        if self.wants_keyring()? {
            #[cfg(feature = "keyring")]
            if let Some(home) = file.path().parent() {
                return Ok(Arc::new(crate::KeyringStore::new(home)));
            }
        }
        Ok(Arc::new(file))
    }

    /// Whether the durable store is the OS keyring: the [`keyring`](Self::keyring) choice, else
    /// `AGENT_IDENTITY_STORE`, which must say `file` or `keyring` (a keyring that was asked for
    /// is never quietly replaced by a file).
    fn wants_keyring(&self) -> Result<bool, AuthError> {
        #[cfg(feature = "keyring")]
        if let Some(keyring) = self.keyring {
            return Ok(keyring);
        }
        let value = self.env.as_ref().and_then(|lookup| lookup(STORE_ENV_VAR));
        match value.as_deref().map(str::trim) {
            None | Some("" | "file") => Ok(false),
            Some("keyring") if cfg!(feature = "keyring") => Ok(true),
            Some("keyring") => Err(AuthError::Config {
                setting: STORE_ENV_VAR,
                reason: "this build has no keyring store (the `keyring` feature is off)".to_owned(),
            }),
            Some(_) => Err(AuthError::Config {
                setting: STORE_ENV_VAR,
                reason: "expected `file` or `keyring`".to_owned(),
            }),
        }
    }

    /// The credential store: the one given to [`store`](Self::store), else the token file, else
    /// the home's file store, under the token override when one is set.
    ///
    /// # Errors
    /// As [`build_file_store`](Self::build_file_store).
    pub fn build_store(&self) -> Result<Arc<dyn CredentialStore>, AuthError> {
        let token_file = self.token_file.clone().or_else(|| {
            let lookup = self.env.as_ref()?;
            lookup(TOKEN_FILE_ENV_VAR)
                .filter(|value| !value.trim().is_empty())
                .map(PathBuf::from)
        });
        let base: Arc<dyn CredentialStore> = match (&self.store, token_file) {
            (Some(store), _) => Arc::clone(store),
            (None, Some(path)) => {
                let mut store = crate::TokenFileStore::new(path);
                // The runtime cache lives in the home, when there is one; without, a token file
                // still works, with a task per process.
                if let Ok(file_store) = self.build_file_store()
                    && let Some(home) = file_store.path().parent()
                {
                    store = store.with_runtime_cache_home(home);
                }
                Arc::new(store)
            }
            (None, None) => self.build_durable_store()?,
        };
        let token = self.token.clone();
        let env = self.env.clone();
        Ok(Arc::new(EnvOverride::from_env_lookup(
            base,
            move |name| match (&token, name) {
                (Some(token), JWT_ENV_VAR) => Some(token.clone()),
                _ => env.as_ref().and_then(|lookup| lookup(name)),
            },
        )))
    }

    /// Builds the parts and loads eagerly, as [`AuthManager::with_task_reuse`].
    ///
    /// # Errors
    /// The errors of [`build_verifier`](Self::build_verifier),
    /// [`build_task_client`](Self::build_task_client) and [`build_store`](Self::build_store), then those of [`AuthManager::new`].
    pub async fn build(self) -> Result<AuthManager, AuthError> {
        let verifier = self.build_verifier()?;
        let tasks = self.build_task_client()?;
        let store = self.build_store()?;
        AuthManager::with_task_reuse(verifier, tasks, store, self.task_reuse).await
    }

    /// The token override in effect, if any: the setting, else the variables. For a CLI that
    /// warns when a stored token will be shadowed.
    pub fn token_override(&self) -> Option<IdentityJwt> {
        if let Some(token) = &self.token {
            return Some(IdentityJwt::new(token.clone()));
        }
        let lookup = self.env.as_ref()?;
        [JWT_ENV_VAR, JWT_ENV_VAR_COMPAT]
            .into_iter()
            .find_map(|name| lookup(name).filter(|value| !value.trim().is_empty()))
            .map(IdentityJwt::new)
    }
}

/// Every algorithm a list may name, in the order an error message lists them.
const NAMEABLE_ALGORITHMS: [SigningAlgorithm; 9] = [
    SigningAlgorithm::Rs256,
    SigningAlgorithm::EdDsa,
    SigningAlgorithm::Rs384,
    SigningAlgorithm::Rs512,
    SigningAlgorithm::Ps256,
    SigningAlgorithm::Ps384,
    SigningAlgorithm::Ps512,
    SigningAlgorithm::Es256,
    SigningAlgorithm::Es384,
];

/// Parses a list of accepted algorithms, as `AGENT_IDENTITY_ALGORITHMS` and the CLI's
/// `--algorithms` take it: JOSE names (`RS256`, `EdDSA`, …) in any case, separated by commas or
/// spaces.
///
/// # Errors
/// A message naming the first unknown name (`none` and the HMAC names are never accepted), or
/// saying that the list is empty.
pub fn parse_algorithms(text: &str) -> Result<Vec<SigningAlgorithm>, String> {
    let mut algorithms = Vec::new();
    for name in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|name| !name.is_empty())
    {
        let algorithm = NAMEABLE_ALGORITHMS
            .into_iter()
            .find(|algorithm| algorithm.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                let known: Vec<&str> = NAMEABLE_ALGORITHMS.iter().map(|a| a.as_str()).collect();
                format!(
                    "unknown algorithm {name:?}; expected names from {}",
                    known.join(", ")
                )
            })?;
        if !algorithms.contains(&algorithm) {
            algorithms.push(algorithm);
        }
    }
    if algorithms.is_empty() {
        return Err("no algorithm named; expected a list such as RS256,EdDSA".to_owned());
    }
    Ok(algorithms)
}

#[cfg(feature = "http")]
fn http_verifier(url: Url) -> Result<agent_identity_jwt::VerifierBuilder, AuthError> {
    // Through `builder`, so the verifier knows its key set's URL (the runtime cache keeps the
    // fetched keys under it). `parse_jwks_url` applied the URL rule already, with the plain-http
    // exception only for `insecure_jwks_url`; the insecure constructor keeps that exception.
    let source = agent_identity_jwt::HttpJwksSource::insecure_new(url).map_err(|refusal| {
        AuthError::Config {
            setting: "jwks url",
            reason: refusal.reason().to_owned(),
        }
    })?;
    Ok(Verifier::builder(source))
}

#[cfg(not(feature = "http"))]
fn http_verifier(_url: Url) -> Result<agent_identity_jwt::VerifierBuilder, AuthError> {
    Err(AuthError::Config {
        setting: "jwks url",
        reason: "fetching a key set needs the `http` feature; set a key set file instead".into(),
    })
}

/// Parses a key set URL by the workspace's one URL rule (a query allowed). The key set decides
/// which tokens are trusted, so it must come over `https`, except from a loopback host (the
/// emulator, a test server), as for the AuthAPI (wire-format §4), unless `insecure`.
///
/// # Errors
/// What is wrong with the URL.
pub(crate) fn parse_jwks_url(text: &str, insecure: bool) -> Result<Url, &'static str> {
    let rule = UrlRule::new().allow_query();
    let rule = if insecure {
        rule.insecure_plain_http()
    } else {
        rule
    };
    rule.parse(text).map_err(|refusal| refusal.reason())
}

mod provenance;
pub use provenance::{Setting, SettingSource};

#[cfg(test)]
mod tests;
