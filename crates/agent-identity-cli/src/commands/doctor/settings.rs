//! `doctor`'s settings table: each setting the setup builder resolved, its value (never a
//! token, everything redacted) and where it came from — a flag or a variable the CLI read, a
//! variable the builder read itself (an alias), or the default.

use agent_identity_manager::{
    ALGORITHMS_ENV_VAR, AUDIENCE_ENV_VAR, HOME_ENV_VAR, ISSUER_ENV_VAR, JWKS_FILE_ENV_VAR,
    JWKS_URL_ENV_VAR, JWT_ENV_VAR, STORE_ENV_VAR, SettingSource, TOKEN_FILE_ENV_VAR,
};
use agent_identity_task::AUTHAPI_BASE_URL_ENV_VARS;

use crate::config::Config;
use crate::output::redact;

/// One row: the setting, its shown value, its source.
pub(super) struct Row {
    pub(super) name: &'static str,
    pub(super) value: String,
    pub(super) source: String,
}

/// The CLI's argument id and variable for each of the builder's settings, to say whether a
/// value the CLI set on the builder came from its flag or its variable.
fn cli_argument(name: &str, value: Option<&str>) -> Option<(&'static str, &'static str)> {
    Some(match name {
        "home" => ("home", HOME_ENV_VAR),
        "store" => ("store", STORE_ENV_VAR),
        "key set" if value.is_some_and(|value| value.starts_with("file ")) => {
            ("jwks_file", JWKS_FILE_ENV_VAR)
        }
        "key set" => ("jwks_url", JWKS_URL_ENV_VAR),
        "authapi base url" => ("authapi_base_url", AUTHAPI_BASE_URL_ENV_VARS[0]),
        "issuer" => ("issuer", ISSUER_ENV_VAR),
        "audience" => ("audience", AUDIENCE_ENV_VAR),
        "algorithms" => ("algorithms", ALGORITHMS_ENV_VAR),
        "token file" => ("token_file", TOKEN_FILE_ENV_VAR),
        "token" => ("jwt", JWT_ENV_VAR),
        _ => return None,
    })
}

/// Every setting, in the builder's order, then the CLI's own leeway.
pub(super) fn rows(config: &Config<'_>) -> Vec<Row> {
    let settings = config.global();
    let cli_source = |id: &str| {
        settings
            .sources
            .iter()
            .find(|(name, _)| *name == id)
            .map(|(_, source)| *source)
    };
    let provenance = config.provenance();
    let token_file = provenance
        .iter()
        .any(|setting| setting.name() == "token file" && setting.value().is_some());
    let mut rows: Vec<Row> = provenance
        .into_iter()
        .map(|setting| {
            let argument = cli_argument(setting.name(), setting.value());
            let source = match setting.source() {
                SettingSource::Variable(name) => format!("variable {name}"),
                SettingSource::Builder => {
                    match argument.and_then(|(id, variable)| Some((cli_source(id)?, variable))) {
                        Some(("flag", _)) => "flag".to_owned(),
                        Some(("variable", variable)) => format!("variable {variable}"),
                        // The CLI sets some settings on the builder always (the store kind).
                        _ => "default".to_owned(),
                    }
                }
                _ => "default".to_owned(),
            };
            let value = match (setting.name(), setting.value()) {
                ("token", _) if source == "default" && token_file => {
                    "(read from the token file)".to_owned()
                }
                ("token", _) if source == "default" => "(read from the store)".to_owned(),
                ("token", _) => "(never shown)".to_owned(),
                (_, Some(value)) => redact(value),
                (_, None) => "(none)".to_owned(),
            };
            Row {
                name: setting.name(),
                value,
                source,
            }
        })
        .collect();
    rows.push(Row {
        name: "leeway",
        value: format!("{} s", settings.leeway),
        source: cli_source("leeway").unwrap_or("default").to_owned(),
    });
    rows
}
