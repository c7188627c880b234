//! The command line, as clap derive types: global flags, configuration flags that also read the
//! environment, and one variant per command.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{ArgAction, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};

/// The largest `--leeway`: one day. Larger values only overflow time arithmetic.
pub(crate) const MAX_LEEWAY_SECS: u64 = 86_400;

/// Verify agent identity tokens, log in, and sign requests as an agent.
///
/// Tokens are verified against a JWK Set with RS256 (what ChatGPT signs with) or EdDSA (what the
/// local emulator signs with). Configuration flags can also be set through the environment
/// variables shown; a flag wins over any variable.
// Not `Debug`: the global flags hold the `--jwt` secret.
#[derive(Parser)]
#[command(name = "agent-identity", version, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,

    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// Parses the process's arguments.
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
    pub(crate) fn parse_args() -> Result<Self, clap::Error> {
        Self::parse_from_iter(std::env::args_os())
    }

    pub(crate) fn parse_from_iter(
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
    ) -> Result<Self, clap::Error> {
        let mut command = Self::command();
        let mut matches = command.try_get_matches_from_mut(args)?;
        let from_command_line =
            |id: &str| matches.value_source(id) == Some(ValueSource::CommandLine);
        // Where each configuration value came from, for `doctor`.
        let sources: Vec<(&'static str, &'static str)> = [
            "home",
            "jwks_url",
            "jwks_file",
            "authapi_base_url",
            "issuer",
            "audience",
            "jwt",
            "leeway",
        ]
        .into_iter()
        .filter_map(|id| {
            let source = match matches.value_source(id)? {
                ValueSource::CommandLine => "flag",
                ValueSource::EnvVariable => "variable",
                ValueSource::DefaultValue => "default",
                _ => "other",
            };
            Some((id, source))
        })
        .collect();
        let file_flag = from_command_line("jwks_file");
        let url_flag = from_command_line("jwks_url");
        let jwt_flag = from_command_line("jwt");
        if file_flag && url_flag {
            return Err(command.error(
                ErrorKind::ArgumentConflict,
                "the argument '--jwks-file <FILE>' cannot be used with '--jwks-url <URL>'",
            ));
        }
        let mut cli =
            Self::from_arg_matches_mut(&mut matches).map_err(|error| error.format(&mut command))?;
        if url_flag {
            // The flag beats the variable of the other kind too.
            cli.global.jwks_file = None;
        }
        cli.global.jwt_from_command_line = jwt_flag;
        cli.global.sources = sources;
        Ok(cli)
    }
}

/// Flags every command accepts, before or after the command name.
// Not `Debug`: it holds the `--jwt` secret.
#[derive(Args)]
pub(crate) struct Global {
    /// The directory holding auth.json [default: ~/.agent-identity]
    #[arg(long, global = true, env = "AGENT_IDENTITY_HOME", value_name = "DIR")]
    pub(crate) home: Option<PathBuf>,

    /// Where credentials are stored: file (auth.json in the home) or keyring (the OS keyring,
    /// in the entry Codex uses for the home; never a file)
    #[arg(
        long,
        global = true,
        env = "AGENT_IDENTITY_STORE",
        value_name = "STORE",
        default_value = "file"
    )]
    pub(crate) store: StoreKind,

    /// Machine-readable output: JSON objects on stdout, one per line
    #[arg(long, global = true)]
    pub(crate) json: bool,

    /// Log to stderr: -v info, -vv debug, -vvv trace (no logs by default)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub(crate) verbose: u8,

    /// The JWK Set URL [default: https://chatgpt.com/backend-api/wham/agent-identities/jwks]
    #[arg(
        long,
        global = true,
        env = "AGENT_IDENTITY_JWKS_URL",
        value_name = "URL"
    )]
    pub(crate) jwks_url: Option<String>,

    /// A JWK Set file, for machines that cannot reach the JWKS endpoint (instead of --jwks-url; of
    /// the two variables, this one wins), at most 1 MiB
    #[arg(
        long,
        global = true,
        env = "AGENT_IDENTITY_JWKS_FILE",
        value_name = "FILE"
    )]
    pub(crate) jwks_file: Option<PathBuf>,

    /// The AuthAPI base URL (also read: CODEX_AUTHAPI_BASE_URL, CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL)
    /// [default: https://auth.openai.com/api/accounts]
    #[arg(
        long,
        global = true,
        env = "AGENT_IDENTITY_AUTHAPI_BASE_URL",
        value_name = "URL"
    )]
    pub(crate) authapi_base_url: Option<String>,

    /// The expected token issuer [default: https://chatgpt.com/codex-backend/agent-identity]
    #[arg(
        long,
        global = true,
        env = "AGENT_IDENTITY_ISSUER",
        value_name = "ISSUER"
    )]
    pub(crate) issuer: Option<String>,

    /// The expected token audience [default: codex-app-server]
    #[arg(
        long,
        global = true,
        env = "AGENT_IDENTITY_AUDIENCE",
        value_name = "AUDIENCE"
    )]
    pub(crate) audience: Option<String>,

    /// The agent identity JWT itself, overriding stored credentials. A secret: prefer the
    /// environment variable or --jwt-file to a flag other users can see. `login` stores --jwt,
    /// never the variable
    #[arg(
        long,
        global = true,
        env = "AGENT_IDENTITY_JWT",
        hide_env_values = true,
        value_name = "JWT"
    )]
    pub(crate) jwt: Option<String>,

    /// Whether `jwt` came from `--jwt` rather than `AGENT_IDENTITY_JWT`: `login` stores a token
    /// given explicitly, never the variable's.
    #[arg(skip)]
    pub(crate) jwt_from_command_line: bool,

    /// Where each configuration value came from (`flag`, `variable`, `default`), by argument id.
    #[arg(skip)]
    pub(crate) sources: Vec<(&'static str, &'static str)>,

    /// Clock leeway for exp and nbf, in seconds (at most 86400, one day)
    // Bounded so that adding it to a time cannot overflow `SystemTime` (a huge value panicked);
    // a clock a day off is broken, not skewed.
    #[arg(
        long,
        global = true,
        default_value_t = 60,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(0..=MAX_LEEWAY_SECS)
    )]
    pub(crate) leeway: u64,

    /// Task registration attempts (the first and its retries)
    #[arg(long, global = true, hide = true, value_name = "N")]
    pub(crate) max_attempts: Option<u32>,

    /// Register a task of this process's own instead of reusing the one cached in the home
    #[arg(long, global = true)]
    pub(crate) fresh_task: bool,
}

/// The commands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Run the whole flow against an embedded emulator, step by step: mint, log in, status, a
    /// signed request, an AuthAPI outage survived, recovery
    Demo,
    /// Run the local AuthAPI/JWKS emulator until SIGTERM or Ctrl-C
    Emulator(EmulatorArgs),
    /// Verify a token and print its claims (the private key redacted)
    Verify(TokenArgs),
    /// Verify a token, register a task with the AuthAPI, and store the token
    Login(TokenArgs),
    /// Show the stored identity without touching the network
    Status,
    /// Load the identity (verify, then the home's task or a registration) and print fresh
    /// request headers
    Header(HeaderArgs),
    /// Delete the stored credentials
    Logout,
    /// Check the setup end to end (settings and where they came from, the token, the key set,
    /// the AuthAPI, the clock, the store) and say what to do next; exit 0 when all is well, 1
    /// when something blocks, 75 when only something transient does
    Doctor,
    /// Run a local reverse proxy to one upstream that signs every request as the agent, until
    /// SIGTERM or Ctrl-C
    Proxy(ProxyArgs),
    /// Run a command with a private signing proxy: it gets AGENT_IDENTITY_PROXY_URL and
    /// AGENT_IDENTITY_PROXY_TOKEN (and OPENAI_BASE_URL and OPENAI_API_KEY with --openai-env)
    Exec(ExecArgs),
}

/// The ChatGPT backend, where agent-signed requests go unless `--upstream` says otherwise.
pub(crate) const DEFAULT_UPSTREAM: &str = "https://chatgpt.com/backend-api";

/// Arguments of `proxy`.
#[derive(Debug, Args)]
pub(crate) struct ProxyArgs {
    /// The upstream every request goes to (https, or http to a loopback host); its path prefixes
    /// request paths
    #[arg(long, env = "AGENT_IDENTITY_UPSTREAM", value_name = "URL")]
    pub(crate) upstream: String,

    /// Where to listen: a TCP address (clients must send the client token) or unix:PATH (a 0600
    /// socket, no token)
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR|unix:PATH")]
    pub(crate) listen: String,

    /// Read the client token from this file instead of writing a fresh one to proxy.token in the
    /// home
    #[arg(long, value_name = "FILE")]
    pub(crate) client_token_file: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,
}

/// Arguments of `exec`.
#[derive(Debug, Args)]
pub(crate) struct ExecArgs {
    /// The upstream every request goes to
    #[arg(long, env = "AGENT_IDENTITY_UPSTREAM", default_value = DEFAULT_UPSTREAM, value_name = "URL")]
    pub(crate) upstream: String,

    /// Also set OPENAI_BASE_URL to the proxy and OPENAI_API_KEY to its client token
    #[arg(long)]
    pub(crate) openai_env: bool,

    #[command(flatten)]
    pub(crate) limits: LimitArgs,

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

    /// The most bytes of request line and headers (at least 8192)
    #[arg(long, default_value_t = 65_536, value_name = "BYTES")]
    pub(crate) max_header_bytes: usize,

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
}

/// Arguments of `header`.
#[derive(Debug, Args)]
pub(crate) struct HeaderArgs {
    /// How to print the headers: `value` (the Authorization value alone), `json`, `curl` (-H
    /// arguments for every header), `http` (header lines) or `env` (shell variable assignments)
    #[arg(long, value_enum, default_value_t = HeaderFormat::Value, value_name = "FORMAT")]
    pub(crate) format: HeaderFormat,
}

/// The forms `header` prints.
/// The durable credential store of `--store`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum StoreKind {
    /// `auth.json` in the home.
    File,
    /// The OS keyring.
    Keyring,
}

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
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR", value_parser = socket_address)]
    pub(crate) listen: SocketAddr,
}

/// `IP:PORT`, or `HOST:PORT` resolved (for `localhost`, the first address, IPv4 first).
fn socket_address(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let mut addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|_| format!("expected IP:PORT or HOST:PORT, found {text:?}"))?
        .collect();
    addrs.sort_by_key(|addr| !addr.is_ipv4());
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// Where `verify` and `login` read the token from.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// A file holding the JWT, or - for stdin [default: the --jwt value]
    #[arg(long, value_name = "FILE|-")]
    pub(crate) jwt_file: Option<PathBuf>,
}

#[cfg(test)]
mod tests;
