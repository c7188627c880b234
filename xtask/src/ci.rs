//! `cargo xtask ci`: every check CI runs, in order, stopping at the first failure.

use std::io::{self, BufRead as _, BufReader, Read, Write as _};
use std::process::{ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
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

/// A consumer crate outside the workspace whose dependencies enable jsonwebtoken's `rust_crypto`
/// beside `aws_lc_rs`, so that the main build keeps one crypto backend. It shares the target
/// directory, so aws-lc is not built twice. Not `--locked`: its lock file pins what it can, but
/// our crates are path dependencies whose own dependencies change with the workspace's.
const CONSUMERS: Step = Step {
    args: &[
        "test",
        "--manifest-path",
        "tests/consumers/rust-crypto/Cargo.toml",
    ],
    env: &[("CARGO_TARGET_DIR", "target")],
    stderr_to_stdout: true,
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
};

/// Runs the CI steps and returns the first failing step's exit code, or success.
pub(crate) fn run() -> ExitCode {
    let started = Instant::now();
    let steps: Vec<&Step> = if nextest_installed() {
        vec![&FMT, &CLIPPY, &NEXTEST, &DOCTEST, &CONSUMERS, &DOC]
    } else {
        println!("xtask ci: cargo-nextest not found, running the tests with cargo test");
        vec![&FMT, &CLIPPY, &CARGO_TEST, &CONSUMERS, &DOC]
    };
    let tally = Arc::new(Mutex::new(Tally::default()));
    for step in &steps {
        if let Err(code) = run_step(step, &tally) {
            println!(
                "xtask ci: failed at `{}` after {}",
                step.banner(),
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
        steps.len() + 2,
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
struct Tally {
    passed: u64,
    failed: u64,
    skipped: u64,
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

/// `cargo xtask secret-service`: the Secret Service step alone.
pub(crate) fn run_secret_service() -> ExitCode {
    let tally = Arc::new(Mutex::new(Tally::default()));
    if let Err(code) = secret_service_step(&tally) {
        return code;
    }
    let tally = *tally
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    println!(
        "tests: {} passed, {} failed, {} skipped",
        tally.passed, tally.failed, tally.skipped
    );
    ExitCode::SUCCESS
}

/// Set to `1` (as `.ci/run` does) to make a missing `dbus-run-session` or `gnome-keyring-daemon`
/// a failure instead of a skip.
const REQUIRE_SECRET_SERVICE: &str = "AGENT_IDENTITY_REQUIRE_SECRET_SERVICE";

/// The programs the Secret Service test needs.
const SECRET_SERVICE_TOOLS: [&str; 2] = ["dbus-run-session", "gnome-keyring-daemon"];

/// Starts a D-Bus session of its own, unlocks a fresh `login` collection in it (the password on
/// stdin, data in a temporary directory, never the user's own keyring), then runs the rest.
const SECRET_SERVICE_SCRIPT: &str = "printf %s xtask-ci-keyring \
    | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec \"$@\"";

/// The ignored real-keyring test of `KeyringStore`, inside `dbus-run-session` with an unlocked
/// gnome-keyring. Without those programs it is skipped with a line saying so, unless
/// [`REQUIRE_SECRET_SERVICE`] is `1`. Only its passed and failed counts are tallied: the runner
/// counts every other test as skipped, and those were counted by the main test step.
fn secret_service_step(tally: &Arc<Mutex<Tally>>) -> Result<(), ExitCode> {
    let missing: Vec<&str> = SECRET_SERVICE_TOOLS
        .into_iter()
        .filter(|tool| !on_path(tool))
        .collect();
    if !missing.is_empty() {
        let needs = "needs dbus-run-session and gnome-keyring";
        if std::env::var(REQUIRE_SECRET_SERVICE).is_ok_and(|value| value == "1") {
            println!(
                "xtask ci: the Secret Service test {needs}; not on PATH: {} \
                 ({REQUIRE_SECRET_SERVICE}=1 makes this a failure)",
                missing.join(", ")
            );
            return Err(ExitCode::FAILURE);
        }
        println!("xtask ci: skipped: {needs} (the real Secret Service test of KeyringStore)");
        return Ok(());
    }
    let scratch = std::env::temp_dir().join(format!(
        "agent-identity-secret-service-{}",
        std::process::id()
    ));
    let result = run_secret_service_test(&scratch, tally);
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn run_secret_service_test(
    scratch: &std::path::Path,
    tally: &Arc<Mutex<Tally>>,
) -> Result<(), ExitCode> {
    use std::os::unix::fs::PermissionsExt as _;
    let data = scratch.join("data");
    let runtime = scratch.join("run");
    for dir in [&data, &runtime] {
        if let Err(error) = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)))
        {
            println!("xtask ci: creating {}: {error}", dir.display());
            return Err(ExitCode::FAILURE);
        }
    }
    let cargo_program = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let test_args: &[&str] = if nextest_installed() {
        &[
            "nextest",
            "run",
            "-p",
            "agent-identity-manager",
            "--test",
            "it",
            "--locked",
            "--run-ignored",
            "only",
            "keyring::",
        ]
    } else {
        &[
            "test",
            "-p",
            "agent-identity-manager",
            "--test",
            "it",
            "--locked",
            "--",
            "--ignored",
            "keyring::",
        ]
    };
    let banner = format!(
        "dbus-run-session -- sh -c '<unlock gnome-keyring>' cargo {}",
        test_args.join(" ")
    );
    println!("==> {banner}");
    let _ = io::stdout().flush();
    let started = Instant::now();
    let mut command = std::process::Command::new("dbus-run-session");
    command
        .args(["--", "sh", "-c", SECRET_SERVICE_SCRIPT, "sh"])
        .arg(&cargo_program)
        .args(test_args)
        .current_dir(crate::workspace_root())
        .env("XDG_DATA_HOME", &data)
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("AGENT_IDENTITY_SECRET_SERVICE_TEST", "1")
        .stdin(Stdio::null());
    let own = Arc::new(Mutex::new(Tally::default()));
    let status = run_tallied(command, &own);
    let own = *own
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    {
        let mut tally = tally
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tally.passed += own.passed;
        tally.failed += own.failed;
    }
    let took = seconds(started.elapsed());
    match status {
        Ok(status) if status.success() && own.passed > 0 => {
            println!("<== ok in {took}");
            Ok(())
        }
        Ok(status) if status.success() => {
            println!("<== failed in {took}: the Secret Service test did not run");
            Err(ExitCode::FAILURE)
        }
        Ok(status) => {
            println!("<== failed in {took} ({status})");
            Err(failure_code(status))
        }
        Err(error) => {
            println!("<== {banner}: could not start dbus-run-session: {error}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Whether `program` is an executable file in a directory of `PATH`.
fn on_path(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(program))
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
    })
}

/// Runs `command` with its stdout and stderr both echoed to our stdout, tallying summary lines.
fn run_tallied(
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

#[cfg(test)]
mod tests;
