//! The feature matrix: each library crate whose features matter is checked with no default
//! features, and with each of its features alone, so a feature that only builds beside another
//! (a missing `dep:` in its list, a `cfg` on the wrong item) is found before a user finds it.
//!
//! The features are read from each crate's own `Cargo.toml`, so a new one joins the matrix by
//! itself. One `cargo check --lib` per combination keeps the step cheap: after the first CI run
//! every combination's build is cached.

use std::process::ExitCode;

use crate::{cargo, workspace_root};

/// The crates in the matrix, by folder under `crates/` (which is their package name).
const CRATES: [&str; 4] = [
    "agent-identity-jwt",
    "agent-identity-task",
    "agent-identity-manager",
    "agent-identity-sdk",
];

/// Checks every combination; stops at the first that fails.
pub(crate) fn check() -> Result<(), ExitCode> {
    for package in CRATES {
        let manifest = workspace_root()
            .join("crates")
            .join(package)
            .join("Cargo.toml");
        let manifest = std::fs::read_to_string(&manifest).map_err(|error| {
            println!("xtask features: reading {}: {error}", manifest.display());
            ExitCode::FAILURE
        })?;
        for combination in combinations(&manifest) {
            let mut args = vec![
                "check",
                "--lib",
                "--locked",
                "-p",
                package,
                "--no-default-features",
            ];
            if let Some(feature) = combination {
                args.extend(["--features", feature]);
            }
            let mut command = cargo();
            command.args(&args);
            crate::ci::run_command(&format!("cargo {}", args.join(" ")), command)?;
        }
    }
    Ok(())
}

/// No feature (`None`), then each feature of the manifest's `[features]` table alone, `default`
/// aside.
pub(crate) fn combinations(manifest: &str) -> Vec<Option<&str>> {
    let mut combinations = vec![None];
    combinations.extend(features(manifest).into_iter().map(Some));
    combinations
}

/// The names declared in the `[features]` table, in order, `default` aside.
pub(crate) fn features(manifest: &str) -> Vec<&str> {
    let mut in_features = false;
    let mut names = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_features = line == "[features]";
        } else if in_features
            && !line.starts_with('#')
            && let Some((key, _)) = line.split_once('=')
        {
            let key = key.trim();
            if key != "default" && !key.is_empty() {
                names.push(key);
            }
        }
    }
    names
}

#[cfg(test)]
mod tests;
