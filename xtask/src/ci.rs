//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use std::io::{self, BufRead as _, BufReader, Read, Write as _};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::env::CARGO_TARGET_DIR;
use crate::{cargo, failure_code, seconds};

/// One step: a cargo invocation and the environment it needs.
struct Step {
    /// The cargo arguments, after `cargo`.
    args: &'static [&'static str],
    /// Extra environment variables, shown in the banner too.
    env: &'static [(&'static str, &'static str)],
    /// Sends the step's stderr to stdout. nextest writes its progress and closing summary to
    /// stderr; CI log readers look on stdout, so the test runner's output is all sent there,
    /// unmodified.
    stderr_to_stdout: bool,
    /// Builds in the workspace's target directory although its manifest is elsewhere: the
    /// user's `CARGO_TARGET_DIR` when set, else the workspace's `target/`.
    shares_target_dir: bool,
}

impl Step {
    /// The banner text: the command as one would type it.
    fn banner(&self) -> String {
        let mut text = String::new();
        for (key, value) in self.env {
            text.push_str(&format!("{key}=\"{value}\" "));
        }
        if self.shares_target_dir {
            text.push_str(&format!(
                "{CARGO_TARGET_DIR}=\"{}\" ",
                crate::target_dir().display()
            ));
        }
        text.push_str("cargo");
        for arg in self.args {
            text.push(' ');
            text.push_str(arg);
        }
        text
    }
}

const FMT: Step = Step {
    args: &["fmt", "--all", "--check"],
    env: &[],
    stderr_to_stdout: false,
    shares_target_dir: false,
};

const CLIPPY: Step = Step {
    args: &[
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ],
    env: &[],
    stderr_to_stdout: false,
    shares_target_dir: false,
};

/// `--no-tests=warn`: a workspace member without tests is not a failure. `--no-fail-fast`: one
/// failing test must not hide the rest of the suite's verdicts.
const NEXTEST: Step = Step {
    args: &[
        "nextest",
        "run",
        "--workspace",
        "--locked",
        "--no-tests=warn",
        "--no-fail-fast",
    ],
    env: &[],
    stderr_to_stdout: true,
    shares_target_dir: false,
};

/// nextest does not run doc tests, so they get their own step after it.
const DOCTEST: Step = Step {
    args: &["test", "--workspace", "--doc", "--locked"],
    env: &[],
    stderr_to_stdout: true,
    shares_target_dir: false,
};

/// The fallback when nextest is not installed; it runs the doc tests too.
const CARGO_TEST: Step = Step {
    args: &["test", "--workspace", "--locked", "--no-fail-fast"],
    env: &[],
    stderr_to_stdout: true,
    shares_target_dir: false,
};

/// A consumer crate outside the workspace whose dependencies enable jsonwebtoken's `rust_crypto`
/// beside `aws_lc_rs`, so that the main build keeps one crypto backend. It shares the
/// workspace's target directory (the user's `CARGO_TARGET_DIR` when set), so aws-lc is not built
/// twice. Not `--locked`: its lock file pins what it can, but our crates are path dependencies
/// whose own dependencies change with the workspace's.
const CONSUMERS: Step = Step {
    args: &[
        "test",
        "--manifest-path",
        "tests/consumers/rust-crypto/Cargo.toml",
    ],
    env: &[],
    stderr_to_stdout: true,
    shares_target_dir: true,
};

/// Every crate's docs with its default features: an intra-doc link that only resolves with an
/// optional feature on is broken for a reader of the default build. It runs before [`DOC`], so
/// `target/doc` ends with the complete guide.
const DOC_DEFAULT_FEATURES: Step = Step {
    args: &["doc", "--workspace", "--no-deps", "--locked"],
    env: &[("RUSTDOCFLAGS", "-D warnings")],
    stderr_to_stdout: false,
    shares_target_dir: false,
};

/// The facade's optional features are documented too (docs.rs builds it with all of them), so
/// their items and intra-doc links are checked.
const DOC: Step = Step {
    args: &[
        "doc",
        "--workspace",
        "--no-deps",
        "--locked",
        "--features",
        "agent-identity-sdk/emulator,agent-identity-sdk/reqwest-middleware,agent-identity-sdk/server,agent-identity-sdk/keyring",
    ],
    env: &[("RUSTDOCFLAGS", "-D warnings")],
    stderr_to_stdout: false,
    shares_target_dir: false,
};

/// One stage of `cargo xtask ci`: a cargo step, or a check xtask runs itself.
enum Stage {
    /// A cargo invocation.
    Cargo(&'static Step),
    /// `cargo xtask tidy`, in process.
    Tidy,
    /// The feature matrix: one `cargo check` per feature combination.
    Features,
    /// `cargo check` on the MSRV toolchain, or a printed skip.
    Msrv,
}

impl Stage {
    fn name(&self) -> String {
        match self {
            Self::Cargo(step) => format!("`{}`", step.banner()),
            Self::Tidy => "tidy".to_owned(),
            Self::Features => "the feature matrix".to_owned(),
            Self::Msrv => "the MSRV check".to_owned(),
        }
    }

    fn run(&self, tally: &Arc<Mutex<Tally>>) -> Result<(), ExitCode> {
        match self {
            Self::Cargo(step) => run_step(step, tally),
            Self::Tidy => {
                println!("==> cargo xtask tidy");
                let started = Instant::now();
                let result = crate::tidy::check();
                let took = seconds(started.elapsed());
                match result {
                    Ok(()) => {
                        println!("<== ok in {took}");
                        Ok(())
                    }
                    Err(()) => {
                        println!("<== failed in {took}");
                        Err(ExitCode::FAILURE)
                    }
                }
            }
            Self::Features => crate::features::check(),
            Self::Msrv => crate::msrv::check(),
        }
    }
}

/// Runs the CI steps and returns the first failing step's exit code, or success.
///
/// Tidy runs first: it takes well under a second, and a broken house rule is cheaper to hear
/// about before the build.
pub(crate) fn run() -> ExitCode {
    let started = Instant::now();
    let stages: Vec<Stage> = if nextest_installed() {
        vec![
            Stage::Tidy,
            Stage::Cargo(&FMT),
            Stage::Cargo(&CLIPPY),
            Stage::Features,
            Stage::Cargo(&NEXTEST),
            Stage::Cargo(&DOCTEST),
            Stage::Cargo(&CONSUMERS),
            Stage::Cargo(&DOC_DEFAULT_FEATURES),
            Stage::Cargo(&DOC),
            Stage::Msrv,
        ]
    } else {
        println!("xtask ci: cargo-nextest not found, running the tests with cargo test");
        vec![
            Stage::Tidy,
            Stage::Cargo(&FMT),
            Stage::Cargo(&CLIPPY),
            Stage::Features,
            Stage::Cargo(&CARGO_TEST),
            Stage::Cargo(&CONSUMERS),
            Stage::Cargo(&DOC_DEFAULT_FEATURES),
            Stage::Cargo(&DOC),
            Stage::Msrv,
        ]
    };
    let tally = Arc::new(Mutex::new(Tally::default()));
    for stage in &stages {
        if let Err(code) = stage.run(&tally) {
            println!(
                "xtask ci: failed at {} after {}",
                stage.name(),
                seconds(started.elapsed())
            );
            return code;
        }
    }
    if let Err(code) = crate::python::ci_step() {
        println!(
            "xtask ci: failed at the Python package after {}",
            seconds(started.elapsed())
        );
        return code;
    }
    if let Err(code) = secret_service_step(&tally) {
        println!(
            "xtask ci: failed at the Secret Service test after {}",
            seconds(started.elapsed())
        );
        return code;
    }
    println!(
        "xtask ci: all {} steps passed in {}",
        stages.len() + 2,
        seconds(started.elapsed())
    );
    // The runners' own summaries are spread over many lines (one per doc-test crate); this
    // closing line adds them up, in the plain form CI log readers recognise.
    let tally = *tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    println!(
        "tests: {} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.skipped
    );
    ExitCode::SUCCESS
}

/// Test counts read from the runners' summary lines.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tally {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    pub(crate) skipped: u64,
}

impl Tally {
    /// Adds the counts of one summary line: nextest's `Summary [ 9.2s] 287 tests run: 286 passed,
    /// 1 failed, 0 skipped`, or libtest's `test result: ok. 3 passed; 0 failed; 1 ignored; …`.
    /// Any other line is ignored.
    fn add_line(&mut self, line: &str) {
        let summary = if let Some((_, counts)) = line.split_once("tests run:") {
            counts
        } else if let Some((_, counts)) = line.split_once(" test run:") {
            // nextest's singular: `1 test run: 1 passed, 51 skipped`.
            counts
        } else if let Some((_, counts)) = line.split_once("test result:") {
            counts
        } else {
            return;
        };
        let mut previous: Option<u64> = None;
        for word in summary.split(|c: char| c.is_whitespace() || c == ',' || c == ';' || c == '.') {
            if word.is_empty() {
                continue;
            }
            match (previous, word) {
                (Some(count), "passed") => self.passed += count,
                (Some(count), "failed") => self.failed += count,
                (Some(count), "skipped" | "ignored") => self.skipped += count,
                _ => {}
            }
            previous = word.parse().ok();
        }
    }
}

/// Whether `cargo nextest --version` succeeds.
pub(crate) fn nextest_installed() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs one step under a banner, then prints how it went and how long it took.
///
/// A step whose output goes to stdout (the test steps) is read line by line on its way there, so
/// its summary lines can be tallied; the lines themselves reach the log unchanged.
fn run_step(step: &Step, tally: &Arc<Mutex<Tally>>) -> Result<(), ExitCode> {
    let banner = step.banner();
    println!("==> {banner}");
    // The banner must reach the log before anything the child writes.
    let _ = io::stdout().flush();
    let started = Instant::now();
    let mut command = cargo();
    command.args(step.args).stdin(Stdio::null());
    for (key, value) in step.env {
        command.env(key, value);
    }
    if step.shares_target_dir {
        command.env(CARGO_TARGET_DIR, crate::target_dir());
    }
    let status = if step.stderr_to_stdout {
        run_tallied(command, tally)
    } else {
        command.status()
    };
    let status = match status {
        Ok(status) => status,
        Err(error) => {
            println!("<== {banner}: could not start cargo: {error}");
            return Err(ExitCode::FAILURE);
        }
    };
    let took = seconds(started.elapsed());
    if status.success() {
        println!("<== ok in {took}");
        Ok(())
    } else {
        println!("<== failed in {took} ({status})");
        Err(failure_code(status))
    }
}

/// Runs `command` under `banner` as a step of its own, its output passed through, then prints
/// how it went and how long it took.
pub(crate) fn run_command(
    banner: &str,
    mut command: std::process::Command,
) -> Result<(), ExitCode> {
    println!("==> {banner}");
    // The banner must reach the log before anything the child writes.
    let _ = io::stdout().flush();
    let started = Instant::now();
    let status = command.stdin(Stdio::null()).status();
    let took = seconds(started.elapsed());
    match status {
        Ok(status) if status.success() => {
            println!("<== ok in {took}");
            Ok(())
        }
        Ok(status) => {
            println!("<== failed in {took} ({status})");
            Err(failure_code(status))
        }
        Err(error) => {
            println!("<== {banner}: could not start it: {error}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Runs `command` with its stdout and stderr both echoed to our stdout, tallying summary lines.
pub(crate) fn run_tallied(
    mut command: std::process::Command,
    tally: &Arc<Mutex<Tally>>,
) -> io::Result<ExitStatus> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let readers: Vec<Box<dyn Read + Send>> = [
        child
            .stdout
            .take()
            .map(|out| Box::new(out) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|err| Box::new(err) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .collect();
    let echoes: Vec<_> = readers
        .into_iter()
        .map(|reader| {
            let tally = Arc::clone(tally);
            std::thread::spawn(move || {
                for line in BufReader::new(reader).split(b'\n').map_while(Result::ok) {
                    let line = String::from_utf8_lossy(&line);
                    tally
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .add_line(&line);
                    let mut stdout = io::stdout().lock();
                    let _ = writeln!(stdout, "{line}");
                    let _ = stdout.flush();
                }
            })
        })
        .collect();
    let status = child.wait();
    for echo in echoes {
        let _ = echo.join();
    }
    status
}

mod secret_service;

pub(crate) use secret_service::run_secret_service;
use secret_service::secret_service_step;

#[cfg(test)]
mod tests;
