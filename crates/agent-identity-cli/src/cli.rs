//! The command line, as clap derive types: the output flags every command takes, one variant per
//! command and its arguments. Each command flattens the configuration groups it uses (the
//! `configuration` module), their variables read by clap; [`Cli::parse_from_iter`] settles them
//! into one [`Settings`] (the `settings` module: which value wins, and where it came from).
//!
//! One piece: every command's arguments side by side, so the command line reads as one; the
//! shared groups and value parsers already live in their own modules.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::{ArgAction, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

mod configuration;
mod env;
mod help;
mod settings;
mod values;

pub(crate) use configuration::StoreKind;
use configuration::{
    AlgorithmList, AuthApiArgs, DEFAULT_LEEWAY_SECS, IdentityArgs, JwtArgs, LeewayArgs, StoreArgs,
    TaskArgs, VerificationArgs,
};
pub(crate) use settings::Settings;
use settings::Uses;

/// The clap definition, for help rendering and checks.
pub(crate) fn definition() -> clap::Command {
    Line::command()
}

/// The command named in `args` (the first argument that is a command's name), for pointing a
/// usage error at that command's help.
pub(crate) fn command_named(args: impl IntoIterator<Item = std::ffi::OsString>) -> Option<String> {
    let definition = definition();
    args.into_iter().skip(1).find_map(|arg| {
        let arg = arg.to_str()?;
        definition
            .get_subcommands()
            .any(|command| command.get_name() == arg)
            .then(|| arg.to_owned())
    })
}

/// Verify agent identity tokens, log in, and sign requests as an agent.
///
/// Tokens are verified against a JWK Set with RS256, what ChatGPT and the local emulator sign with
/// (--algorithms accepts others, such as EdDSA). Each command's --help lists the flags it takes;
/// its configuration flags can also be set through the environment variables shown, and a flag
/// wins over any variable.
// The clap definition; [`Cli`] is what parsing it yields, the configuration settled.
#[derive(Parser)]
#[command(
    name = "agent-identity",
    version,
    propagate_version = true,
    after_help = help::TOP
)]
struct Line {
    #[command(flatten)]
    output: OutputFlags,

    #[command(subcommand)]
    command: Command,
}

/// The parsed command line: output flags, the command, and its configuration settled from its
/// flags, the variables and the defaults.
// Not `Debug`: the settings hold the `--jwt` secret.
pub(crate) struct Cli {
    pub(crate) json: bool,
    pub(crate) verbose: u8,
    pub(crate) command: Command,
    pub(crate) settings: Settings,
}

impl Cli {
    /// Parses the process's arguments.
    ///
    /// # Errors
    /// clap's error for a usage error, `--help` or `--version`.
    pub(crate) fn parse_args() -> Result<Self, clap::Error> {
        Self::parse_from_iter(std::env::args_os())
    }

    /// Parses `args`, then settles each setting the command uses (see [`Settings`]).
    ///
    /// Where the key set comes from: a flag wins over any variable, so `--jwks-url` on the command
    /// line beats `AGENT_IDENTITY_JWKS_FILE` and `--jwks-file` beats `AGENT_IDENTITY_JWKS_URL`;
    /// both flags together are a usage error; with neither flag, `AGENT_IDENTITY_JWKS_FILE` beats
    /// `AGENT_IDENTITY_JWKS_URL`, a file being the deliberate offline choice. (clap's
    /// `conflicts_with` would also count values from the environment, so a set
    /// `AGENT_IDENTITY_JWKS_URL` would forbid `--jwks-file`.)
    ///
    /// # Errors
    /// clap's error for a usage error, `--help` or `--version`.
    pub(crate) fn parse_from_iter(
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
    ) -> Result<Self, clap::Error> {
        let mut command = Line::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let line = Line::from_arg_matches_mut(&mut matches.clone())
            .map_err(|error| error.format(&mut command))?;
        let (_, sub) = matches
            .subcommand()
            .ok_or_else(|| command.error(ErrorKind::MissingSubcommand, "no command given"))?;
        let settings = Settings::settle(line.command.uses(), sub)
            .map_err(|message| command.error(ErrorKind::ArgumentConflict, message))?;
        Ok(Self {
            json: line.output.json,
            verbose: line.output.verbose,
            command: line.command,
            settings,
        })
    }
}

/// Flags every command accepts, before or after the command name (clap's `global`).
#[derive(Args)]
struct OutputFlags {
    /// Machine-readable output: JSON objects on stdout, one per line
    #[arg(long, global = true)]
    json: bool,

    /// Log to stderr: -v info (retries, reloads), -vv debug, -vvv trace (no logs by default)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,
}

/// The commands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the whole flow against an embedded emulator, step by step: mint, log in, status, a
    /// signed request, an AuthAPI outage survived, recovery
    #[command(after_help = help::DEMO)]
    Demo,
    /// Run the local AuthAPI/JWKS emulator until SIGTERM or Ctrl-C
    #[command(after_help = help::EMULATOR)]
    Emulator(EmulatorArgs),
    /// Verify a token and print its claims (the private key redacted)
    #[command(after_help = help::VERIFY)]
    Verify(VerifyArgs),
    /// Verify a token, register a task with the AuthAPI, and store the token
    #[command(after_help = help::LOGIN)]
    Login(LoginArgs),
    /// Show the stored identity without touching the network
    #[command(after_help = help::STATUS)]
    Status(StatusArgs),
    /// Load the identity (verify, then the home's task or a registration) and print fresh
    /// request headers
    #[command(after_help = help::HEADER)]
    Header(HeaderArgs),
    /// Delete the stored credentials
    #[command(after_help = help::LOGOUT)]
    Logout(LogoutArgs),
    /// Create an agent identity from a ChatGPT login, as Codex does: a new key, the agent
    /// registered with the AuthAPI, a task, and the record written for both tools to use
    #[command(after_help = help::REGISTER)]
    Register(RegisterArgs),
    /// Check the setup end to end (settings and where they came from, the token, the key set,
    /// the AuthAPI, the clock, the store) and say what to do next
    #[command(after_help = help::DOCTOR)]
    Doctor(DoctorArgs),
    /// Run a local reverse proxy to one upstream that signs every request as the agent, until
    /// SIGTERM or Ctrl-C
    #[command(after_help = help::PROXY)]
    Proxy(ProxyArgs),
    /// Run a command with a private signing proxy: it gets AGENT_IDENTITY_PROXY_URL and
    /// AGENT_IDENTITY_PROXY_TOKEN (and OPENAI_BASE_URL and OPENAI_API_KEY with --openai-env), and
    /// none of the identity's variables. Not a sandbox: the command runs as your user
    #[command(after_help = help::EXEC)]
    Exec(ExecArgs),
}

impl Command {
    /// The threads the command's runtime serves with: `--workers` for the proxy's commands,
    /// `None` (one per core) for the others.
    pub(crate) fn workers(&self) -> Option<u16> {
        match self {
            Self::Proxy(args) => Some(args.limits.workers),
            Self::Exec(args) => Some(args.limits.workers),
            _ => None,
        }
    }

    /// The configuration groups this command takes.
    fn uses(&self) -> Uses<'_> {
        match self {
            Self::Demo | Self::Emulator(_) => Uses::default(),
            Self::Verify(args) => Uses {
                verification: Some(&args.verification),
                jwt: Some(&args.jwt.jwt),
                ..Uses::default()
            },
            Self::Login(args) => Uses {
                store: Some(&args.store),
                verification: Some(&args.verification),
                authapi: Some(&args.authapi),
                jwt: Some(&args.jwt.jwt),
                task: Some(&args.task),
                ..Uses::default()
            },
            Self::Status(args) => Uses {
                store: Some(&args.store),
                leeway: Some(&args.leeway),
                jwt: Some(&args.identity.jwt),
                token_file: Some(&args.identity.token_file),
                ..Uses::default()
            },
            Self::Logout(args) => Uses {
                store: Some(&args.store),
                ..Uses::default()
            },
            Self::Register(args) => Uses {
                store: Some(&args.store),
                authapi: Some(&args.authapi),
                ..Uses::default()
            },
            Self::Doctor(args) => Uses {
                store: Some(&args.store),
                verification: Some(&args.verification),
                authapi: Some(&args.authapi),
                jwt: Some(&args.identity.jwt),
                token_file: Some(&args.identity.token_file),
                ..Uses::default()
            },
            Self::Header(HeaderArgs { loads, .. })
            | Self::Proxy(ProxyArgs { loads, .. })
            | Self::Exec(ExecArgs { loads, .. }) => Uses {
                store: Some(&loads.store),
                verification: Some(&loads.verification),
                authapi: Some(&loads.authapi),
                jwt: Some(&loads.identity.jwt),
                token_file: Some(&loads.identity.token_file),
                task: Some(&loads.task),
                ..Uses::default()
            },
        }
    }
}

/// Arguments of `verify`.
#[derive(Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    jwt: JwtArgs,
    #[command(flatten)]
    verification: VerificationArgs,
}

/// Arguments of `login`.
#[derive(Args)]
pub(crate) struct LoginArgs {
    #[command(flatten)]
    pub(crate) token: TokenArgs,
    #[command(flatten)]
    jwt: JwtArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    verification: VerificationArgs,
    #[command(flatten)]
    authapi: AuthApiArgs,
    #[command(flatten)]
    task: TaskArgs,
}

/// Arguments of `status`.
#[derive(Args)]
pub(crate) struct StatusArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    leeway: LeewayArgs,
}

/// Arguments of `logout`.
#[derive(Args)]
pub(crate) struct LogoutArgs {
    #[command(flatten)]
    store: StoreArgs,
}

/// Arguments of `register`.
#[derive(Args)]
pub(crate) struct RegisterArgs {
    /// A Codex auth.json in chatgpt mode to take the ChatGPT login from [default: the home's own
    /// auth.json]; the record is then written alone into the home
    #[arg(long, value_name = "FILE")]
    pub(crate) chatgpt_auth: Option<PathBuf>,
    /// The agent's version, in its bill of materials [default: this tool's version]
    #[arg(long, value_name = "VERSION")]
    pub(crate) agent_version: Option<String>,
    /// The harness that runs the agent, in its bill of materials [default: agent-identity-cli]
    #[arg(long, value_name = "ID")]
    pub(crate) agent_harness_id: Option<String>,
    /// Where the agent runs, in its bill of materials [default: local]
    #[arg(long, value_name = "LOCATION")]
    pub(crate) running_location: Option<String>,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    authapi: AuthApiArgs,
}

/// Arguments of `doctor`.
#[derive(Args)]
pub(crate) struct DoctorArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    verification: VerificationArgs,
    #[command(flatten)]
    authapi: AuthApiArgs,
}

/// The configuration of the commands that load the identity and may register a task: `header`,
/// `proxy` and `exec`.
#[derive(Args)]
pub(crate) struct LoadArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    identity: IdentityArgs,
    #[command(flatten)]
    verification: VerificationArgs,
    #[command(flatten)]
    authapi: AuthApiArgs,
    #[command(flatten)]
    task: TaskArgs,
}

/// The ChatGPT backend, where agent-signed requests go unless `--upstream` says otherwise.
pub(crate) const DEFAULT_UPSTREAM: &str = "https://chatgpt.com/backend-api";

/// Arguments of `proxy`.
#[derive(Args)]
pub(crate) struct ProxyArgs {
    /// The upstream every request goes to (https, or http to a loopback host); its path prefixes
    /// request paths
    #[arg(long, env = env::UPSTREAM_ENV_VAR, value_name = "URL")]
    pub(crate) upstream: String,

    /// Where to listen: a loopback TCP address (clients must send the client token) or
    /// unix:PATH (a 0600 socket, no token: the choice on a host with other users)
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR|unix:PATH")]
    pub(crate) listen: String,

    /// Read the client token from this file (a regular file of ours, not writable by others, at
    /// least 22 base64url characters) instead of writing a fresh one to proxy-PORT.token in the
    /// home, removed on exit
    #[arg(long, value_name = "FILE")]
    pub(crate) client_token_file: Option<PathBuf>,

    /// Allow a --listen address that is not loopback (0.0.0.0, [::], a LAN address); a warning
    /// is printed. On a host with other users, prefer unix:PATH
    #[arg(long)]
    pub(crate) listen_public: bool,

    /// Give up after DURATION (`30s`, `2m`, `1h`; a bare number is seconds) when the credentials
    /// (a token file not mounted yet) are still missing, exiting 75. Without it the proxy waits
    /// as long as it runs; meanwhile it answers 503 saying what it waits for
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub(crate) wait_for_credentials: Option<std::time::Duration>,

    /// Also serve GET /metrics (the Prometheus text of /_agent-identity/metrics) without the
    /// client token on this loopback address, for a scraper
    #[arg(long, value_name = "ADDR")]
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,

    #[command(flatten)]
    loads: LoadArgs,
}

/// Arguments of `exec`.
#[derive(Args)]
pub(crate) struct ExecArgs {
    /// The upstream every request goes to
    #[arg(long, env = env::UPSTREAM_ENV_VAR, default_value = DEFAULT_UPSTREAM, value_name = "URL")]
    pub(crate) upstream: String,

    /// Also set OPENAI_BASE_URL to the proxy and OPENAI_API_KEY to its client token
    #[arg(long)]
    pub(crate) openai_env: bool,

    /// Start the command even when the identity cannot be loaded (its requests then get 401 or
    /// 503 from the proxy) instead of exiting 1 or 75
    #[arg(long)]
    pub(crate) allow_not_ready: bool,

    /// Wait up to DURATION (`30s`, `2m`, `1h`; a bare number is seconds) for the credentials to
    /// appear (a token file, a login) or the key set and AuthAPI to answer, before starting the
    /// command
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub(crate) wait_for_credentials: Option<std::time::Duration>,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,

    #[command(flatten)]
    loads: LoadArgs,

    /// The command and its arguments
    #[arg(required = true, last = true, value_name = "CMD")]
    pub(crate) command: Vec<std::ffi::OsString>,
}

/// The proxy's limits.
#[derive(Debug, Args)]
pub(crate) struct LimitArgs {
    /// Seconds a client may take to send its request headers before it is disconnected
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub(crate) header_read_timeout: u64,

    /// The most bytes of request line and headers (at least 8192; larger requests get 431)
    #[arg(
        long,
        default_value_t = 65_536,
        value_name = "BYTES",
        value_parser = clap::value_parser!(u64).range(8192..=(1 << 30))
    )]
    pub(crate) max_header_bytes: u64,

    /// The most client connections served at once
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub(crate) max_connections: usize,

    /// Seconds to connect to the upstream
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub(crate) connect_timeout: u64,

    /// Seconds for the upstream to send its response headers
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub(crate) response_header_timeout: u64,

    /// Seconds in-flight requests may take to finish after SIGTERM or Ctrl-C
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub(crate) drain_timeout: u64,

    /// Threads that serve requests. One (the default) serves tens of thousands of requests a
    /// second at the least CPU per request, as one nginx worker does; more share the load on a
    /// multi-threaded runtime
    #[arg(
        long,
        default_value_t = 1,
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=1024)
    )]
    pub(crate) workers: u16,
}

/// Arguments of `header`.
#[derive(Args)]
pub(crate) struct HeaderArgs {
    /// How to print the headers: `value` (the Authorization value alone), `json`, `curl` (-H
    /// arguments for every header), `http` (header lines) or `env` (shell variable assignments)
    #[arg(long, value_enum, default_value_t = HeaderFormat::Value, value_name = "FORMAT")]
    pub(crate) format: HeaderFormat,

    #[command(flatten)]
    loads: LoadArgs,
}

/// The forms `header` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum HeaderFormat {
    /// The Authorization value alone (without the account header, most servers refuse it).
    Value,
    /// One JSON object (also what `--json` gives).
    Json,
    /// `-H 'Name: value'` arguments for curl, every header.
    Curl,
    /// `Name: value` lines, every header.
    Http,
    /// `AGENT_IDENTITY_AUTHORIZATION=…` lines for `eval`, every header.
    Env,
}

/// Arguments of `emulator`.
#[derive(Debug, Args)]
pub(crate) struct EmulatorArgs {
    /// The address to listen on: IP:PORT or HOST:PORT (`localhost:8080`); port 0 picks a free one
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR", value_parser = values::socket_address)]
    pub(crate) listen: SocketAddr,

    /// The token signature algorithm: rs256 (an RSA-2048 key, as ChatGPT signs) or eddsa (an
    /// Ed25519 key; clients then need --algorithms EdDSA or AGENT_IDENTITY_ALGORITHMS=EdDSA)
    #[arg(
        long,
        value_enum,
        default_value_t = EmulatorAlgorithm::Rs256,
        hide_possible_values = true,
        value_name = "ALG"
    )]
    pub(crate) algorithm: EmulatorAlgorithm,

    /// Print `export` lines that point the CLI and `AuthManager::from_env` at the emulator, then
    /// close stdout and keep serving
    #[arg(long)]
    pub(crate) env: bool,
}

/// The signing algorithms of `emulator --algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum EmulatorAlgorithm {
    /// RS256, an RSA-2048 key.
    Rs256,
    /// EdDSA, an Ed25519 key.
    Eddsa,
}

/// Where `verify` and `login` read the token from.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// A file holding the JWT, or - for stdin [default: the --jwt value]
    #[arg(long = "jwt-file", value_name = "FILE|-")]
    pub(crate) jwt_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests;
