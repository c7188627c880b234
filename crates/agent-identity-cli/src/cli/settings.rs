//! Settling the parsed command line into one [`Settings`]: each value from the command's flag,
//! else the same flag written before the command, else its variable, else its default, with
//! where it came from; and the checks that span flags (a key set file and URL together).

use std::path::PathBuf;

use clap::ArgMatches;
use clap::parser::ValueSource;

use super::{
    AlgorithmList, AuthApiArgs, BeforeCommand, DEFAULT_LEEWAY_SECS, LeewayArgs, StoreArgs,
    StoreKind, TaskArgs, VerificationArgs,
};

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
    /// A message naming a flag written before the command that the command does not use, or
    /// `--jwks-file` given with `--jwks-url`.
    pub(super) fn settle(
        before: &BeforeCommand,
        uses: Uses<'_>,
        sub: &ArgMatches,
    ) -> Result<Self, String> {
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
