//! `emulator`: run the local AuthAPI/JWKS emulator until SIGTERM or Ctrl-C, then stop
//! gracefully (requests in flight finish) and exit 0. Its first output says where it is: human
//! lines, one JSON object (`--json`), or `export` lines for a shell (`--env`).

mod env;

use agent_identity_emulator::{Emulator, EmulatorError};
use agent_identity_jwt::SigningAlgorithm;
use agent_identity_manager::{
    ALGORITHMS_ENV_VAR, AUDIENCE_ENV_VAR, ISSUER_ENV_VAR, JWKS_URL_ENV_VAR,
};
use agent_identity_task::AUTHAPI_BASE_URL_ENV_VARS;
use serde_json::json;

use crate::cli::{EmulatorAlgorithm, EmulatorArgs};
use crate::commands::header::shell_quote;
use crate::error::{Exit, Failure, chain};
use crate::output::{Output, aligned};

pub(crate) async fn run(args: &EmulatorArgs, out: Output) -> Result<Exit, Failure> {
    if args.env && out.is_json() {
        return Err(Failure::usage(
            "--env prints shell lines and --json prints JSON: choose one",
        ));
    }
    let algorithm = match args.algorithm {
        EmulatorAlgorithm::Rs256 => SigningAlgorithm::Rs256,
        EmulatorAlgorithm::Eddsa => SigningAlgorithm::EdDsa,
    };
    let emulator = Emulator::builder()
        .listen(args.listen)
        .algorithm(algorithm)
        .start()
        .await
        .map_err(emulator_failure)?;
    // Watch the signals before saying where it listens: a parent that stops it as soon as it has
    // read the first line must get a clean stop, not the default action (death by SIGTERM).
    let shutdown = crate::commands::proxy::shutdown_signal()?;
    // The first line is what a parent process waits for; `Output` flushes every line.
    if args.env {
        for line in export_lines(&emulator) {
            out.line(line);
        }
        // `eval "$(agent-identity emulator --env &)"` returns once stdout is closed, with the
        // emulator still serving: nothing else is printed on stdout from here on.
        release_stdout();
    } else if out.is_json() {
        out.json_line(&json!({
            "listening_on": emulator.local_addr().to_string(),
            "base_url": base_url(&emulator),
            "jwks_url": emulator.jwks_url().as_str(),
            "authapi_base_url": emulator.authapi_base_url().as_str(),
            "chatgpt_base_url": emulator.chatgpt_base_url().as_str(),
            "echo_url": emulator.echo_url().as_str(),
            "issuer": emulator.issuer(),
            "audience": emulator.audience(),
            "algorithm": emulator.algorithm().as_str(),
        }));
    } else {
        out.line(format!(
            "emulator listening on {} (bound to {})",
            base_url(&emulator),
            emulator.local_addr()
        ));
        out.line(aligned(&[
            ("jwks url", emulator.jwks_url().to_string()),
            ("authapi base url", emulator.authapi_base_url().to_string()),
            ("chatgpt base url", emulator.chatgpt_base_url().to_string()),
            ("echo url", emulator.echo_url().to_string()),
            ("issuer", emulator.issuer().to_owned()),
            ("audience", emulator.audience().to_owned()),
            ("algorithm", emulator.algorithm().to_string()),
        ]));
        out.line("press Ctrl-C to stop");
    }
    shutdown.await;
    emulator.shutdown().await;
    if !out.is_json() && !args.env {
        out.line("emulator stopped");
    }
    Ok(Exit::Success)
}

/// The `export` lines that point the CLI and `AuthManager::from_env` at `emulator`, then the
/// emulator's own URL, and a comment saying how to stop it.
fn export_lines(emulator: &Emulator) -> Vec<String> {
    let exports = [
        (JWKS_URL_ENV_VAR, emulator.jwks_url().to_string()),
        (
            AUTHAPI_BASE_URL_ENV_VARS[0],
            emulator.authapi_base_url().to_string(),
        ),
        (ISSUER_ENV_VAR, emulator.issuer().to_owned()),
        (AUDIENCE_ENV_VAR, emulator.audience().to_owned()),
        (ALGORITHMS_ENV_VAR, emulator.algorithm().as_str().to_owned()),
        (env::EMULATOR_URL_ENV_VAR, base_url(emulator)),
    ];
    let mut lines: Vec<String> = exports
        .into_iter()
        .map(|(name, value)| format!("export {name}={}", shell_quote(&value)))
        .collect();
    lines.push(format!(
        "# the emulator serves until stopped: kill {}",
        std::process::id()
    ));
    lines
}

/// Points stdout at `/dev/null`, closing the pipe a shell's `$(…)` waits on. Best effort: if it
/// fails, stdout simply stays open.
fn release_stdout() {
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = rustix::stdio::dup2_stdout(&null);
    }
}

pub(crate) fn emulator_failure(error: EmulatorError) -> Failure {
    Failure::new("emulator", chain(&error), Exit::Rejected)
}

/// The base URL as the CLI has always printed it: without the root path's `/`, so that
/// `$BASE/echo` reads right in a shell.
fn base_url(emulator: &Emulator) -> String {
    emulator
        .base_url()
        .as_str()
        .trim_end_matches('/')
        .to_owned()
}
