//! The names of the setup variables added beside the original ones in `setup.rs`.

/// The accepted token signature algorithms (the CLI's `--algorithms`): JOSE names separated by
/// commas, such as `RS256,EdDSA`, any case.
pub const ALGORITHMS_ENV_VAR: &str = "AGENT_IDENTITY_ALGORITHMS";
