//! Where each setting of an [`AuthManagerBuilder`] came from: the builder's own answer, for a
//! diagnosis (`agent-identity doctor`) that must not read the environment a second time.

use agent_identity_jwt::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, PRODUCTION_JWKS_URL, SigningAlgorithm};
use agent_identity_task::{AUTHAPI_BASE_URL_ENV_VARS, PRODUCTION_AUTHAPI_BASE_URL};

use super::{AuthManagerBuilder, KeySet};
use crate::env::{
    ALGORITHMS_ENV_VAR, AUDIENCE_ENV_VAR, HOME_ENV_VAR, ISSUER_ENV_VAR, JWKS_BASE_URL_ENV_VAR,
    JWKS_FILE_ENV_VAR, JWKS_URL_ENV_VAR, JWT_ENV_VAR, JWT_ENV_VAR_COMPAT, STORE_ENV_VAR,
    TOKEN_FILE_ENV_VAR,
};

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SettingSource {
    /// Set on the builder (by a program, or a CLI from its flags).
    Builder,
    /// Read from this environment variable (only with
    /// [`from_env_lookup`](AuthManagerBuilder::from_env_lookup)).
    Variable(&'static str),
    /// The documented default: no setting and no variable.
    Default,
}

/// One setting as the builder resolves it: its name, its value, and where that came from.
///
/// Never a secret: the token override's value is not kept, only where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    name: &'static str,
    value: Option<String>,
    source: SettingSource,
}

impl Setting {
    /// The setting's name: `home`, `store`, `key set`, `authapi base url`, `issuer`,
    /// `audience`, `token file` or `token`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Its value as text (a key set file as `file PATH`); `None` when it has none (no token
    /// file, no home directory) and always for the token, a secret.
    pub fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }

    /// Where the value came from. For the token, whether an override is set at all: `Default`
    /// means none is.
    pub fn source(&self) -> SettingSource {
        self.source
    }
}

impl AuthManagerBuilder {
    /// Every setting with its resolved value and where it came from, in the order of the
    /// [`from_env_lookup`](Self::from_env_lookup) table. Reads the lookup the builder was made
    /// with, never the process environment on its own. Validates nothing: the `build_…` methods
    /// report a bad value.
    pub fn provenance(&self) -> Vec<Setting> {
        let read = |name: &'static str| {
            self.env
                .as_ref()
                .and_then(|lookup| lookup(name))
                .map(|value| value.trim().to_owned())
                .filter(|value| !value.is_empty())
        };
        // A value the builder holds came from `variable` when it is what the variable says
        // (`from_env_lookup` copies it in), else from a setter.
        let held = |value: &str, variable: &'static str| {
            if read(variable).as_deref() == Some(value.trim()) {
                SettingSource::Variable(variable)
            } else {
                SettingSource::Builder
            }
        };
        // A value resolved when built: the setter's, else the first variable set, else none.
        let resolved = |set: Option<String>, variables: &[&'static str]| match set {
            Some(value) => (Some(value), SettingSource::Builder),
            None => variables
                .iter()
                .find_map(|name| {
                    read(name).map(|value| (Some(value), SettingSource::Variable(name)))
                })
                .unwrap_or((None, SettingSource::Default)),
        };
        let setting = |name, (value, source): (Option<String>, SettingSource)| Setting {
            name,
            value,
            source,
        };

        let mut settings = Vec::new();
        let home = self.home.as_ref().map(|home| home.display().to_string());
        let (home, home_source) = resolved(home, &[HOME_ENV_VAR]);
        let home = home.or_else(|| {
            let store = self.build_file_store().ok()?;
            Some(store.path().parent()?.display().to_string())
        });
        settings.push(setting("home", (home, home_source)));

        #[cfg(feature = "keyring")]
        let chosen = self
            .keyring
            .map(|keyring| if keyring { "keyring" } else { "file" }.to_owned());
        #[cfg(not(feature = "keyring"))]
        let chosen = None;
        let (store, store_source) = resolved(chosen, &[STORE_ENV_VAR]);
        settings.push(setting(
            "store",
            (
                Some(store.unwrap_or_else(|| "file".to_owned())),
                store_source,
            ),
        ));

        let key_set = match &self.key_set {
            KeySet::Production => (Some(PRODUCTION_JWKS_URL.to_owned()), SettingSource::Default),
            KeySet::Url { text, setting, .. } => (
                Some(text.trim().to_owned()),
                if *setting == JWKS_URL_ENV_VAR || *setting == JWKS_BASE_URL_ENV_VAR {
                    SettingSource::Variable(setting)
                } else {
                    SettingSource::Builder
                },
            ),
            KeySet::File(path) => {
                let text = path.display().to_string();
                let source = held(&text, JWKS_FILE_ENV_VAR);
                (Some(format!("file {text}")), source)
            }
        };
        settings.push(setting("key set", key_set));

        let (authapi, authapi_source) =
            resolved(self.authapi_base_url.clone(), &AUTHAPI_BASE_URL_ENV_VARS);
        settings.push(setting(
            "authapi base url",
            (
                Some(authapi.unwrap_or_else(|| PRODUCTION_AUTHAPI_BASE_URL.to_owned())),
                authapi_source,
            ),
        ));

        for (name, value, variable, default) in [
            ("issuer", &self.issuer, ISSUER_ENV_VAR, DEFAULT_ISSUER),
            (
                "audience",
                &self.audience,
                AUDIENCE_ENV_VAR,
                DEFAULT_AUDIENCE,
            ),
        ] {
            let pair = match value {
                Some(value) => (Some(value.trim().to_owned()), held(value, variable)),
                None => (Some(default.to_owned()), SettingSource::Default),
            };
            settings.push(setting(name, pair));
        }

        let algorithms = match &self.algorithms_variable {
            Some(text) => (
                Some(text.trim().to_owned()),
                SettingSource::Variable(ALGORITHMS_ENV_VAR),
            ),
            None => {
                let names: Vec<&str> = self.algorithms.iter().map(|a| a.as_str()).collect();
                let source = if self.algorithms == [SigningAlgorithm::Rs256] {
                    SettingSource::Default
                } else {
                    SettingSource::Builder
                };
                (Some(names.join(",")), source)
            }
        };
        settings.push(setting("algorithms", algorithms));

        let token_file = self
            .token_file
            .as_ref()
            .map(|path| path.display().to_string());
        settings.push(setting(
            "token file",
            resolved(token_file, &[TOKEN_FILE_ENV_VAR]),
        ));

        let (_, token_source) = resolved(self.token.clone(), &[JWT_ENV_VAR, JWT_ENV_VAR_COMPAT]);
        settings.push(setting("token", (None, token_source)));
        settings
    }
}

#[cfg(test)]
mod tests;
