//! `exec`: run a command with a private signing proxy on an ephemeral loopback port, forward
//! SIGINT and SIGTERM to it, and exit with its status.

use std::os::unix::process::ExitStatusExt as _;

use agent_identity_proxy::{ClientToken, Listener};
use rustix::process::{Pid, Signal, kill_process};
use tokio::signal::unix::{SignalKind, signal};

use crate::cli::ExecArgs;
use crate::commands::proxy::{builder, manager, proxy_failure};
use crate::config::Config;
use crate::error::{Exit, Failure};

/// The variables the child gets.
const URL_VAR: &str = "AGENT_IDENTITY_PROXY_URL";
const TOKEN_VAR: &str = "AGENT_IDENTITY_PROXY_TOKEN";
const OPENAI_BASE_URL_VAR: &str = "OPENAI_BASE_URL";
const OPENAI_API_KEY_VAR: &str = "OPENAI_API_KEY";
/// A shell's convention for a command killed by a signal: 128 + the signal's number.
const SIGNAL_EXIT_BASE: i32 = 128;

pub(crate) async fn run(config: &Config<'_>, args: &ExecArgs) -> Result<Exit, Failure> {
    let token = ClientToken::generate();
    let manager = manager(config).await?;
    let proxy = builder(manager, &args.upstream, &args.limits)
        .client_token(token.clone())
        .build()
        .map_err(proxy_failure)?;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = Listener::bind_tcp(loopback).await.map_err(proxy_failure)?;
    let url = listener.url().unwrap_or_default();

    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| Failure::usage("no command given after --"))?;
    let mut command = tokio::process::Command::new(program);
    command
        .args(rest)
        .env(URL_VAR, &url)
        .env(TOKEN_VAR, token.expose_secret());
    if args.openai_env {
        command
            .env(OPENAI_BASE_URL_VAR, &url)
            .env(OPENAI_API_KEY_VAR, token.expose_secret());
    }
    // Watch the signals before the child exists, so none is lost to the default action.
    let mut term = signal(SignalKind::terminate()).map_err(signal_failure)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_failure)?;
    let mut child = command.spawn().map_err(|error| {
        Failure::new(
            "exec",
            format!("cannot run {}: {error}", program.to_string_lossy()),
            Exit::Rejected,
        )
    })?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        proxy
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    let pid = child.id().and_then(|id| Pid::from_raw(id.cast_signed()));
    let status = loop {
        let forward = tokio::select! {
            status = child.wait() => break status,
            _ = term.recv() => Signal::TERM,
            _ = int.recv() => Signal::INT,
        };
        if let Some(pid) = pid {
            let _ = kill_process(pid, forward);
        }
    };
    let _ = stop.send(());
    let _ = served.await;
    let status = status.map_err(|error| {
        Failure::new(
            "exec",
            format!("cannot wait for the command: {error}"),
            Exit::Rejected,
        )
    })?;
    let code = status
        .code()
        .or_else(|| status.signal().map(|signal| SIGNAL_EXIT_BASE + signal))
        .unwrap_or(1);
    Ok(Exit::Child(u8::try_from(code & 0xff).unwrap_or(1)))
}

fn signal_failure(error: std::io::Error) -> Failure {
    Failure::new(
        "signal",
        format!("cannot watch signals: {error}"),
        Exit::Rejected,
    )
}
