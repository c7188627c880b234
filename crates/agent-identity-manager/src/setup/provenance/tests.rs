//! The builder's own answer to where each setting came from, through an injected environment.

use std::collections::HashMap;

use super::SettingSource;
use agent_identity_task::AUTHAPI_BASE_URL_ENV_VARS;

use crate::{
    AuthManagerBuilder, ISSUER_ENV_VAR, JWKS_FILE_ENV_VAR, JWKS_URL_ENV_VAR, JWT_ENV_VAR_COMPAT,
    TOKEN_FILE_ENV_VAR,
};

fn env(pairs: &[(&str, &str)]) -> AuthManagerBuilder {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    AuthManagerBuilder::from_env_lookup(move |name| map.get(name).cloned())
}

fn find(builder: &AuthManagerBuilder, name: &str) -> (Option<String>, SettingSource) {
    let setting = builder
        .provenance()
        .into_iter()
        .find(|setting| setting.name() == name)
        .unwrap_or_else(|| panic!("no {name} setting"));
    (setting.value().map(str::to_owned), setting.source())
}

#[test]
fn an_alias_variable_is_named_as_the_source() {
    let builder = env(&[(AUTHAPI_BASE_URL_ENV_VARS[1], "http://127.0.0.1:9/api")]);
    assert_eq!(
        find(&builder, "authapi base url"),
        (
            Some("http://127.0.0.1:9/api".to_owned()),
            SettingSource::Variable(AUTHAPI_BASE_URL_ENV_VARS[1])
        )
    );
}

#[test]
fn a_setter_wins_over_the_variable_and_says_so() {
    let builder = env(&[(ISSUER_ENV_VAR, "https://env.example")]).issuer("https://set");
    assert_eq!(
        find(&builder, "issuer"),
        (Some("https://set".to_owned()), SettingSource::Builder)
    );
    let from_env = env(&[(ISSUER_ENV_VAR, "https://env.example")]);
    assert_eq!(
        find(&from_env, "issuer").1,
        SettingSource::Variable(ISSUER_ENV_VAR)
    );
    assert_eq!(find(&from_env, "audience").1, SettingSource::Default);
}

#[test]
fn the_token_override_is_never_kept_only_where_it_came_from() {
    let builder = env(&[(JWT_ENV_VAR_COMPAT, "SENTINEL.TOKEN.TEXT")]);
    assert_eq!(
        find(&builder, "token"),
        (None, SettingSource::Variable(JWT_ENV_VAR_COMPAT))
    );
    assert!(!format!("{:?}", builder.provenance()).contains("SENTINEL"));
    assert_eq!(find(&env(&[]), "token"), (None, SettingSource::Default));
}

#[test]
fn a_key_set_file_and_a_token_file_name_their_variables() {
    let builder = env(&[
        (JWKS_FILE_ENV_VAR, "/keys.json"),
        (JWKS_URL_ENV_VAR, "https://ignored.example/jwks"),
        (TOKEN_FILE_ENV_VAR, "/run/token"),
    ]);
    assert_eq!(
        find(&builder, "key set"),
        (
            Some("file /keys.json".to_owned()),
            SettingSource::Variable(JWKS_FILE_ENV_VAR)
        )
    );
    assert_eq!(
        find(&builder, "token file"),
        (
            Some("/run/token".to_owned()),
            SettingSource::Variable(TOKEN_FILE_ENV_VAR)
        )
    );
    assert_eq!(
        find(&AuthManagerBuilder::default(), "key set").1,
        SettingSource::Default
    );
}
