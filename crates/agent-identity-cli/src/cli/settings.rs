//! Settling the parsed command line into one [`Settings`]: each value from the command's flag,
//! else its variable, else its default, with where it came from; and the checks that span flags
//! (a key set file and URL together).

use std::path::PathBuf;

use clap::ArgMatches;
use clap::parser::ValueSource;

use super::{
    AlgorithmList, AuthApiArgs, DEFAULT_LEEWAY_SECS, LeewayArgs, StoreArgs, StoreKind, TaskArgs,
    VerificationArgs,
};

/// The configuration a command runs with, each value settled from, in order: its flag, its
/// variable, its default. Not `Debug`: it holds the `--jwt` secret.
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
    pub(super) store: Option<&'a StoreArgs>,
    pub(super) verification: Option<&'a VerificationArgs>,
    pub(super) leeway: Option<&'a LeewayArgs>,
    pub(super) authapi: Option<&'a AuthApiArgs>,
    /// `--jwt`: the identity's override, or the token `verify` and `login` take.
    pub(super) jwt: Option<&'a Option<String>>,
    pub(super) token_file: Option<&'a Option<PathBuf>>,
    pub(super) task: Option<&'a TaskArgs>,
}

impl Settings {
    /// Settles each setting the command uses; `sub` is the command's own matches.
    ///
    /// # Errors
    /// A message for `--jwks-file` given with `--jwks-url`.
    pub(super) fn settle(uses: Uses<'_>, sub: &ArgMatches) -> Result<Self, String> {
        let mut picker = Picker {
            sub,
            sources: Vec::new(),
        };
        let verification = uses.verification;
        let leeway = uses
            .leeway
            .or(verification.map(|g| &g.leeway))
            .map(|g| Some(g.leeway));
        let mut settings = Settings {
            home: picker.pick("home", uses.store.map(|g| &g.home)),
            store: picker
                .pick("store", uses.store.map(|g| &g.store))
                .unwrap_or_default(),
            jwks_url: picker.pick("jwks_url", verification.map(|g| &g.jwks_url)),
            jwks_file: picker.pick("jwks_file", verification.map(|g| &g.jwks_file)),
            issuer: picker.pick("issuer", verification.map(|g| &g.issuer)),
            audience: picker.pick("audience", verification.map(|g| &g.audience)),
            algorithms: picker.pick("algorithms", verification.map(|g| &g.algorithms)),
            leeway: picker
                .pick("leeway", leeway.as_ref())
                .unwrap_or(u64::from(DEFAULT_LEEWAY_SECS)),
            authapi_base_url: picker.pick(
                "authapi_base_url",
                uses.authapi.map(|g| &g.authapi_base_url),
            ),
            jwt: picker.pick("jwt", uses.jwt),
            jwt_from_command_line: picker.given_as_flag("jwt"),
            token_file: picker.pick("token_file", uses.token_file),
            token_file_from_command_line: picker.given_as_flag("token_file"),
            max_attempts: picker.pick("max_attempts", uses.task.map(|g| &g.max_attempts)),
            fresh_task: uses.task.is_some_and(|task| task.fresh_task),
            sources: Vec::new(),
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

impl Settings {
    /// The token file, when the token is to be read from one (no `--jwt` or token variable
    /// given) and it does not exist: a setting that is wrong, not an outage.
    pub(crate) fn missing_token_file(&self) -> Option<&std::path::Path> {
        let path = self.token_file.as_deref()?;
        let missing = std::fs::metadata(path)
            .is_err_and(|error| error.kind() == std::io::ErrorKind::NotFound);
        (missing && self.jwt.is_none()).then_some(path)
    }
}

/// Picks each setting's value and records where it came from.
struct Picker<'a> {
    sub: &'a ArgMatches,
    sources: Vec<(&'static str, &'static str)>,
}

impl Picker<'_> {
    /// The command's value (from its flag, its variable or its default), recording where it
    /// came from; `None` when the command does not take the setting.
    fn pick<T: Clone>(&mut self, id: &'static str, used: Option<&Option<T>>) -> Option<T> {
        let value = used?.clone();
        let source = match self.sub.value_source(id) {
            Some(ValueSource::CommandLine) => "flag",
            Some(ValueSource::EnvVariable) => "variable",
            Some(ValueSource::DefaultValue) => "default",
            _ => "other",
        };
        if value.is_some() {
            self.sources.push((id, source));
        }
        value
    }

    fn given_as_flag(&self, id: &str) -> bool {
        self.sources.contains(&(id, "flag"))
    }
}
