//! `exec`: load the identity, then run a command with a private signing proxy on an ephemeral
//! loopback port, pass it the signals meant for it once, and exit with its status.
//!
//! The command gets the proxy's URL and client token and none of our variables (not the token,
//! not the token file, not the home). This process is made non-dumpable, so that its memory and
//! its own environment, which may hold the token, cannot be read through `/proc` by another
//! process of the same user without `CAP_SYS_PTRACE`. It is not a sandbox: the command runs as the
//! same user and can still read `auth.json` in the home.

mod env;

use std::io::ErrorKind;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt as _;
use std::time::Duration;

use agent_identity_manager::{AuthError, AuthManager};
use agent_identity_proxy::{ClientToken, Listener};
use rustix::process::{Pid, Signal, kill_process_group};
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::cli::ExecArgs;
use crate::commands::header::loaded;
use crate::commands::proxy::{
    WAIT_POLL_INTERVAL, builder, manager, manager_when_possible, proxy_failure,
};
use crate::config::Config;
use crate::error::{Exit, Failure};

/// A shell's convention for a command killed by a signal: 128 + the signal's number.
const SIGNAL_EXIT_BASE: i32 = 128;

pub(crate) async fn run(config: &Config<'_>, args: &ExecArgs) -> Result<Exit, Failure> {
    // First, before the identity is read into memory.
    non_dumpable()?;
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| Failure::usage("no command given after --"))?;
    let waited = |failure: Failure| match args.wait_for_credentials {
        Some(limit) => failure.context(&format!("not ready after waiting {limit:?}")),
        None => failure,
    };
    let manager = match args.wait_for_credentials {
        Some(limit) => wait_for_credentials(config, limit).await.map_err(waited)?,
        None => manager(config).await?,
    };
    if !args.allow_not_ready {
        loaded(&manager).map_err(waited)?;
    }
    let token = ClientToken::generate();
    let proxy = builder(manager, &args.upstream, &args.limits)
        .client_token(token.clone())
        .build()
        .map_err(proxy_failure)?;
    let loopback = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let listener = Listener::bind_tcp(loopback).await.map_err(proxy_failure)?;
    let url = listener.url().unwrap_or_default();

    let mut command = tokio::process::Command::new(program);
    command.args(rest);
    for (name, _) in std::env::vars_os() {
        if env::withheld(&name) {
            command.env_remove(name);
        }
    }
    command
        .env(env::PROXY_URL, &url)
        .env(env::PROXY_TOKEN, token.expose_secret());
    if args.openai_env {
        command
            .env(env::OPENAI_BASE_URL, &url)
            .env(env::OPENAI_API_KEY, token.expose_secret());
    }
    let terminal = in_terminal_foreground();
    if !terminal {
        // A group of its own: a signal sent to ours (`kill -INT -- -PGID` by a supervisor)
        // reaches the command once, forwarded by us.
        command.process_group(0);
    }
    // Watch the signals before the child exists, so none is lost to the default action.
    let mut signals = Signals::watch(terminal)?;
    let mut child = command.spawn().map_err(|error| not_run(program, &error))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        proxy
            .serve(listener, async {
                let _ = stopped.await;
            })
            .await
    });
    let group = child.id().and_then(|id| Pid::from_raw(id.cast_signed()));
    let status = loop {
        let forward = tokio::select! {
            status = child.wait() => break status,
            forward = signals.next() => forward,
        };
        if let (Some(pid), Some(forward)) = (group, forward) {
            // In a group of its own, the whole group: what a terminal would do.
            let _ = if terminal {
                rustix::process::kill_process(pid, forward)
            } else {
                kill_process_group(pid, forward)
            };
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

/// Makes this process non-dumpable (`PR_SET_DUMPABLE` 0): `/proc/<pid>/environ` and `mem` then
/// belong to root, and no other process of the user may attach to it. The command we start is
/// dumpable again, as every program after `execve` is.
fn non_dumpable() -> Result<(), Failure> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|error| {
            Failure::new(
                "exec",
                format!("cannot make this process non-dumpable: {error}"),
                Exit::Rejected,
            )
        })?;
    Ok(())
}

/// The manager, once the identity loads or after `limit`, whichever comes first: waits for the
/// credentials to appear (a token file mounted, a login by another process) and for the key set
/// and AuthAPI to answer. A stored identity that was refused is a verdict, not something to wait
/// out.
///
/// # Errors
/// Setting up the manager failed for a reason waiting does not cure, or still failed at `limit`.
async fn wait_for_credentials(
    config: &Config<'_>,
    limit: Duration,
) -> Result<AuthManager, Failure> {
    let deadline = Instant::now() + limit;
    let mut said = false;
    let mut say = || {
        if !said {
            tracing::info!(
                limit_secs = limit.as_secs(),
                "waiting for credentials before starting the command"
            );
            said = true;
        }
    };
    let manager = manager_when_possible(config, Some(deadline), |_| say()).await?;
    while Instant::now() < deadline && manager.auth().is_err_and(|error| worth_waiting_for(&error))
    {
        say();
        tokio::time::sleep_until(deadline.min(Instant::now() + WAIT_POLL_INTERVAL)).await;
        manager.reload().await;
    }
    Ok(manager)
}

/// Whether `error` may go away by itself: nothing stored yet, or a token file or a server that is
/// not there yet (transient, as a token file that cannot be read is).
fn worth_waiting_for(error: &AuthError) -> bool {
    matches!(error, AuthError::NotLoggedIn) || error.is_transient()
}

/// The command could not be started: 127 when it does not exist, 126 when it cannot be run, as
/// shells and `env` answer.
fn not_run(program: &std::ffi::OsStr, error: &std::io::Error) -> Failure {
    let program = program.to_string_lossy();
    if error.kind() == ErrorKind::NotFound {
        return Failure::new(
            "command_not_found",
            format!("cannot run {program}: command not found"),
            Exit::CommandNotFound,
        );
    }
    Failure::new(
        "command_not_runnable",
        format!("cannot run {program}: {error}"),
        Exit::CommandNotRunnable,
    )
}

/// Whether this process's group is its terminal's foreground group. The terminal then sends
/// Ctrl-C, Ctrl-\ and a hangup to every process of the group, the command included, so those
/// are not forwarded; the command stays in our group, where job control (Ctrl-Z, reading the
/// terminal) works as for any command a shell starts.
fn in_terminal_foreground() -> bool {
    fn foreground(fd: impl AsFd) -> bool {
        rustix::termios::isatty(&fd)
            && rustix::termios::tcgetpgrp(&fd).is_ok_and(|pgrp| pgrp == rustix::process::getpgrp())
    }
    foreground(std::io::stdin()) || foreground(std::io::stdout()) || foreground(std::io::stderr())
}

/// The signals passed on to the command.
struct Signals {
    term: tokio::signal::unix::Signal,
    /// Those a terminal sends to its whole foreground group; `None` when that is where we are.
    group: Option<[tokio::signal::unix::Signal; 3]>,
}

impl Signals {
    /// Watches SIGTERM, and SIGINT, SIGQUIT and SIGHUP unless `terminal` delivers those to the
    /// command itself. Watching a signal also replaces its default action (ending this process)
    /// for the whole run: under a terminal, Ctrl-C ends the command, and we then exit with its
    /// status.
    fn watch(terminal: bool) -> Result<Self, Failure> {
        let watch = |kind| signal(kind).map_err(signal_failure);
        let term = watch(SignalKind::terminate())?;
        let int = watch(SignalKind::interrupt())?;
        let quit = watch(SignalKind::quit())?;
        let hangup = watch(SignalKind::hangup())?;
        Ok(Self {
            term,
            group: (!terminal).then_some([int, quit, hangup]),
        })
    }

    /// The next signal to forward (`None` if a stream closed, which does not happen while the
    /// runtime runs).
    async fn next(&mut self) -> Option<Signal> {
        let Some([int, quit, hangup]) = &mut self.group else {
            return self.term.recv().await.map(|()| Signal::TERM);
        };
        tokio::select! {
            got = self.term.recv() => got.map(|()| Signal::TERM),
            got = int.recv() => got.map(|()| Signal::INT),
            got = quit.recv() => got.map(|()| Signal::QUIT),
            got = hangup.recv() => got.map(|()| Signal::HUP),
        }
    }
}

fn signal_failure(error: std::io::Error) -> Failure {
    Failure::new(
        "signal",
        format!("cannot watch signals: {error}"),
        Exit::Rejected,
    )
}
