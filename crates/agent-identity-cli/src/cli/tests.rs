//! Unit tests of the clap definition.

use clap::CommandFactory as _;

use super::{Cli, Command, MAX_LEEWAY_SECS};

#[test]
fn command_line_definition_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn global_flags_are_accepted_after_the_command() {
    let cli = Cli::parse_from_iter([
        "agent-identity",
        "verify",
        "--jwt-file",
        "-",
        "--json",
        "-vv",
        "--issuer",
        "i",
    ])
    .expect("parses");
    assert!(cli.global.json);
    assert_eq!(cli.global.verbose, 2);
    assert_eq!(cli.global.issuer.as_deref(), Some("i"));
    assert!(matches!(cli.command, Command::Verify(_)));
}

#[test]
fn jwks_file_and_url_conflict() {
    let Err(error) = Cli::parse_from_iter([
        "agent-identity",
        "verify",
        "--jwks-file",
        "f",
        "--jwks-url",
        "http://127.0.0.1/jwks",
    ]) else {
        panic!("--jwks-file and --jwks-url parsed together");
    };
    assert_eq!(error.kind(), clap::error::ErrorKind::ArgumentConflict);
}

#[test]
fn jwks_file_wins_over_a_url_from_the_environment() {
    // Only the command line is checked for the conflict; the environment is simulated by the
    // value source clap records, so this test just checks the file alone parses.
    let cli =
        Cli::parse_from_iter(["agent-identity", "verify", "--jwks-file", "f"]).expect("parses");
    assert!(cli.global.jwks_file.is_some());
}

#[test]
fn a_leeway_of_up_to_one_day_is_accepted() {
    for leeway in ["0", "60", "86400"] {
        let cli = Cli::parse_from_iter(["agent-identity", "status", "--leeway", leeway])
            .unwrap_or_else(|error| panic!("--leeway {leeway}: {error}"));
        assert_eq!(cli.global.leeway.to_string(), leeway);
    }
    assert_eq!(MAX_LEEWAY_SECS, 24 * 60 * 60);
}

#[test]
fn a_leeway_over_one_day_is_a_usage_error() {
    for leeway in ["86401", "18446744073709551615"] {
        let Err(error) = Cli::parse_from_iter(["agent-identity", "status", "--leeway", leeway])
        else {
            panic!("--leeway {leeway} parsed");
        };
        assert_eq!(error.exit_code(), 2, "--leeway {leeway}: {error}");
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::ValueValidation,
            "--leeway {leeway}"
        );
    }
}
