//! `emulator`: run the local AuthAPI/JWKS emulator until Ctrl-C.

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
    // The first line is what a parent process waits for; `Output` flushes every line.
    if out.is_json() {
        out.json_line(&json!({
            "base_url": emulator.base_url(),
            "jwks_url": emulator.jwks_url(),
            "authapi_base_url": emulator.authapi_base_url(),
        }));
    } else {
        out.line(format!("emulator listening on {}", emulator.base_url()));
        out.line(aligned(&[
            ("jwks url", emulator.jwks_url()),
            ("authapi base url", emulator.authapi_base_url()),
            ("chatgpt base url", emulator.chatgpt_base_url()),
            ("echo url", format!("{}/echo", emulator.base_url())),
            ("issuer", emulator.issuer().to_owned()),
            ("audience", emulator.audience().to_owned()),
            ("algorithm", emulator.algorithm().to_string()),
        ]));
        out.line("press Ctrl-C to stop");
    }
    tokio::signal::ctrl_c().await.map_err(|error| {
        Failure::new(
            "signal",
            format!("cannot wait for Ctrl-C: {error}"),
            Exit::Rejected,
        )
    })?;
    emulator.shutdown().await;
    if !out.is_json() {
        out.line("emulator stopped");
    }
    Ok(Exit::Success)
}

pub(crate) fn emulator_failure(error: EmulatorError) -> Failure {
    Failure::new("emulator", chain(&error), Exit::Rejected)
}
