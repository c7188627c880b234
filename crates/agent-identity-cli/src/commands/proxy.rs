//! `proxy`: a local reverse proxy to one upstream that signs every request as the agent, until
//! SIGTERM or Ctrl-C; it reloads the identity on SIGHUP and when the credentials change
//! (`AuthManager::watch_credentials`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_identity_manager::{AuthManager, CredentialStore as _, ReloadOutcome};
use agent_identity_proxy::{
    ClientToken, Listener, METRICS_LISTENER_PATH, Proxy, ProxyError, Waiting, check_upstream,
    serve_metrics,
};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

use crate::cli::{LimitArgs, ProxyArgs};
use crate::config::Config;
use crate::error::{Exit, Failure, chain};
use crate::output::{Output, aligned, redact, sanitize};

/// How often the credentials are looked at for changes: a login or logout by another process is
/// picked up within two looks (4 s), for one `stat` call each.
const STORE_POLL_INTERVAL: Duration = Duration::from_secs(2);

pub(crate) async fn run(
    config: &Config<'_>,
    args: &ProxyArgs,
    out: Output,
) -> Result<Exit, Failure> {
    // Before the manager exists, so that its first load's metrics are recorded too.
    let recorder = metrics_recorder();
    let given = match &args.client_token_file {
        Some(path) => Some((
            ClientToken::read_file(path).map_err(proxy_failure)?,
            path.clone(),
        )),
        None => {
            // The home is created 0700 and checked by the store's own rule before anything (the
            // manager's cache, the token file) is written into it.
            let store = config.file_store()?;
            store.check_writable()?;
            None
        }
    };
    // A wrong upstream is a usage error now, not after the credentials were waited for.
    let upstream = check_upstream(&args.upstream).map_err(proxy_failure)?;
    let (mut listener, url) = bind(&args.listen, args.listen_public, out).await?;
    let (metrics_listener, metrics_url) = match args.metrics_listen {
        Some(addr) => {
            let (task, url) = serve_metrics_on(addr, recorder.clone()).await?;
            (Some(task), Some(url))
        }
        None => (None, None),
    };
    // A token of its own per proxy, named by its port (or, on a unix socket, its pid), so that
    // a second proxy on the same home leaves the first one's clients alone; removed on exit.
    let (token, token_file, _written) = match given {
        Some((token, path)) => (token, path, None),
        None => {
            let store = config.file_store()?;
            let home = store.path().parent().unwrap_or(Path::new("."));
            let name = match listener.local_addr() {
                Some(addr) => format!("proxy-{}.token", addr.port()),
                None => format!("proxy-pid{}.token", std::process::id()),
            };
            let path = home.join(name);
            let token = ClientToken::generate();
            token.write_file(&path).map_err(proxy_failure)?;
            let written = RemoveOnDrop(path.clone());
            (token, path, Some(written))
        }
    };
    // Watch the signals before saying where it listens: a parent that stops it (or asks it to
    // reload) as soon as it has read the first line must not meet the default action.
    let shutdown = shutdown_signal()?;
    tokio::pin!(shutdown);
    let hangup = signal(SignalKind::hangup()).map_err(signal_failure)?;
    // The threads serving requests, as the runtime reports them (`--workers` chose its shape).
    let workers = tokio::runtime::Handle::current().metrics().num_workers();
    let announce = |state: &str| {
        if out.is_json() {
            out.json_line(&json!({
                "url": url,
                "client_token_file": redact(&token_file.display().to_string()),
                "upstream": upstream.as_str(),
                "state": state,
                "metrics_url": metrics_url,
                "workers": workers,
            }));
        } else {
            out.line(format!("proxy listening on {url}"));
            let mut rows = vec![
                ("upstream", upstream.to_string()),
                (
                    "client token file",
                    redact(&token_file.display().to_string()),
                ),
                ("state", state.to_owned()),
                ("workers", workers.to_string()),
            ];
            if let Some(metrics_url) = &metrics_url {
                rows.push(("metrics", metrics_url.clone()));
            }
            out.line(aligned(&rows));
        }
    };
    let manager = match manager(config).await {
        Ok(manager) => {
            announce(manager.state().name());
            manager
        }
        Err(failure) if may_pass(config, &failure) => {
            let waiting = Waiting::new(Some(token.clone()), reason(config, failure));
            announce("waiting");
            out.warning(&format!("waiting for credentials: {}", waiting.reason()));
            let deadline = args
                .wait_for_credentials
                .map(|limit| Instant::now() + limit);
            let built = async {
                tokio::select! {
                    built = manager_when_possible(config, deadline, |failure| {
                        waiting.set_reason(reason(config, failure));
                    }) => Some(built),
                    () = &mut shutdown => None,
                }
            };
            let (handed_back, built) = waiting
                .serve(listener, built)
                .await
                .map_err(proxy_failure)?;
            listener = handed_back;
            match built {
                Some(Ok(manager)) => {
                    tracing::info!("the credentials appeared: serving");
                    manager
                }
                Some(Err(failure)) if may_pass(config, &failure) => {
                    let limit = args.wait_for_credentials.unwrap_or_default();
                    return Err(Failure::new(
                        "credentials_not_ready",
                        format!(
                            "not ready after waiting {limit:?}: {}",
                            reason(config, failure)
                        ),
                        Exit::TempFail,
                    ));
                }
                Some(Err(failure)) => return Err(failure),
                // Stopped while waiting: nothing was in flight but answers of the stand-in.
                None => return Ok(Exit::Success),
            }
        }
        Err(failure) => return Err(failure),
    };
    let mut builder = builder(manager.clone(), &args.upstream, &args.limits);
    if let Some(handle) = recorder {
        builder = builder.metrics(move || handle.render());
    }
    if out.is_json() {
        builder = builder.access_log(move |record| out.json_line(&record.to_json()));
    }
    let proxy = builder.client_token(token).build().map_err(proxy_failure)?;
    let _watch = manager.watch_credentials(STORE_POLL_INTERVAL);
    let reloader = tokio::spawn(reload_on_hangup(manager, hangup));
    let served = proxy.serve(listener, shutdown).await;
    reloader.abort();
    if let Some(metrics) = metrics_listener {
        metrics.abort();
    }
    served.map_err(proxy_failure)?;
    Ok(Exit::Success)
}

/// How often a missing token file (or a server not answering) is looked at again while the
/// credentials are awaited: an appearing file is noticed within a second, for one `stat` (or one
/// key-set fetch while it is unreachable) each time.
pub(crate) const WAIT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Whether a failure to set the manager up may pass by itself: a token file not mounted yet (a
/// missing one is not a wrong setting while it is awaited), a server not answering yet.
fn may_pass(config: &Config<'_>, failure: &Failure) -> bool {
    failure.exit() == Exit::TempFail || config.global().missing_token_file().is_some()
}

/// The manager as [`manager`] builds it, built again every [`WAIT_POLL_INTERVAL`] while it fails
/// for a reason that may pass by itself and `deadline` (if any) is ahead; `waiting` is told each
/// such failure.
///
/// # Errors
/// The failure of the last try: one waiting does not cure, or any at `deadline`.
pub(crate) async fn manager_when_possible(
    config: &Config<'_>,
    deadline: Option<Instant>,
    mut waiting: impl FnMut(Failure),
) -> Result<AuthManager, Failure> {
    loop {
        match manager(config).await {
            Ok(manager) => return Ok(manager),
            Err(failure)
                if may_pass(config, &failure)
                    && deadline.is_none_or(|deadline| Instant::now() < deadline) =>
            {
                waiting(failure);
            }
            Err(failure) => return Err(failure),
        }
        let next = Instant::now() + WAIT_POLL_INTERVAL;
        tokio::time::sleep_until(deadline.map_or(next, |deadline| deadline.min(next))).await;
    }
}

/// What a waiting proxy answers: the failure as the command would report it, with its fix.
fn reason(config: &Config<'_>, failure: Failure) -> String {
    let failure = crate::explain::explain(failure, config.global());
    redact(&sanitize(failure.message()))
}

/// Binds `addr` (loopback only: the metrics need no token) and serves `/metrics` on it until the
/// returned task is aborted. Returns the task and the URL to scrape.
async fn serve_metrics_on(
    addr: SocketAddr,
    recorder: Option<PrometheusHandle>,
) -> Result<(tokio::task::JoinHandle<()>, String), Failure> {
    if !addr.ip().is_loopback() {
        return Err(Failure::usage(format!(
            "--metrics-listen {addr} is not a loopback address: the metrics are served without \
             the client token, so only to this machine"
        )));
    }
    let Some(handle) = recorder else {
        return Err(Failure::new(
            "metrics",
            "--metrics-listen cannot be served: another metrics recorder is installed",
            Exit::Rejected,
        ));
    };
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| {
            proxy_failure(ProxyError::Listen {
                what: addr.to_string(),
                source,
            })
        })?;
    let url = listener
        .local_addr()
        .map(|addr| format!("http://{addr}{METRICS_LISTENER_PATH}"))
        .unwrap_or_default();
    let task = tokio::spawn(serve_metrics(listener, move || handle.render()));
    Ok((task, url))
}

/// Request durations' histogram buckets, in seconds: from a local answer (a millisecond) to a
/// model's long non-streaming answer (five minutes, the response-header timeout's default).
const DURATION_BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 300.0,
];
/// How often the recorder folds recent histogram samples in, bounding its memory.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the process's Prometheus recorder, which then holds the library's metrics and the
/// proxy's own, and returns its handle, which renders it. `None` (with a warning in the log) when a recorder was
/// already installed.
fn metrics_recorder() -> Option<PrometheusHandle> {
    use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(agent_identity_proxy::metrics::REQUEST_DURATION.to_owned()),
            &DURATION_BUCKETS,
        )
        .and_then(PrometheusBuilder::install_recorder)
        .inspect_err(|error| tracing::warn!(%error, "metrics are not served"))
        .ok()?;
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(METRICS_UPKEEP_INTERVAL);
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Some(handle)
}

/// A file of ours that goes when the command ends, however it ends short of a crash.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The manager as every command builds it.
pub(crate) async fn manager(config: &Config<'_>) -> Result<AuthManager, Failure> {
    let verifier = config.verifier()?;
    let tasks = config.task_client()?;
    let store = config.store()?;
    Ok(AuthManager::with_task_reuse(verifier, tasks, store, config.task_reuse()).await?)
}

/// A proxy builder with the limits of the command line.
pub(crate) fn builder(
    manager: AuthManager,
    upstream: &str,
    limits: &LimitArgs,
) -> agent_identity_proxy::ProxyBuilder {
    Proxy::builder(manager, upstream)
        .header_read_timeout(Duration::from_secs(limits.header_read_timeout))
        // At most 1 GiB (clap's range), which fits any usize we build for.
        .max_header_bytes(usize::try_from(limits.max_header_bytes).unwrap_or(usize::MAX))
        .max_connections(limits.max_connections)
        .connect_timeout(Duration::from_secs(limits.connect_timeout))
        .response_header_timeout(Duration::from_secs(limits.response_header_timeout))
        .drain_timeout(Duration::from_secs(limits.drain_timeout))
}

/// Binds `--listen`: `unix:PATH` or a socket address, loopback unless `public` (then with a
/// warning). Returns the listener and the URL (or `unix:PATH`) clients use.
async fn bind(listen: &str, public: bool, out: Output) -> Result<(Listener, String), Failure> {
    if let Some(path) = listen.strip_prefix("unix:") {
        let path = PathBuf::from(path);
        let listener = Listener::bind_unix(&path).map_err(proxy_failure)?;
        return Ok((listener, format!("unix:{}", path.display())));
    }
    let addr: std::net::SocketAddr = listen.parse().map_err(|_| {
        Failure::usage(format!(
            "invalid --listen {listen:?}: expected ADDR:PORT or unix:PATH"
        ))
    })?;
    if !addr.ip().is_loopback() {
        if !public {
            return Err(Failure::usage(format!(
                "--listen {addr} is not a loopback address: other machines could reach the proxy; \
                 pass --listen-public if that is meant, or use unix:PATH on a shared host"
            )));
        }
        out.warning(&format!(
            "listening on {addr}, beyond this machine: anyone who can reach it and holds the client token acts as the agent"
        ));
    }
    let listener = Listener::bind_tcp(addr).await.map_err(proxy_failure)?;
    let url = listener.url().unwrap_or_default();
    Ok((listener, url))
}

/// Completes on the first SIGTERM or SIGINT.
pub(crate) fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>, Failure> {
    let mut term = signal(SignalKind::terminate()).map_err(signal_failure)?;
    let mut int = signal(SignalKind::interrupt()).map_err(signal_failure)?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining"),
            _ = int.recv() => tracing::info!("SIGINT: draining"),
        }
    })
}

/// Reloads on every SIGHUP, as daemons do.
async fn reload_on_hangup(manager: AuthManager, mut hangup: tokio::signal::unix::Signal) {
    while hangup.recv().await.is_some() {
        let outcome = match manager.reload().await {
            ReloadOutcome::Unchanged => "unchanged",
            ReloadOutcome::Updated => "updated",
            ReloadOutcome::LoggedOut { .. } => "logged_out",
            _ => "kept_cached",
        };
        tracing::info!(outcome, "SIGHUP: reloaded the identity");
    }
}

pub(crate) fn proxy_failure(error: ProxyError) -> Failure {
    let exit = match error {
        ProxyError::InvalidUpstream(_) | ProxyError::ClientTokenRequired => Exit::Usage,
        _ => Exit::Rejected,
    };
    Failure::new("proxy", chain(&error), exit)
}

fn signal_failure(error: std::io::Error) -> Failure {
    Failure::new(
        "signal",
        format!("cannot watch signals: {error}"),
        Exit::Rejected,
    )
}
