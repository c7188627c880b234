//! The README's library example, as written there (a test keeps the two identical and runs this
//! against the emulator).
#![allow(
    clippy::print_stdout,
    reason = "an example program: what it prints is the point"
)]

use agent_identity_sdk::{AgentIdentityMiddleware, AuthManager, Origins};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The CLI's settings, from the same variables (see Configuration): verifies the stored token
    // and registers this process's task before returning.
    let manager = AuthManager::from_env().await?;
    // Not ready? The error says why: nothing stored, or the verdict on the stored token.
    println!("registered task {}", manager.auth()?.task_id());

    // Requests to the resource's origin get a fresh assertion, and its 401 costs one recovery
    // and one retry. Requests anywhere else go unsigned (`.strict()` makes them an error).
    let url = reqwest::Url::parse(&std::env::var("RESOURCE_URL")?)?;
    let origins = Origins::new([url.origin().ascii_serialization()])?;
    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AgentIdentityMiddleware::new(manager.clone(), origins))
        .build();
    let response = client.get(url).send().await?;
    println!("{}", response.status());

    // When the stored credentials may have changed: a transient failure keeps the cached identity.
    let outcome = manager.reload().await;
    println!("{outcome:?}");
    Ok(())
}
