//! `cargo xtask msrv`: `cargo check` of the workspace's libraries with the oldest compiler we
//! promise (`rust-version` in the root `Cargo.toml`), through rustup. The promise is to library
//! users, so binaries, tests and benches are built only with the pinned toolchain.
//!
//! The toolchain is installed with rustup when it is missing (a minimal profile, about 100 MB).
//! When rustup is absent or cannot install it (no network to its server), the step prints a
//! line saying so and passes, unless `AGENT_IDENTITY_REQUIRE_MSRV=1` makes that a failure. The
//! build goes to `msrv/` inside the target directory, so it never evicts the pinned toolchain's
//! artifacts.

use std::process::{Command, ExitCode, Stdio};

use crate::env::{CARGO_TARGET_DIR, REQUIRE_MSRV};
use crate::{target_dir, workspace_root};

/// Checks the workspace on the MSRV toolchain, or prints why it cannot.
pub(crate) fn check() -> Result<(), ExitCode> {
    let manifest = workspace_root().join("Cargo.toml");
    let Some(version) = std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|text| rust_version(&text).map(str::to_owned))
    else {
        println!(
            "xtask msrv: {} has no rust-version in [workspace.package]",
            manifest.display()
        );
        return Err(ExitCode::FAILURE);
    };
    if let Err(reason) = ensure_toolchain(&version) {
        let line = format!("the MSRV check needs the {version} toolchain: {reason}");
        if std::env::var(REQUIRE_MSRV).is_ok_and(|value| value == "1") {
            println!("xtask msrv: {line} ({REQUIRE_MSRV}=1 makes this a failure)");
            return Err(ExitCode::FAILURE);
        }
        println!("xtask msrv: skipped: {line}");
        return Ok(());
    }
    let target = target_dir().join("msrv");
    let mut command = Command::new("rustup");
    command
        .args([
            "run",
            &version,
            "cargo",
            "check",
            "--workspace",
            "--lib",
            "--locked",
        ])
        .current_dir(workspace_root())
        .env(CARGO_TARGET_DIR, &target)
        // The pinned toolchain's cargo started xtask; these would point the MSRV cargo at it.
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC")
        .env_remove("RUSTUP_TOOLCHAIN");
    crate::ci::run_command(
        &format!(
            "{CARGO_TARGET_DIR}=\"{}\" rustup run {version} cargo check --workspace --lib --locked",
            target.display()
        ),
        command,
    )
}

/// The `rust-version` of the manifest's `[workspace.package]` (or `[package]`) table.
pub(crate) fn rust_version(manifest: &str) -> Option<&str> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[workspace.package]" || line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "rust-version"
        {
            let value = value.trim();
            let value = value
                .split_once('#')
                .map_or(value, |(value, _)| value.trim());
            return Some(value.trim_matches('"')).filter(|value| !value.is_empty());
        }
    }
    None
}

/// Makes sure rustup has `version`: listed already, or installed now. `Err` says why not.
fn ensure_toolchain(version: &str) -> Result<(), String> {
    let listed = Command::new("rustup")
        .args(["toolchain", "list"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|error| format!("rustup is not available ({error})"))?;
    let listed = String::from_utf8_lossy(&listed.stdout);
    if has_toolchain(&listed, version) {
        return Ok(());
    }
    println!("xtask msrv: installing the {version} toolchain with rustup (minimal profile)");
    let installed = Command::new("rustup")
        .args(["toolchain", "install", version, "--profile", "minimal"])
        .arg("--no-self-update")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .output()
        .map_err(|error| format!("rustup could not be started ({error})"))?;
    if installed.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&installed.stderr);
    let last = stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("no message");
    Err(format!("rustup could not install it: {}", last.trim()))
}

/// Whether `rustup toolchain list` output has a toolchain for `version` (`1.89` matches
/// `1.89-x86_64-…` and `1.89.0-x86_64-…`, not `1.890…`).
pub(crate) fn has_toolchain(listed: &str, version: &str) -> bool {
    listed.lines().any(|line| {
        line.strip_prefix(version)
            .is_some_and(|rest| rest.starts_with('-') || rest.starts_with(".0-"))
    })
}

#[cfg(test)]
mod tests;
