//! `emulator`: run the local AuthAPI/JWKS emulator until SIGTERM or Ctrl-C, then stop
//! gracefully (requests in flight finish) and exit 0.

use agent_identity_emulator::{Emulator, EmulatorError};
use serde_json::json;

use crate::cli::EmulatorArgs;
use crate::error::{Exit, Failure, chain};
use crate::output::{Output, aligned};

pub(crate) async fn run(args: &EmulatorArgs, out: Output) -> Result<Exit, Failure> {
    let emulator = Emulator::builder()
        .listen(args.listen)
        .start()
        .await
        .map_err(emulator_failure)?;
    // Watch the signals before saying where it listens: a parent that stops it as soon as it has
    // read the first line must get a clean stop, not the default action (death by SIGTERM).
    let shutdown = crate::commands::proxy::shutdown_signal()?;
    // The first line is what a parent process waits for; `Output` flushes every line.
    if out.is_json() {
        out.json_line(&json!({
            "listening_on": emulator.local_addr().to_string(),
            "base_url": base_url(&emulator),
            "jwks_url": emulator.jwks_url().as_str(),
            "authapi_base_url": emulator.authapi_base_url().as_str(),
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
    if !out.is_json() {
        out.line("emulator stopped");
    }
    Ok(Exit::Success)
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
