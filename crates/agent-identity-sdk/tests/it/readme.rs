//! The README's library example: the program in `examples/readme.rs` is the README's block
//! verbatim, and it runs as written (a process, configured only through the environment, as the
//! README says) against the emulator.

use std::process::Stdio;

use agent_identity_sdk::emulator::Emulator;
use agent_identity_sdk::{CredentialStore as _, FileStore, SigningAlgorithm};

const README: &str = include_str!("../../../../README.md");
const EXAMPLE: &str = include_str!("../../examples/readme.rs");

/// The README's library example: the `rust,no_run` block that uses the middleware.
fn readme_block() -> &'static str {
    let start = README
        .find("```rust,no_run\nuse agent_identity_sdk::{AgentIdentityMiddleware, AuthManager, Origins};")
        .expect("the README's library example");
    let body = &README[start..];
    let body = &body[body.find('\n').expect("fence line") + 1..];
    &body[..body.find("```\n").expect("closing fence")]
}

#[test]
fn the_example_is_the_readme_block_verbatim() {
    let code = EXAMPLE
        .split_once("\n\n")
        .map(|(_, code)| code)
        .expect("the example's code after its header comment");
    assert_eq!(code, readme_block());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_library_example_runs_as_written_against_the_emulator() {
    // RS256, as ChatGPT signs and as `from_env` accepts by default.
    let emulator = Emulator::builder()
        .algorithm(SigningAlgorithm::Rs256)
        .start()
        .await
        .expect("emulator");
    let home = tempfile::tempdir().expect("home");
    let minted = emulator.mint().issue().expect("mint");
    FileStore::new(home.path())
        .save(&minted.token)
        .expect("log in");
    let mut command = tokio::process::Command::new(env!("CARGO"));
    command
        .args([
            "run",
            "--quiet",
            "--package",
            "agent-identity-sdk",
            // Every feature, as the test build has them: the build is shared, not redone.
            "--all-features",
            "--example",
            "readme",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("AGENT_IDENTITY_") || name.starts_with("CODEX_") {
            command.env_remove(name.as_ref());
        }
    }
    command
        .env("AGENT_IDENTITY_HOME", home.path())
        .env("AGENT_IDENTITY_JWKS_URL", emulator.jwks_url().to_string())
        .env(
            "AGENT_IDENTITY_AUTHAPI_BASE_URL",
            emulator.authapi_base_url().to_string(),
        )
        .env("AGENT_IDENTITY_ISSUER", emulator.issuer())
        .env("AGENT_IDENTITY_AUDIENCE", emulator.audience())
        .env("RESOURCE_URL", emulator.echo_url().to_string());
    let output = command.output().await.expect("cargo runs the example");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(lines[0].starts_with("registered task "), "{stdout}");
    assert_eq!(lines[1], "200 OK");
    assert_eq!(lines[2], "Unchanged");
    assert_eq!(emulator.assertions_accepted(), 1);
    assert_eq!(emulator.registrations(), 1);
}
