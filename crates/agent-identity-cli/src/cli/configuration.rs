//! The configuration groups a command flattens for the flags it uses: the store, the token's
//! source, verification (key set, issuer, audience, algorithms, leeway), the AuthAPI and task
//! registration. Each flag reads its variable through clap; the `settings` module settles them.

use std::path::PathBuf;

use agent_identity_jwt::SigningAlgorithm;
use agent_identity_manager::ALGORITHMS_ENV_VAR;
use clap::Args;

/// The largest `--leeway`: one day. Larger values only overflow time arithmetic.
pub(crate) const MAX_LEEWAY_SECS: u64 = 86_400;
/// The default `--leeway`, in seconds.
pub(crate) const DEFAULT_LEEWAY_SECS: u16 = 60;

/// Where the identity's token comes from: `header`, `status`, `doctor`, `proxy` and `exec`.
// Not `Debug`: it holds the `--jwt` secret.
#[derive(Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct IdentityArgs {
    /// The agent identity JWT itself, overriding every other source (see --jwt-file). A secret:
    /// prefer the variable or --jwt-file to a flag other users can see
    #[arg(
        long,
        env = agent_identity_manager::JWT_ENV_VAR,
        hide_env_values = true,
        value_name = "JWT"
    )]
    pub(super) jwt: Option<String>,

    /// A token file another program writes and rotates (a mounted secret), read instead of
    /// auth.json and re-read when it changes. The token comes from --jwt, else --jwt-file, else
    /// AGENT_IDENTITY_JWT (then CODEX_ACCESS_TOKEN), else AGENT_IDENTITY_JWT_FILE, else auth.json
    #[arg(
        id = "token_file",
        long = "jwt-file",
        env = agent_identity_manager::TOKEN_FILE_ENV_VAR,
        value_name = "FILE"
    )]
    pub(super) token_file: Option<PathBuf>,
}

/// The token `verify` checks and `login` stores, given inline.
// Not `Debug`: it holds the `--jwt` secret.
#[derive(Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct JwtArgs {
    /// The JWT itself, when --jwt-file is not given. A secret: prefer --jwt-file to a flag other
    /// users can see. `verify` also reads the variable; `login` stores --jwt, never the variable
    #[arg(
        long,
        env = agent_identity_manager::JWT_ENV_VAR,
        hide_env_values = true,
        value_name = "JWT"
    )]
    pub(super) jwt: Option<String>,
}

/// The home, and where the credentials are stored.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct StoreArgs {
    /// The directory holding auth.json and the runtime cache [default: ~/.agent-identity]
    #[arg(long, env = agent_identity_manager::HOME_ENV_VAR, value_name = "DIR")]
    pub(super) home: Option<PathBuf>,

    /// Where credentials are stored: file (auth.json in the home) or keyring (the OS keyring, in
    /// the entry Codex uses for the home; never a file) [default: file]
    #[arg(
        long,
        env = agent_identity_manager::STORE_ENV_VAR,
        value_enum,
        hide_possible_values = true,
        value_name = "STORE"
    )]
    pub(super) store: Option<StoreKind>,
}

/// The durable credential store of `--store`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StoreKind {
    /// `auth.json` in the home.
    #[default]
    File,
    /// The OS keyring.
    Keyring,
}

/// How a token is verified: the key set, the expected issuer and audience, the clock leeway.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct VerificationArgs {
    /// The JWK Set URL (https, or http to a loopback host) [default:
    /// https://chatgpt.com/backend-api/wham/agent-identities/jwks]
    #[arg(long, env = agent_identity_manager::JWKS_URL_ENV_VAR, value_name = "URL")]
    pub(super) jwks_url: Option<String>,

    /// A JWK Set file, for machines that cannot reach the JWKS endpoint (instead of --jwks-url; of
    /// the two variables, this one wins), at most 1 MiB
    #[arg(long, env = agent_identity_manager::JWKS_FILE_ENV_VAR, value_name = "FILE")]
    pub(super) jwks_file: Option<PathBuf>,

    /// The expected token issuer [default: https://chatgpt.com/codex-backend/agent-identity]
    #[arg(long, env = agent_identity_manager::ISSUER_ENV_VAR, value_name = "ISSUER")]
    pub(super) issuer: Option<String>,

    /// The expected token audience [default: codex-app-server]
    #[arg(long, env = agent_identity_manager::AUDIENCE_ENV_VAR, value_name = "AUDIENCE")]
    pub(super) audience: Option<String>,

    /// The accepted token signature algorithms, comma-separated (`RS256,EdDSA`) [default: RS256,
    /// what ChatGPT and the emulator sign with]
    #[arg(long, env = ALGORITHMS_ENV_VAR, value_name = "LIST", value_parser = algorithm_list)]
    pub(super) algorithms: Option<AlgorithmList>,

    #[command(flatten)]
    pub(super) leeway: LeewayArgs,
}

/// The clock leeway for `exp` and `nbf`.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct LeewayArgs {
    /// Clock leeway for exp and nbf, in seconds (at most 86400, one day)
    // Bounded so that adding it to a time cannot overflow `SystemTime` (a huge value panicked);
    // a clock a day off is broken, not skewed.
    #[arg(
        long,
        default_value_t = u64::from(DEFAULT_LEEWAY_SECS),
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(0..=MAX_LEEWAY_SECS)
    )]
    pub(super) leeway: u64,
}

/// The AuthAPI, where tasks are registered.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct AuthApiArgs {
    /// The AuthAPI base URL (also read: CODEX_AUTHAPI_BASE_URL, CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL)
    /// [default: https://auth.openai.com/api/accounts]
    #[arg(long, env = agent_identity_task::AUTHAPI_BASE_URL_ENV_VARS[0], value_name = "URL")]
    pub(super) authapi_base_url: Option<String>,
}

/// Task registration: the commands that may register one.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct TaskArgs {
    /// Register a task of this process's own instead of reusing the one cached in the home
    #[arg(long)]
    pub(super) fresh_task: bool,

    /// Task registration attempts (the first and its retries)
    #[arg(long, hide = true, value_name = "N")]
    pub(super) max_attempts: Option<u32>,
}

/// The accepted algorithms of `--algorithms`, parsed by the library's one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AlgorithmList(pub(crate) Vec<SigningAlgorithm>);

fn algorithm_list(text: &str) -> Result<AlgorithmList, String> {
    agent_identity_manager::parse_algorithms(text).map(AlgorithmList)
}
