//! `cargo xtask fuzz [TARGET] [--time S]`: runs the cargo-fuzz targets in `fuzz/`, one after
//! another, each for a bounded time.
//!
//! cargo-fuzz needs unstable compiler flags (`-Z sanitizer`, coverage passes). No nightly is
//! needed: `RUSTC_BOOTSTRAP=1` lets the pinned stable toolchain accept them, and its standard
//! library ships the AddressSanitizer runtime, so the default `--sanitizer address` works.
//! Nothing is installed here: a missing cargo-fuzz is reported with the command that installs it.

use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use crate::{USAGE_EXIT, cargo, failure_code, seconds, usage, workspace_root};

/// 60 s per target by default: long enough to shake out shallow bugs, short enough to run all.
const DEFAULT_SECONDS: u64 = 60;

/// A run of one target longer than this per input is reported as a hang (libFuzzer's `-timeout`).
const INPUT_TIMEOUT_SECONDS: u64 = 10;

/// Parses `[TARGET] [--time S]` and runs.
pub(crate) fn run(args: &[&str]) -> ExitCode {
    let mut target = None;
    let mut time = DEFAULT_SECONDS;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match *arg {
            "--time" => match rest.next().and_then(|value| value.parse().ok()) {
                Some(value) if value > 0 => time = value,
                _ => {
                    eprintln!("error: --time needs a number of seconds above 0");
                    return ExitCode::from(USAGE_EXIT);
                }
            },
            name if !name.starts_with('-') && target.is_none() => target = Some(name),
            _ => return usage(),
        }
    }
    let all = match targets() {
        Ok(all) => all,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };
    let chosen: Vec<String> = match target {
        Some(name) if all.iter().any(|known| known == name) => vec![name.to_owned()],
        Some(name) => {
            eprintln!(
                "error: no fuzz target {name:?}; the targets are: {}",
                all.join(", ")
            );
            return ExitCode::from(USAGE_EXIT);
        }
        None => all,
    };
    if !cargo_fuzz_installed() {
        eprintln!(
            "error: cargo-fuzz is not installed; install it with `cargo install cargo-fuzz --locked`"
        );
        return ExitCode::FAILURE;
    }
    let mut results = Vec::new();
    for name in &chosen {
        eprintln!("==> fuzzing {name} for {time}s (corpus fuzz/corpus/{name})");
        let started = Instant::now();
        let status = fuzz_command(name, time).status();
        let elapsed = seconds(started.elapsed());
        match status {
            Ok(status) if status.success() => results.push((name, "ok".to_owned(), elapsed)),
            Ok(status) => {
                print_summary(&results);
                eprintln!(
                    "error: {name} failed after {elapsed}; the input is in fuzz/artifacts/{name}/ \
                     (replay it with `cargo fuzz run -O {name} <file>` under RUSTC_BOOTSTRAP=1)"
                );
                return failure_code(status);
            }
            Err(error) => {
                eprintln!("error: could not run cargo fuzz: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    print_summary(&results);
    ExitCode::SUCCESS
}

/// The targets: the files of `fuzz/fuzz_targets/`, sorted.
fn targets() -> Result<Vec<String>, String> {
    let dir = workspace_root().join("fuzz").join("fuzz_targets");
    let entries =
        std::fs::read_dir(&dir).map_err(|error| format!("reading {}: {error}", dir.display()))?;
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name();
            name.to_str()?.strip_suffix(".rs").map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

fn cargo_fuzz_installed() -> bool {
    cargo()
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// `cargo fuzz run -O TARGET -- …` with the flags that make stable accept cargo-fuzz's options.
///
/// `-O`: release with debug assertions, as cargo-fuzz recommends. `CARGO_TARGET_DIR` is removed so
/// the sanitized build always lands in `fuzz/target` rather than in a shared target directory.
fn fuzz_command(target: &str, time: u64) -> Command {
    let mut command = cargo();
    command
        .env("RUSTC_BOOTSTRAP", "1")
        .env_remove("CARGO_TARGET_DIR")
        .args(["fuzz", "run", "-O", target, "--"])
        .arg(format!("-max_total_time={time}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_SECONDS}"))
        .arg("-print_final_stats=1");
    command
}

fn print_summary(results: &[(&String, String, String)]) {
    for (name, verdict, elapsed) in results {
        eprintln!("{name:<24} {verdict:<6} {elapsed}");
    }
}
