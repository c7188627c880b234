//! The workspace's task runner: `cargo xtask ci` runs every check CI runs, `cargo xtask bench`
//! runs the benchmarks and summarises them, `cargo xtask fuzz` runs the fuzz targets, and
//! `tidy`, `features` and `msrv` run single checks of `ci` on their own.
//!
//! It has no dependencies, so building it costs a second or two before the real work starts.
#![allow(
    clippy::print_stdout,
    reason = "a command-line driver: its banners and results are its output"
)]

mod bench;
mod ci;
mod env;
mod features;
mod fuzz;
mod msrv;
mod python;
mod tidy;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode, ExitStatus};
use std::time::Duration;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  ci              tidy, fmt, clippy, the feature matrix, tests (nextest when installed,
                  without fail-fast), doc tests, the consumer crates under tests/consumers,
                  docs (default features, then every feature), the MSRV check, the Python
                  package (pytest and mypy in target/python-venv), then the keyring test
                  against a real Secret Service (skipped without dbus-run-session and
                  gnome-keyring, unless AGENT_IDENTITY_REQUIRE_SECRET_SERVICE=1), stopping
                  at the first failed step
  tidy            the house rules: `//!` openers, no issue numbers in comments or test
                  names, every crate in ARCHITECTURE.md, environment variable names only
                  in env modules, no src/ file over 500 lines without saying why
  features        `cargo check --lib` of jwt, task, manager and sdk with no default
                  features, and with each feature alone
  msrv            `cargo check --lib` with the workspace's rust-version toolchain (installed
                  through rustup when missing); skipped with a line saying why when rustup
                  cannot provide it, unless AGENT_IDENTITY_REQUIRE_MSRV=1
  secret-service  only that keyring test (inside its own D-Bus session and gnome-keyring)
  bench [--quick] [BENCH]...
                  run the benchmarks; JSON results on stdout, a summary table on stderr;
                  --quick sets AGENT_IDENTITY_BENCH_QUICK=1 for shorter measurements; each
                  BENCH names one bench target of tests/benches to run (jwt, task, manager,
                  proxy, python_headers), all of them when none is given
  fuzz [TARGET] [--time S]
                  run the cargo-fuzz targets in fuzz/ (all, one after another, when no TARGET
                  is given) for S seconds each (default 60); needs `cargo install cargo-fuzz`
";

/// 2: the conventional exit code for a usage error.
const USAGE_EXIT: u8 = 2;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["ci"] => ci::run(),
        ["tidy"] => tidy::run(),
        ["features"] => features::check().map_or_else(|code| code, |()| ExitCode::SUCCESS),
        ["msrv"] => msrv::check().map_or_else(|code| code, |()| ExitCode::SUCCESS),
        ["secret-service"] => ci::run_secret_service(),
        ["bench", rest @ ..] => match bench::Options::parse(rest) {
            Ok(options) => bench::run(&options),
            Err(message) => {
                eprintln!("xtask bench: {message}");
                usage()
            }
        },
        ["fuzz", rest @ ..] => fuzz::run(rest),
        _ => usage(),
    }
}

/// Prints the usage text and returns the usage-error exit code, for `--help` and bad input alike.
fn usage() -> ExitCode {
    eprint!("{USAGE}");
    ExitCode::from(USAGE_EXIT)
}

/// The workspace root: every cargo command runs from there, wherever xtask was started.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.clone(), PathBuf::from)
}

/// The workspace's target directory: the user's `CARGO_TARGET_DIR` when set (made absolute
/// against the directory xtask started in), else `target/` in the workspace root.
fn target_dir() -> PathBuf {
    match std::env::var_os(env::CARGO_TARGET_DIR) {
        Some(dir) if !dir.is_empty() => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                std::env::current_dir().map_or(dir.clone(), |cwd| cwd.join(&dir))
            }
        }
        _ => workspace_root().join("target"),
    }
}

/// A `cargo` command in the workspace root.
///
/// Uses the cargo that runs xtask (`$CARGO`), so every step runs on the pinned toolchain.
fn cargo() -> Command {
    let program = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
    let mut command = Command::new(program);
    command.current_dir(workspace_root());
    command
}

/// The exit code to leave with after a child failed: the child's own code when it has one that
/// means failure, else 1 (killed by a signal, or a code that does not fit).
fn failure_code(status: ExitStatus) -> ExitCode {
    let code = status
        .code()
        .and_then(|code| u8::try_from(code).ok())
        .filter(|&code| code != 0)
        .unwrap_or(1);
    ExitCode::from(code)
}

/// Formats a duration as seconds with one decimal, like `12.3s`.
fn seconds(duration: Duration) -> String {
    format!("{:.1}s", duration.as_secs_f64())
}
