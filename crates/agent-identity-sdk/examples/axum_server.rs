//! A resource server in axum that accepts agents' requests: `AgentAssertionLayer` in front of
//! the routes, a `VerifiedAgent` in the handler, and the directory of runtimes and tasks
//! refreshed in the background from what the issuer exported.
//!
//! Run it with the directory file as its argument, and optionally the address to listen on:
//! `cargo run -p agent-identity-sdk --features server --example axum_server -- directory.json`.
//! The file is the issuer's export (in the deployed system only the AuthAPI knows runtimes and
//! tasks), of the form
//! `{"runtimes": {"<runtime id>": {"public_key": [32 bytes], "account_id": "…", "fedramp": false, "tasks": ["…"]}}}`.
//! The server never builds its directory from an agent's token.
#![allow(
    clippy::print_stdout,
    reason = "an example program: what it prints is the point"
)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_identity_sdk::server::{
    AgentAssertionLayer, KnownRuntime, RefreshingDirectory, StaticDirectory, VerifiedAgent,
};
use axum::Json;
use axum::routing::get;
use serde_json::{Value, json};

/// How often the directory is read again: a revoked task stops working within this.
const REFRESH_INTERVAL: Duration = Duration::from_secs(30);

/// A handler sees only verified agents: the layer answered everyone else with a 401.
async fn whoami(agent: VerifiedAgent) -> Json<Value> {
    Json(json!({
        "runtime_id": agent.runtime_id().as_str(),
        "task_id": agent.task_id().as_str(),
        "account_id": agent.account_id().as_str(),
        "fedramp": agent.is_fedramp(),
    }))
}

/// Reads the issuer's export into a directory. Any error keeps the previous copy in service.
fn load_directory(path: &Path) -> Result<StaticDirectory, String> {
    let text = std::fs::read(path).map_err(|error| format!("{}: {error}", path.display()))?;
    let export: Value = serde_json::from_slice(&text).map_err(|error| error.to_string())?;
    let runtimes = export["runtimes"]
        .as_object()
        .ok_or("the export has no `runtimes` object")?;
    let mut directory = StaticDirectory::new();
    for (runtime_id, runtime) in runtimes {
        let key: Vec<u8> = runtime["public_key"]
            .as_array()
            .ok_or("a runtime has no `public_key`")?
            .iter()
            .map(|byte| byte.as_u64().and_then(|byte| u8::try_from(byte).ok()))
            .collect::<Option<_>>()
            .ok_or("a public key byte is not 0..=255")?;
        let key: [u8; 32] = key.try_into().map_err(|_| "a public key is not 32 bytes")?;
        let account = runtime["account_id"]
            .as_str()
            .ok_or("a runtime has no `account_id`")?;
        let fedramp = runtime["fedramp"].as_bool().unwrap_or(false);
        directory = directory.with_runtime(
            runtime_id.as_str(),
            KnownRuntime::new(key, account).fedramp(fedramp),
        );
        for task in runtime["tasks"].as_array().into_iter().flatten() {
            let task = task.as_str().ok_or("a task id is not a string")?;
            directory = directory.with_task(runtime_id.as_str(), task);
        }
    }
    Ok(directory)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let path = PathBuf::from(
        args.next()
            .ok_or("usage: axum_server DIRECTORY.json [ADDRESS]")?,
    );
    let address = args.next().map_or_else(
        || "127.0.0.1:8080".to_owned(),
        |a| a.to_string_lossy().into_owned(),
    );

    // The first copy must load; later failures keep the last good one.
    let directory = RefreshingDirectory::new(load_directory(&path)?);
    let _refresher = directory.refresh_every(
        REFRESH_INTERVAL,
        move || {
            let loaded = load_directory(&path);
            async move { loaded }
        },
        |error| eprintln!("directory refresh failed, keeping the last copy: {error}"),
    );

    let app = axum::Router::new()
        .route("/whoami", get(whoami))
        .layer(AgentAssertionLayer::new(directory));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
