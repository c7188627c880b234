//! The command line, as clap derive types: the output flags every command takes, one variant per
//! command, and the configuration groups (store, verification, AuthAPI, token, task) each command
//! flattens for the flags it uses, their variables read by clap. [`Cli::parse_from_iter`] settles
//! them into one [`Settings`].

use std::net::SocketAddr;
use std::path::PathBuf;

use agent_identity_jwt::SigningAlgorithm;
use agent_identity_manager::ALGORITHMS_ENV_VAR;
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{
    ArgAction, ArgMatches, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand,
};

mod help;

/// The largest `--leeway`: one day. Larger values only overflow time arithmetic.
pub(crate) const MAX_LEEWAY_SECS: u64 = 86_400;
/// The default `--leeway`, in seconds.
const DEFAULT_LEEWAY_SECS: u16 = 60;

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

    #[command(flatten)]
    before: BeforeCommand,

    #[command(subcommand)]
    command: Command,
}

/// The parsed command line: output flags, the command, and its configuration settled from the
/// flags (after or before the command name), the variables and the defaults.
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
    /// clap's error for a usage error, `--help` or `--version`, and a usage error for a
    /// configuration flag written before a command that does not use it.
    pub(crate) fn parse_from_iter(
        args: impl IntoIterator<Item = impl Into<std::ffi::OsString> + Clone>,
    ) -> Result<Self, clap::Error> {
        let mut command = Line::command();
        let matches = command.try_get_matches_from_mut(args)?;
        let line = Line::from_arg_matches_mut(&mut matches.clone())
            .map_err(|error| error.format(&mut command))?;
        let (name, sub) = matches
            .subcommand()
            .ok_or_else(|| command.error(ErrorKind::MissingSubcommand, "no command given"))?;
        let settings =
            Settings::settle(&line.before, line.command.uses(), sub).map_err(|message| {
                command.error(
                    ErrorKind::ArgumentConflict,
                    message.replace("this command", &format!("`{name}`")),
                )
            })?;
        Ok(Self {
            json: line.output.json,
            verbose: line.output.verbose,
            command: line.command,
            settings,
        })
    }
}

/// Flags every command accepts, before or after the command name.
#[derive(Args)]
struct OutputFlags {
    /// Machine-readable output: JSON objects on stdout, one per line
    #[arg(long, global = true)]
    json: bool,

    /// Log to stderr: -v info (retries, reloads), -vv debug, -vvv trace (no logs by default)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    verbose: u8,
}

/// Configuration flags written before the command name (`agent-identity --home DIR status`), as
/// earlier versions took every flag: still accepted, hidden from help, and a usage error when the
/// command does not use the flag. Their variables are read by the command's own flags.
// Not `Debug`: it holds the `--jwt` secret.
#[derive(Args)]
struct BeforeCommand {
    #[arg(long, hide = true, value_name = "DIR")]
    home: Option<PathBuf>,
    #[arg(long, hide = true, value_enum, value_name = "STORE")]
    store: Option<StoreKind>,
    #[arg(long, hide = true, value_name = "URL")]
    jwks_url: Option<String>,
    #[arg(long, hide = true, value_name = "FILE")]
    jwks_file: Option<PathBuf>,
    #[arg(long, hide = true, value_name = "URL")]
    authapi_base_url: Option<String>,
    #[arg(long, hide = true, value_name = "ISSUER")]
    issuer: Option<String>,
    #[arg(long, hide = true, value_name = "AUDIENCE")]
    audience: Option<String>,
    #[arg(long, hide = true, value_name = "LIST", value_parser = algorithm_list)]
    algorithms: Option<AlgorithmList>,
    #[arg(long, hide = true, value_name = "JWT")]
    jwt: Option<String>,
    #[arg(
        long,
        hide = true,
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(0..=MAX_LEEWAY_SECS)
    )]
    leeway: Option<u64>,
    #[arg(long, hide = true, value_name = "N")]
    max_attempts: Option<u32>,
    #[arg(long, hide = true)]
    fresh_task: bool,
}

/// The configuration a command runs with, each value settled from, in order: its flag after
/// the command name, the same flag before it, its variable, its default. Not `Debug`: it holds
/// the `--jwt` secret.
#[derive(Default)]
pub(crate) struct Settings {
    pub(crate) home: Option<PathBuf>,
    pub(crate) store: StoreKind,
    pub(crate) jwks_url: Option<String>,
    pub(crate) jwks_file: Option<PathBuf>,
    pub(crate) authapi_base_url: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    /// `--algorithms` or `AGENT_IDENTITY_ALGORITHMS`; `None` keeps the library's default, RS256.
    pub(crate) algorithms: Option<AlgorithmList>,
    /// `--jwt` or `AGENT_IDENTITY_JWT`.
    pub(crate) jwt: Option<String>,
    /// Whether `jwt` came from `--jwt` rather than `AGENT_IDENTITY_JWT`: `login` stores a token
    /// given explicitly, never the variable's.
    pub(crate) jwt_from_command_line: bool,
    /// The token file of `header`, `status`, `doctor`, `proxy` and `exec`: `--jwt-file` or
    /// `AGENT_IDENTITY_JWT_FILE`.
    pub(crate) token_file: Option<PathBuf>,
    /// Whether `token_file` came from `--jwt-file`: the flag then wins over the token variables.
    pub(crate) token_file_from_command_line: bool,
    pub(crate) leeway: u64,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) fresh_task: bool,
    /// Where each configuration value came from (`flag`, `variable`, `default`), by argument id.
    pub(crate) sources: Vec<(&'static str, &'static str)>,
}

/// The configuration groups a command takes (`None`: it takes none of that group's flags).
#[derive(Default)]
pub(crate) struct Uses<'a> {
    store: Option<&'a StoreArgs>,
    verification: Option<&'a VerificationArgs>,
    leeway: Option<&'a LeewayArgs>,
    authapi: Option<&'a AuthApiArgs>,
    /// `--jwt`: the identity's override, or the token `verify` and `login` take.
    jwt: Option<&'a Option<String>>,
    token_file: Option<&'a Option<PathBuf>>,
    task: Option<&'a TaskArgs>,
}

impl Settings {
    /// Settles each setting the command uses; `sub` is the command's own matches.
    ///
    /// # Errors
    /// A message naming a flag written before the command that the command does not use, or
    /// `--jwks-file` given with `--jwks-url`.
    fn settle(before: &BeforeCommand, uses: Uses<'_>, sub: &ArgMatches) -> Result<Self, String> {
        let mut settings = Settings {
            leeway: u64::from(DEFAULT_LEEWAY_SECS),
            ..Settings::default()
        };
        let mut picker = Picker {
            sub,
            sources: Vec::new(),
        };
        let verification = uses.verification;
        settings.home = picker.pick("home", "--home", uses.store.map(|g| &g.home), &before.home)?;
        settings.store = picker
            .pick(
                "store",
                "--store",
                uses.store.map(|g| &g.store),
                &before.store,
            )?
            .unwrap_or_default();
        settings.jwks_url = picker.pick(
            "jwks_url",
            "--jwks-url",
            verification.map(|g| &g.jwks_url),
            &before.jwks_url,
        )?;
        settings.jwks_file = picker.pick(
            "jwks_file",
            "--jwks-file",
            verification.map(|g| &g.jwks_file),
            &before.jwks_file,
        )?;
        settings.issuer = picker.pick(
            "issuer",
            "--issuer",
            verification.map(|g| &g.issuer),
            &before.issuer,
        )?;
        settings.audience = picker.pick(
            "audience",
            "--audience",
            verification.map(|g| &g.audience),
            &before.audience,
        )?;
        settings.algorithms = picker.pick(
            "algorithms",
            "--algorithms",
            verification.map(|g| &g.algorithms),
            &before.algorithms,
        )?;
        let leeway = uses
            .leeway
            .or(verification.map(|g| &g.leeway))
            .map(|g| Some(g.leeway));
        settings.leeway = picker
            .pick("leeway", "--leeway", leeway.as_ref(), &before.leeway)?
            .unwrap_or(settings.leeway);
        settings.authapi_base_url = picker.pick(
            "authapi_base_url",
            "--authapi-base-url",
            uses.authapi.map(|g| &g.authapi_base_url),
            &before.authapi_base_url,
        )?;
        settings.jwt = picker.pick("jwt", "--jwt", uses.jwt, &before.jwt)?;
        settings.jwt_from_command_line = picker.given_as_flag("jwt");
        settings.token_file = picker.pick("token_file", "--jwt-file", uses.token_file, &None)?;
        settings.token_file_from_command_line = picker.given_as_flag("token_file");
        settings.max_attempts = picker.pick(
            "max_attempts",
            "--max-attempts",
            uses.task.map(|g| &g.max_attempts),
            &before.max_attempts,
        )?;
        settings.fresh_task = match uses.task {
            Some(task) => task.fresh_task || before.fresh_task,
            None if before.fresh_task => return Err(not_used("--fresh-task")),
            None => false,
        };

        let file_flag = picker.given_as_flag("jwks_file");
        let url_flag = picker.given_as_flag("jwks_url");
        if file_flag && url_flag {
            return Err(
                "the argument '--jwks-file <FILE>' cannot be used with '--jwks-url <URL>'"
                    .to_owned(),
            );
        }
        if url_flag {
            // The flag beats the variable of the other kind too.
            settings.jwks_file = None;
        }
        if settings.token_file_from_command_line && !settings.jwt_from_command_line {
            // `--jwt-file` beats `AGENT_IDENTITY_JWT`, as a flag beats any variable.
            settings.jwt = None;
            picker.sources.retain(|(id, _)| *id != "jwt");
        }
        settings.sources = picker.sources;
        Ok(settings)
    }
}

/// Picks each setting's value and records where it came from.
struct Picker<'a> {
    sub: &'a ArgMatches,
    sources: Vec<(&'static str, &'static str)>,
}

impl Picker<'_> {
    /// The command's own flag, else the same flag before the command, else the command's value
    /// from its variable or default. A flag before a command that does not take it is an error.
    fn pick<T: Clone>(
        &mut self,
        id: &'static str,
        flag: &str,
        used: Option<&Option<T>>,
        before: &Option<T>,
    ) -> Result<Option<T>, String> {
        let Some(used) = used else {
            return match before {
                Some(_) => Err(not_used(flag)),
                None => Ok(None),
            };
        };
        let source = self.sub.value_source(id);
        let (value, source) = match (source, before) {
            (Some(ValueSource::CommandLine), _) => (used.clone(), "flag"),
            (_, Some(value)) => (Some(value.clone()), "flag"),
            (Some(ValueSource::EnvVariable), None) => (used.clone(), "variable"),
            (Some(ValueSource::DefaultValue), None) => (used.clone(), "default"),
            (_, None) => (used.clone(), "other"),
        };
        if value.is_some() {
            self.sources.push((id, source));
        }
        Ok(value)
    }

    fn given_as_flag(&self, id: &str) -> bool {
        self.sources.contains(&(id, "flag"))
    }
}

fn not_used(flag: &str) -> String {
    format!("{flag} is not used by this command")
}

/// Where the identity's token comes from: `header`, `status`, `doctor`, `proxy` and `exec`.
// Not `Debug`: it holds the `--jwt` secret.
#[derive(Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct IdentityArgs {
    /// The agent identity JWT itself, overriding every other source (see --jwt-file). A secret:
    /// prefer the variable or --jwt-file to a flag other users can see
    #[arg(
        long,
        env = "AGENT_IDENTITY_JWT",
        hide_env_values = true,
        value_name = "JWT"
    )]
    jwt: Option<String>,

    /// A token file another program writes and rotates (a mounted secret), read instead of
    /// auth.json and re-read when it changes. The token comes from --jwt, else --jwt-file, else
    /// AGENT_IDENTITY_JWT (then CODEX_ACCESS_TOKEN), else AGENT_IDENTITY_JWT_FILE, else auth.json
    #[arg(
        id = "token_file",
        long = "jwt-file",
        env = "AGENT_IDENTITY_JWT_FILE",
        value_name = "FILE"
    )]
    token_file: Option<PathBuf>,
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
        env = "AGENT_IDENTITY_JWT",
        hide_env_values = true,
        value_name = "JWT"
    )]
    jwt: Option<String>,
}

/// The home, and where the credentials are stored.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct StoreArgs {
    /// The directory holding auth.json and the runtime cache [default: ~/.agent-identity]
    #[arg(long, env = "AGENT_IDENTITY_HOME", value_name = "DIR")]
    home: Option<PathBuf>,

    /// Where credentials are stored: file (auth.json in the home) or keyring (the OS keyring, in
    /// the entry Codex uses for the home; never a file) [default: file]
    #[arg(
        long,
        env = "AGENT_IDENTITY_STORE",
        value_enum,
        hide_possible_values = true,
        value_name = "STORE"
    )]
    store: Option<StoreKind>,
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
    #[arg(long, env = "AGENT_IDENTITY_JWKS_URL", value_name = "URL")]
    jwks_url: Option<String>,

    /// A JWK Set file, for machines that cannot reach the JWKS endpoint (instead of --jwks-url; of
    /// the two variables, this one wins), at most 1 MiB
    #[arg(long, env = "AGENT_IDENTITY_JWKS_FILE", value_name = "FILE")]
    jwks_file: Option<PathBuf>,

    /// The expected token issuer [default: https://chatgpt.com/codex-backend/agent-identity]
    #[arg(long, env = "AGENT_IDENTITY_ISSUER", value_name = "ISSUER")]
    issuer: Option<String>,

    /// The expected token audience [default: codex-app-server]
    #[arg(long, env = "AGENT_IDENTITY_AUDIENCE", value_name = "AUDIENCE")]
    audience: Option<String>,

    /// The accepted token signature algorithms, comma-separated (`RS256,EdDSA`) [default: RS256,
    /// what ChatGPT and the emulator sign with]
    #[arg(long, env = ALGORITHMS_ENV_VAR, value_name = "LIST", value_parser = algorithm_list)]
    algorithms: Option<AlgorithmList>,

    #[command(flatten)]
    leeway: LeewayArgs,
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
    leeway: u64,
}

/// The AuthAPI, where tasks are registered.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct AuthApiArgs {
    /// The AuthAPI base URL (also read: CODEX_AUTHAPI_BASE_URL, CODEX_AGENT_IDENTITY_AUTHAPI_BASE_URL)
    /// [default: https://auth.openai.com/api/accounts]
    #[arg(long, env = "AGENT_IDENTITY_AUTHAPI_BASE_URL", value_name = "URL")]
    authapi_base_url: Option<String>,
}

/// Task registration: the commands that may register one.
#[derive(Debug, Args)]
#[command(next_help_heading = "Configuration")]
pub(crate) struct TaskArgs {
    /// Register a task of this process's own instead of reusing the one cached in the home
    #[arg(long)]
    fresh_task: bool,

    /// Task registration attempts (the first and its retries)
    #[arg(long, hide = true, value_name = "N")]
    max_attempts: Option<u32>,
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
    /// AGENT_IDENTITY_PROXY_TOKEN (and OPENAI_BASE_URL and OPENAI_API_KEY with --openai-env)
    #[command(after_help = help::EXEC)]
    Exec(ExecArgs),
}

impl Command {
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

    #[command(flatten)]
    loads: LoadArgs,
}

/// Arguments of `exec`.
#[derive(Args)]
pub(crate) struct ExecArgs {
    /// The upstream every request goes to
    #[arg(long, env = "AGENT_IDENTITY_UPSTREAM", default_value = DEFAULT_UPSTREAM, value_name = "URL")]
    pub(crate) upstream: String,

    /// Also set OPENAI_BASE_URL to the proxy and OPENAI_API_KEY to its client token
    #[arg(long)]
    pub(crate) openai_env: bool,

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
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR", value_parser = socket_address)]
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

/// The accepted algorithms of `--algorithms`, parsed by the library's one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AlgorithmList(pub(crate) Vec<SigningAlgorithm>);

fn algorithm_list(text: &str) -> Result<AlgorithmList, String> {
    agent_identity_manager::parse_algorithms(text).map(AlgorithmList)
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
