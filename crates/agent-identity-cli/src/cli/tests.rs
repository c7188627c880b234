//! Unit tests of the clap definition.

use super::configuration::MAX_LEEWAY_SECS;
use super::{Cli, Command};

#[test]
fn command_line_definition_is_consistent() {
    super::definition().debug_assert();
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
    assert!(cli.json);
    assert_eq!(cli.verbose, 2);
    assert_eq!(cli.settings.issuer.as_deref(), Some("i"));
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
    assert!(cli.settings.jwks_file.is_some());
}

#[test]
fn a_leeway_of_up_to_one_day_is_accepted() {
    for leeway in ["0", "60", "86400"] {
        let cli = Cli::parse_from_iter(["agent-identity", "status", "--leeway", leeway])
            .unwrap_or_else(|error| panic!("--leeway {leeway}: {error}"));
        assert_eq!(cli.settings.leeway.to_string(), leeway);
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

#[test]
fn a_configuration_flag_before_the_command_is_an_unknown_argument() {
    for (flag, value, command) in [
        ("--home", "h", "status"),
        ("--issuer", "i", "header"),
        ("--jwks-url", "https://example.com/jwks", "verify"),
        ("--jwt", "j", "login"),
        ("--fresh-task", "", "header"),
    ] {
        let Err(error) = Cli::parse_from_iter(["agent-identity", flag, value, command]) else {
            panic!("{flag} before {command} parsed");
        };
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::UnknownArgument,
            "{flag} before {command}"
        );
        assert_eq!(error.exit_code(), 2, "{flag} before {command}");
    }
}

#[test]
fn a_configuration_flag_after_a_command_that_does_not_use_it_is_a_usage_error() {
    for (flag, command) in [
        ("--jwks-url", "status"),
        ("--authapi-base-url", "verify"),
        ("--home", "verify"),
        ("--issuer", "logout"),
        ("--leeway", "logout"),
        ("--fresh-task", "doctor"),
        ("--jwks-url", "emulator"),
    ] {
        let Err(error) = Cli::parse_from_iter(["agent-identity", command, flag, "x"]) else {
            panic!("{command} {flag} parsed");
        };
        assert_eq!(
            error.kind(),
            clap::error::ErrorKind::UnknownArgument,
            "{command} {flag}"
        );
    }
}

#[test]
fn jwt_file_is_the_token_of_verify_and_the_token_file_of_header() {
    let cli =
        Cli::parse_from_iter(["agent-identity", "verify", "--jwt-file", "t"]).expect("parses");
    let Command::Verify(args) = &cli.command else {
        panic!("not verify");
    };
    assert_eq!(
        args.token.jwt_file.as_deref(),
        Some(std::path::Path::new("t"))
    );
    assert!(cli.settings.token_file.is_none());
    let cli =
        Cli::parse_from_iter(["agent-identity", "header", "--jwt-file", "t"]).expect("parses");
    assert_eq!(
        cli.settings.token_file.as_deref(),
        Some(std::path::Path::new("t"))
    );
    assert!(cli.settings.token_file_from_command_line);
    // Before the command, no configuration flag is taken.
    assert!(Cli::parse_from_iter(["agent-identity", "--jwt-file", "t", "header"]).is_err());
}

#[test]
fn jwt_wins_over_jwt_file() {
    let cli = Cli::parse_from_iter(["agent-identity", "header", "--jwt-file", "t", "--jwt", "j"])
        .expect("parses");
    assert_eq!(cli.settings.jwt.as_deref(), Some("j"));
    assert!(cli.settings.jwt_from_command_line);
}

#[test]
fn durations_are_read_as_a_person_writes_them() {
    use std::time::Duration;
    for (text, expected) in [
        ("30", Duration::from_secs(30)),
        ("30s", Duration::from_secs(30)),
        ("2m", Duration::from_secs(120)),
        ("1h", Duration::from_secs(3600)),
        ("1m30s", Duration::from_secs(90)),
        ("250ms", Duration::from_millis(250)),
    ] {
        assert_eq!(super::values::duration(text), Ok(expected), "{text}");
    }
    for text in ["", "s", "30x", "-1s", "1.5s", "m30"] {
        assert!(
            super::values::duration(text).is_err(),
            "{text:?} was accepted"
        );
    }
}
