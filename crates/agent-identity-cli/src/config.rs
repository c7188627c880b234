//! Turns the configuration flags into the library's pieces, through the manager's setup builder
//! (`AuthManagerBuilder`), which owns the settings' names, defaults and checks: the verifier and
//! its key source, the AuthAPI client, the credential store, and the token a command was given.

use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use agent_identity_jwt::{IdentityJwt, MAX_TOKEN_BYTES, Verifier};
use agent_identity_manager::JWKS_URL_ENV_VAR;
use agent_identity_manager::{
    AuthError, AuthManagerBuilder, CredentialStore, FileStore, JWT_ENV_VAR, JWT_ENV_VAR_COMPAT,
    TaskReuse,
};
use agent_identity_task::{TaskClient, TaskErrorKind};

use crate::cli::{Settings, StoreKind, TokenArgs};
use crate::error::{Exit, Failure, chain};
use crate::explain;

/// A token file larger than this is not read whole: the verifier refuses anything over
/// `MAX_TOKEN_BYTES` anyway, and a few more bytes allow for surrounding whitespace.
const MAX_TOKEN_FILE_BYTES: u64 = MAX_TOKEN_BYTES as u64 + 1024;

/// The settled settings, fed into the setup builder. Not `Debug`: the settings hold the `--jwt`
/// secret.
pub(crate) struct Config<'a> {
    global: &'a Settings,
    builder: AuthManagerBuilder,
}

impl<'a> Config<'a> {
    /// The builder starts from the process environment (the variables without a flag, such as
    /// `CODEX_AUTHAPI_BASE_URL` and `CODEX_ACCESS_TOKEN`), and each flag is set over it. clap has
    /// already read each flag's own variable, and [`Cli::parse_from_iter`] settled which key set
    /// source applies, so setting them here keeps "a flag wins over any variable".
    ///
    /// [`Cli::parse_from_iter`]: crate::cli::Cli::parse_from_iter
    ///
    /// The token comes from `--jwt`, else `--jwt-file`, else `AGENT_IDENTITY_JWT` (then
    /// `CODEX_ACCESS_TOKEN`), else `AGENT_IDENTITY_JWT_FILE`, else the store: with `--jwt-file`
    /// on the command line the token variables are not read, since a flag wins over any variable.
    pub(crate) fn new(global: &'a Settings) -> Self {
        let hide_token_variables = global.token_file_from_command_line;
        let mut builder = AuthManagerBuilder::from_env_lookup(move |name| {
            if hide_token_variables && [JWT_ENV_VAR, JWT_ENV_VAR_COMPAT].contains(&name) {
                return None;
            }
            std::env::var(name).ok()
        })
        // `--store` (or `AGENT_IDENTITY_STORE`, which clap read for it) is settled already.
        .keyring(global.store == StoreKind::Keyring)
        .leeway(Duration::from_secs(global.leeway))
        .task_reuse(if global.fresh_task {
            TaskReuse::PerProcess
        } else {
            TaskReuse::default()
        });
        match (&global.jwks_file, &global.jwks_url) {
            (Some(file), _) => builder = builder.jwks_file(file),
            (None, Some(url)) => builder = builder.jwks_url(url),
            (None, None) => {}
        }
        if let Some(home) = &global.home {
            builder = builder.home(home);
        }
        if let Some(url) = &global.authapi_base_url {
            builder = builder.authapi_base_url(url);
        }
        if let Some(issuer) = &global.issuer {
            builder = builder.issuer(issuer);
        }
        if let Some(audience) = &global.audience {
            builder = builder.audience(audience);
        }
        // Without the flag or its variable, the library's default (RS256), as `from_env`.
        if let Some(list) = &global.algorithms {
            builder = builder.algorithms(list.0.iter().copied());
        }
        if let Some(jwt) = &global.jwt {
            builder = builder.token(jwt);
        }
        if let Some(file) = &global.token_file {
            builder = builder.token_file(file);
        }
        if let Some(attempts) = global.max_attempts {
            builder = builder.max_registration_attempts(attempts);
        }
        Self { global, builder }
    }

    /// The settled settings.
    pub(crate) fn global(&self) -> &Settings {
        self.global
    }

    /// The clock leeway of `--leeway`.
    pub(crate) fn leeway(&self) -> Duration {
        Duration::from_secs(self.global.leeway)
    }

    /// A verifier for the accepted algorithms (RS256 unless `--algorithms` says otherwise), with
    /// the configured issuer, audience and leeway, and
    /// keys from `--jwks-file`, else `--jwks-url`, else production.
    ///
    /// # Errors
    /// A usage failure for an unusable JWKS URL; the key set's error for a JWKS file that cannot
    /// be read or parsed.
    pub(crate) fn verifier(&self) -> Result<Verifier, Failure> {
        self.builder.build_verifier().map_err(|error| match error {
            AuthError::Token(error) => Failure::from(error),
            AuthError::Config { reason, .. } if self.global.jwks_url.is_some() => {
                // Name the value and where it came from: the flag or the variable.
                let url = self.global.jwks_url.as_deref().unwrap_or_default();
                let from = explain::origin(self.global, "jwks_url", "--jwks-url", JWKS_URL_ENV_VAR)
                    .unwrap_or_else(|| "--jwks-url".to_owned());
                Failure::usage(format!(
                    "invalid jwks url {:?} from {from}: {reason}; {}",
                    explain::shown_url(url),
                    explain::url_advice(&reason)
                ))
            }
            other => Failure::from(other),
        })
    }

    /// One task per home, unless `--fresh-task` asks for one of this process's own.
    pub(crate) fn task_reuse(&self) -> TaskReuse {
        if self.global.fresh_task {
            TaskReuse::PerProcess
        } else {
            TaskReuse::default()
        }
    }

    /// The AuthAPI client: the base URL resolved per wire-format §4 (`--authapi-base-url`, then the
    /// environment, then production), with the task crate's defaults for timeouts and retries.
    ///
    /// # Errors
    /// A usage failure when the base URL is not acceptable.
    pub(crate) fn task_client(&self) -> Result<TaskClient, Failure> {
        self.builder
            .build_task_client()
            .map_err(|error| match &error {
                AuthError::Task(task) if task.kind() == TaskErrorKind::Config => {
                    let Some((from, url)) = explain::authapi_origin(self.global) else {
                        return Failure::from(error);
                    };
                    // The reason alone: a variable's name may prefix it.
                    let reason = task.detail().unwrap_or_default();
                    let reason = reason
                        .strip_prefix(&format!("{from}: "))
                        .unwrap_or(reason)
                        .to_owned();
                    Failure::new(
                        "config",
                        format!(
                            "invalid authapi base url {:?} from {from}: {reason}; {}",
                            explain::shown_url(&url),
                            explain::url_advice(&reason)
                        ),
                        Exit::Usage,
                    )
                }
                _ => Failure::from(error),
            })
    }

    /// `auth.json` in `--home`, else `$AGENT_IDENTITY_HOME`, else `~/.agent-identity`.
    ///
    /// # Errors
    /// A usage failure when no home directory can be found.
    pub(crate) fn file_store(&self) -> Result<FileStore, Failure> {
        self.builder.build_file_store().map_err(no_home)
    }

    /// The durable store `--store` names, without any token override: `auth.json` in the home,
    /// or the OS keyring entry for the home. What `login` writes and `logout` clears.
    ///
    /// # Errors
    /// As [`Config::file_store`].
    pub(crate) fn durable_store(&self) -> Result<Arc<dyn CredentialStore>, Failure> {
        self.builder.build_durable_store().map_err(no_home)
    }

    /// The store commands read credentials from: `--jwt` (or `AGENT_IDENTITY_JWT`, else Codex's
    /// `CODEX_ACCESS_TOKEN`) when set, read-only, over the file store.
    ///
    /// # Errors
    /// As [`Config::file_store`].
    pub(crate) fn store(&self) -> Result<Arc<dyn CredentialStore>, Failure> {
        self.builder.build_store().map_err(no_home)
    }

    /// The token of `verify`: from `--jwt-file` (`-` for stdin), else `--jwt` or its variable.
    ///
    /// # Errors
    /// A failure naming the file when it cannot be read, and a usage failure when no token was given.
    pub(crate) fn token(&self, args: &TokenArgs) -> Result<IdentityJwt, Failure> {
        match &args.jwt_file {
            Some(path) => read_token_file(path),
            None => match non_empty(self.global.jwt.as_deref()) {
                Some(token) => Ok(IdentityJwt::new(token)),
                None => Err(Failure::usage(
                    "no token given: pass --jwt-file FILE (or - for stdin), or set AGENT_IDENTITY_JWT",
                )),
            },
        }
    }

    /// The token `login` stores: from `--jwt-file` (`-` for stdin), else `--jwt`, and never from
    /// `AGENT_IDENTITY_JWT`, which the README promises is never written to disk.
    ///
    /// # Errors
    /// A failure naming the file when it cannot be read; a usage failure when no token was given,
    /// saying so when the variable is set.
    pub(crate) fn login_token(&self, args: &TokenArgs) -> Result<IdentityJwt, Failure> {
        if let Some(path) = &args.jwt_file {
            return read_token_file(path);
        }
        let jwt = non_empty(self.global.jwt.as_deref());
        match jwt {
            Some(token) if self.global.jwt_from_command_line => Ok(IdentityJwt::new(token)),
            Some(_) => Err(Failure::usage(format!(
                "login stores only a token given with --jwt-file FILE (or - for stdin) or --jwt; \
                 {JWT_ENV_VAR} is never written to disk (while it is set, it overrides the stored \
                 credentials)"
            ))),
            None => Err(Failure::usage(
                "no token given: pass --jwt-file FILE (or - for stdin), or --jwt",
            )),
        }
    }

    /// The first variable that overrides the stored credentials and is set, if any: what makes a
    /// freshly stored token unused until it is unset.
    pub(crate) fn overriding_variable(&self) -> Option<&'static str> {
        [JWT_ENV_VAR, JWT_ENV_VAR_COMPAT]
            .into_iter()
            .find(|name| non_empty(std::env::var(name).ok().as_deref()).is_some())
    }
}

/// Reads the token of `--jwt-file`: `-` is stdin.
fn read_token_file(path: &Path) -> Result<IdentityJwt, Failure> {
    if path.as_os_str() == "-" {
        return read_token(std::io::stdin().lock(), "stdin");
    }
    let file = std::fs::File::open(path).map_err(|error| unreadable(path, &error))?;
    read_token(file, &path.display().to_string())
}

fn non_empty(value: Option<&str>) -> Option<&str> {
    value.filter(|value| !value.trim().is_empty())
}

fn unreadable(path: &Path, error: &std::io::Error) -> Failure {
    Failure::new(
        "unreadable_file",
        format!("cannot read {}: {error}", path.display()),
        Exit::Rejected,
    )
}

fn read_token(reader: impl std::io::Read, name: &str) -> Result<IdentityJwt, Failure> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_TOKEN_FILE_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|error| {
            Failure::new(
                "unreadable_file",
                format!("cannot read {name}: {error}"),
                Exit::Rejected,
            )
        })?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Failure::new(
            "malformed",
            format!("malformed token: {name} is not utf-8 text"),
            Exit::Rejected,
        )
    })?;
    Ok(IdentityJwt::new(text))
}

/// No home directory could be found: a usage error, saying how to name one.
fn no_home(error: AuthError) -> Failure {
    match error {
        AuthError::Store(error) => Failure::usage(format!(
            "{}; set --home or AGENT_IDENTITY_HOME",
            chain(&error)
        )),
        other => Failure::from(other),
    }
}

#[cfg(test)]
mod tests;
