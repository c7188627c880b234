//! The keyring test against a real Secret Service: `cargo xtask secret-service`, and the last
//! step of `cargo xtask ci`.

use std::io::{self, Write as _};
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use super::{Tally, nextest_installed, run_tallied};
use crate::env::{REQUIRE_SECRET_SERVICE, SECRET_SERVICE_TEST};
use crate::{failure_code, seconds};

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
pub(super) fn secret_service_step(tally: &Arc<Mutex<Tally>>) -> Result<(), ExitCode> {
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
        .env(SECRET_SERVICE_TEST, "1")
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
