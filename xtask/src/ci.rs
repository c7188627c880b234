//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use std::io::{self, Write as _};
use std::process::{ExitCode, Stdio};
use std::time::Instant;

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
}

impl Step {
    /// The banner text: the command as one would type it.
    fn banner(&self) -> String {
        let mut text = String::new();
        for (key, value) in self.env {
            text.push_str(&format!("{key}=\"{value}\" "));
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
};

/// `--no-tests=warn`: a workspace member without tests is not a failure.
const NEXTEST: Step = Step {
    args: &[
        "nextest",
        "run",
        "--workspace",
        "--locked",
        "--no-tests=warn",
    ],
    env: &[],
    stderr_to_stdout: true,
};

/// nextest does not run doc tests, so they get their own step after it.
const DOCTEST: Step = Step {
    args: &["test", "--workspace", "--doc", "--locked"],
    env: &[],
    stderr_to_stdout: true,
};

/// The fallback when nextest is not installed; it runs the doc tests too.
const CARGO_TEST: Step = Step {
    args: &["test", "--workspace", "--locked"],
    env: &[],
    stderr_to_stdout: true,
};

const DOC: Step = Step {
    args: &["doc", "--workspace", "--no-deps", "--locked"],
    env: &[("RUSTDOCFLAGS", "-D warnings")],
    stderr_to_stdout: false,
};

/// Runs the CI steps and returns the first failing step's exit code, or success.
pub(crate) fn run() -> ExitCode {
    let started = Instant::now();
    let steps: Vec<&Step> = if nextest_installed() {
        vec![&FMT, &CLIPPY, &NEXTEST, &DOCTEST, &DOC]
    } else {
        println!("xtask ci: cargo-nextest not found, running the tests with cargo test");
        vec![&FMT, &CLIPPY, &CARGO_TEST, &DOC]
    };
    for step in &steps {
        if let Err(code) = run_step(step) {
            println!(
                "xtask ci: failed at `{}` after {}",
                step.banner(),
                seconds(started.elapsed())
            );
            return code;
        }
    }
    println!(
        "xtask ci: all {} steps passed in {}",
        steps.len(),
        seconds(started.elapsed())
    );
    ExitCode::SUCCESS
}

/// Whether `cargo nextest --version` succeeds.
fn nextest_installed() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs one step under a banner, then prints how it went and how long it took.
fn run_step(step: &Step) -> Result<(), ExitCode> {
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
    if step.stderr_to_stdout {
        command.stderr(Stdio::from(io::stdout()));
    }
    let status = match command.status() {
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
