//! Unit tests of the configuration adapter: the CLI's flags and the library's setup read the same
//! variables.

use crate::cli::Cli;

/// Every variable a flag reads is one the library's `from_env` reads too, under the same name, so
/// the CLI and `AuthManager::from_env` cannot drift apart.
#[test]
fn every_flag_variable_is_a_setup_variable() {
    let command = crate::cli::definition();
    let mut flag_vars: Vec<String> = command
        .get_subcommands()
        .flat_map(|command| command.get_arguments())
        .filter(|arg| arg.get_help_heading() == Some("Configuration"))
        .filter_map(|arg| arg.get_env())
        .map(|name| name.to_string_lossy().into_owned())
        .collect();
    flag_vars.sort();
    flag_vars.dedup();
    assert_eq!(flag_vars.len(), 10, "{flag_vars:?}");
    for name in &flag_vars {
        assert!(
            agent_identity_manager::SETUP_ENV_VARS.contains(&name.as_str()),
            "{name} is read by the CLI but not by AuthManager::from_env"
        );
    }
}

#[test]
fn an_http_jwks_url_off_loopback_is_a_usage_error() {
    let cli = Cli::parse_from_iter([
        "agent-identity",
        "--jwks-url",
        "http://example.com/jwks",
        "verify",
    ])
    .expect("parses");
    let config = super::Config::new(&cli.settings);
    let failure = config.verifier().expect_err("refused");
    assert_eq!(failure.exit(), crate::error::Exit::Usage);
    assert_eq!(
        failure.message(),
        "invalid jwks url \"http://example.com/jwks\" from --jwks-url: https is required for a \
         non-loopback host; use https, or http only to a loopback host (localhost, 127.0.0.1, [::1])"
    );
}
