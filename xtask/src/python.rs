//! The Python package's checks (`cargo xtask ci`) and its benchmark (`cargo xtask bench`).
//!
//! Both use the virtual environment `target/python-venv`, which `.ci/run` creates with the pinned
//! tools of `crates/agent-identity-py/requirements-ci.txt`. The CI step builds the extension in
//! debug mode, installs it there (`maturin develop`), then runs pytest and mypy; the benchmark
//! installs a release build first.

mod env;

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use crate::{failure_code, seconds, workspace_root};

/// The virtual environment, relative to the workspace root.
const VENV: &str = "target/python-venv";

/// The package's crate directory, relative to the workspace root.
const PACKAGE: &str = "crates/agent-identity-py";

/// How to make the virtual environment, said when it is missing.
const SETUP_HINT: &str = "python3 -m venv target/python-venv && \
    target/python-venv/bin/pip install -r crates/agent-identity-py/requirements-ci.txt";

/// The venv's `bin` directory, or `None` when it has not been made.
fn venv_bin() -> Option<PathBuf> {
    let bin = workspace_root().join(VENV).join("bin");
    bin.join("python").is_file().then_some(bin)
}

/// A command running `program` from the venv, in the package directory, with the venv active.
fn venv_command(bin: &Path, program: &str) -> Command {
    let root = workspace_root();
    let mut command = Command::new(bin.join(program));
    command
        .current_dir(root.join(PACKAGE))
        .env(env::VIRTUAL_ENV, root.join(VENV))
        .stdin(Stdio::null());
    command
}

/// Runs `command` under a banner; the error is the exit code to leave with.
fn run(banner: &str, mut command: Command) -> Result<(), ExitCode> {
    println!("==> {banner}");
    let _ = io::stdout().flush();
    let started = Instant::now();
    match command.status() {
        Ok(status) if status.success() => {
            println!("<== ok in {}", seconds(started.elapsed()));
            Ok(())
        }
        Ok(status) => {
            println!("<== failed in {} ({status})", seconds(started.elapsed()));
            Err(failure_code(status))
        }
        Err(error) => {
            println!("<== {banner}: could not start: {error}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// The CI step: build and install the wheel, then pytest and mypy. Without the venv it is a
/// one-line skip locally and a failure when `CI=true`.
pub(crate) fn ci_step() -> Result<(), ExitCode> {
    let Some(bin) = venv_bin() else {
        if std::env::var(env::CI).is_ok_and(|value| value == "true") {
            println!("xtask ci: the Python package needs {VENV} (CI=true makes this a failure)");
            return Err(ExitCode::FAILURE);
        }
        println!("xtask ci: skipped the Python package; set it up with: {SETUP_HINT}");
        return Ok(());
    };
    let mut develop = venv_command(&bin, "maturin");
    develop.args(["develop", "--quiet"]);
    run("maturin develop (agent-identity-sdk, debug)", develop)?;
    let mut pytest = venv_command(&bin, "python");
    pytest.args(["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]);
    run("pytest crates/agent-identity-py/tests", pytest)?;
    let mut mypy = venv_command(&bin, "mypy");
    mypy.args([
        "--strict",
        "--cache-dir",
        "../../target/mypy-cache",
        "python/agent_identity_sdk",
        "examples",
        "tests",
    ]);
    run("mypy --strict (stubs, examples, tests)", mypy)
}

/// The `python_headers` benchmark: a release build installed in the venv, then the script, whose
/// stdout (the JSON result line) the caller collects.
pub(crate) fn bench(quick: bool) -> Result<Option<std::process::Child>, ExitCode> {
    let Some(bin) = venv_bin() else {
        eprintln!("xtask bench: skipped python_headers; set it up with: {SETUP_HINT}");
        return Ok(None);
    };
    let mut develop = venv_command(&bin, "maturin");
    develop
        .args(["develop", "--quiet", "--release"])
        .stdout(Stdio::null());
    if !develop.status().is_ok_and(|status| status.success()) {
        eprintln!("xtask bench: maturin develop --release failed");
        return Err(ExitCode::FAILURE);
    }
    let mut script = venv_command(&bin, "python");
    script.arg("bench/python_headers.py").stdout(Stdio::piped());
    if quick {
        script.env(env::BENCH_QUICK, "1");
    } else {
        script.env_remove(env::BENCH_QUICK);
    }
    script.spawn().map(Some).map_err(|error| {
        eprintln!("xtask bench: could not start the Python benchmark: {error}");
        ExitCode::FAILURE
    })
}
