//! `proxy_vs_nginx`: the CPU time our proxy spends per request against nginx's, under the same
//! load from the same load generator, in front of the same upstream.
//!
//! nginx is what an operator would otherwise reach for: `proxy_pass` with keep-alive to the
//! upstream, one worker, a static `Authorization` header, no access log. Ours signs every request
//! (the headers are memoised for about a second, as in production) and keeps every limit.
//!
//! The load generator is wrk: one thread, 32 connections, for a fixed duration. wrk rather than
//! oha because it is a small C program that costs far less CPU per request than either proxy,
//! so on a 2-core machine it takes the least from the side being measured, and it reports the
//! latency quantiles itself (`--latency`). Each round runs both sides back to back, alternating
//! which goes first; the ratio is the median of the rounds' CPU-per-request ratios, with the
//! throughput and p99 ratios of the same rounds beside it. CPU time is read from `schedstat`:
//! the thread our proxy runs on (a current-thread runtime, as `--workers 1` gives) for ours, the nginx processes for nginx.
//!
//! Then, at low load (one connection, one request at a time), the p50 and p99 latency through
//! ours, through nginx and to the upstream directly, and the bench process's resident size at
//! rest and at its peak under load.
//!
//! When nginx or wrk is missing the bench prints how to install them and reports nothing.

use std::convert::Infallible;
use std::error::Error;
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use agent_identity_emulator::Emulator;
use agent_identity_proxy::ClientToken;
use agent_identity_tests::bench::{Paired, quick_mode, report_paired};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

const BENCH: &str = "proxy_vs_nginx";
/// 1.5: the target for our CPU per request against nginx's.
const TARGET: f64 = 1.5;
/// 0.8: the target for our throughput against nginx's, under the same load.
const THROUGHPUT_TARGET: f64 = 0.8;
/// 1.5: the target for our p99 latency against nginx's, under the same load.
const P99_TARGET: f64 = 1.5;
/// Concurrent connections of the load: the number the target was set for.
const CONNECTIONS: usize = 32;

type BoxError = Box<dyn Error>;

#[path = "support/schedstat.rs"]
mod schedstat;
#[path = "support/signing_proxy.rs"]
mod signing_proxy;

fn main() -> Result<(), BoxError> {
    for (tool, package) in [("nginx", "nginx"), ("wrk", "wrk")] {
        if !on_path(tool) {
            eprintln!(
                "{BENCH}: skipped, {tool} is not installed (`apt-get install {package}` or your platform's package)"
            );
            return Ok(());
        }
    }
    let (seconds, rounds) = if quick_mode() { (1, 3) } else { (3, 7) };

    // The proxy under test alone on a thread of its own, as `agent-identity proxy` runs with its
    // default `--workers 1` (and as nginx has one worker); the upstream and the emulator on
    // threads of their own.
    let side_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("upstream")
        .enable_all()
        .build()?;
    let upstream = side_rt.block_on(serve_upstream())?;
    let emulator = Arc::new(side_rt.block_on(Emulator::start())?);
    let proxy = ProxyThread::start(Arc::clone(&emulator), upstream)?;
    let (ours, token) = (proxy.addr, proxy.token.clone());
    let ours_cpu = &proxy.cpu;
    let at_rest_kib = status_kib("VmRSS:")?;

    let dir = tempfile::tempdir()?;
    let nginx = Nginx::start(dir.path(), upstream)?;
    // Every request carries the client token (nginx replaces it with its static header); a wrk
    // script sets it, so the token is not on a command line.
    let script = dir.path().join("headers.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.headers[\"Authorization\"] = \"Bearer {}\"\n",
            token.expose_secret()
        ),
    )?;
    let ours_url = format!("http://{ours}/v1/ping?x=1");
    let nginx_url = format!("http://{}/v1/ping?x=1", nginx.addr);
    let direct_url = format!("http://{upstream}/v1/ping?x=1");
    // Warm both (connections, the first signature, nginx's upstream keep-alive).
    wrk(&script, &ours_url, CONNECTIONS, 1)?;
    wrk(&script, &nginx_url, CONNECTIONS, 1)?;

    let mut cpu = Vec::new();
    let mut throughput = Vec::new();
    let mut p99 = Vec::new();
    for round in 0..rounds {
        let run_ours = || -> Result<Round, BoxError> {
            let before = ours_cpu.nanos()?;
            let run = wrk(&script, &ours_url, CONNECTIONS, seconds)?;
            Ok(Round::new(run, ours_cpu.nanos()? - before))
        };
        let run_nginx = || -> Result<Round, BoxError> {
            let cpu = nginx.cpu()?;
            let before = cpu.nanos()?;
            let run = wrk(&script, &nginx_url, CONNECTIONS, seconds)?;
            Ok(Round::new(run, cpu.nanos()? - before))
        };
        let (a, b) = if round % 2 == 0 {
            let a = run_ours()?;
            (a, run_nginx()?)
        } else {
            let b = run_nginx()?;
            (run_ours()?, b)
        };
        eprintln!(
            "{BENCH} round {round}: ours {:.0} req/s, {:.1} µs cpu/req, p99 {:.2} ms; nginx {:.0} req/s, {:.1} µs cpu/req, p99 {:.2} ms",
            a.run.requests_per_second,
            a.cpu_ns_per_request / 1e3,
            a.run.p99_ns / 1e6,
            b.run.requests_per_second,
            b.cpu_ns_per_request / 1e3,
            b.run.p99_ns / 1e6,
        );
        cpu.push((a.cpu_ns_per_request, b.cpu_ns_per_request));
        // As time per request, so that the ratio reads like the others: lower is better.
        throughput.push((
            1e9 / a.run.requests_per_second,
            1e9 / b.run.requests_per_second,
        ));
        p99.push((a.run.p99_ns, b.run.p99_ns));
    }
    let cpu = Paired::from_rounds(&cpu, 1);
    let throughput = Paired::from_rounds(&throughput, 1);
    let p99 = Paired::from_rounds(&p99, 1);
    let throughput_ratio = 1.0 / throughput.ratio();
    let verdict = |met: bool| if met { "ok" } else { "MISS" };
    eprintln!(
        "{BENCH}: cpu per request ratio {:.3} (target ≤ {TARGET}, {}), throughput ratio {throughput_ratio:.3} (target ≥ {THROUGHPUT_TARGET}, {}), p99 ratio {:.3} (target ≤ {P99_TARGET}, {})",
        cpu.ratio(),
        verdict(cpu.ratio() <= TARGET),
        verdict(throughput_ratio >= THROUGHPUT_TARGET),
        p99.ratio(),
        verdict(p99.ratio() <= P99_TARGET),
    );

    // Low load: one connection, one request at a time.
    let low_seconds = if quick_mode() { 1 } else { 3 };
    let low_ours = wrk(&script, &ours_url, 1, low_seconds)?;
    let low_nginx = wrk(&script, &nginx_url, 1, low_seconds)?;
    let low_direct = wrk(&script, &direct_url, 1, low_seconds)?;
    for (name, run) in [
        ("ours", &low_ours),
        ("nginx", &low_nginx),
        ("direct", &low_direct),
    ] {
        eprintln!(
            "{BENCH} one connection, sequential, {name}: p50 {:.1} µs, p99 {:.1} µs",
            run.p50_ns / 1e3,
            run.p99_ns / 1e3
        );
    }
    // The peak resident size came under the 32-connection load.
    let peak_kib = status_kib("VmHWM:")?;
    eprintln!(
        "{BENCH}: bench process (proxy, upstream, emulator) resident size {at_rest_kib} KiB at rest, peak {peak_kib} KiB under load"
    );

    report_paired(
        BENCH,
        &cpu,
        "nginx proxy_pass, one worker, keep-alive upstream, static header",
        TARGET,
        &[
            ("throughput_ratio", throughput_ratio),
            ("p99_ratio", p99.ratio()),
            ("low_load_p50_ours_ns", low_ours.p50_ns),
            ("low_load_p99_ours_ns", low_ours.p99_ns),
            ("low_load_p50_nginx_ns", low_nginx.p50_ns),
            ("low_load_p99_nginx_ns", low_nginx.p99_ns),
            ("low_load_p50_direct_ns", low_direct.p50_ns),
            ("low_load_p99_direct_ns", low_direct.p99_ns),
        ],
    );
    drop(nginx);
    drop(proxy);
    drop(emulator);
    Ok(())
}

/// Whether `tool` is an executable file in one of `PATH`'s directories.
fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| {
            std::fs::metadata(dir.join(tool)).is_ok_and(|meta| {
                meta.is_file()
                    && std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0
            })
        })
    })
}

/// One side of a round.
struct Round {
    run: WrkRun,
    cpu_ns_per_request: f64,
}

impl Round {
    fn new(run: WrkRun, cpu_ns: u64) -> Self {
        let cpu_ns_per_request = cpu_ns as f64 / run.requests.max(1) as f64;
        Self {
            run,
            cpu_ns_per_request,
        }
    }
}

/// What one wrk run reported.
struct WrkRun {
    requests: u64,
    requests_per_second: f64,
    p50_ns: f64,
    p99_ns: f64,
}

/// Runs wrk (one thread) against `url` and reads its report. Any response other than 2xx or
/// 3xx, or any socket error, is an error: the bench would be measuring refusals.
fn wrk(script: &Path, url: &str, connections: usize, seconds: u64) -> Result<WrkRun, BoxError> {
    let output = Command::new("wrk")
        .args(["-t1", "--latency", "-c"])
        .arg(connections.to_string())
        .arg("-d")
        .arg(format!("{seconds}s"))
        .arg("-s")
        .arg(script)
        .arg(url)
        .stdin(Stdio::null())
        .output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!("wrk failed ({}): {text}", output.status).into());
    }
    if text.contains("Non-2xx") || text.contains("Socket errors") {
        return Err(format!("wrk saw failed requests against {url}:\n{text}").into());
    }
    parse_wrk(&text).ok_or_else(|| format!("unexpected wrk output:\n{text}").into())
}

fn parse_wrk(text: &str) -> Option<WrkRun> {
    let mut run = WrkRun {
        requests: 0,
        requests_per_second: f64::NAN,
        p50_ns: f64::NAN,
        p99_ns: f64::NAN,
    };
    for line in text.lines() {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(count), Some("requests"), Some("in")) => run.requests = count.parse().ok()?,
            (Some("Requests/sec:"), Some(rate), _) => {
                run.requests_per_second = rate.parse().ok()?
            }
            (Some("50%"), Some(latency), None) => run.p50_ns = wrk_duration_ns(latency)?,
            (Some("99%"), Some(latency), None) => run.p99_ns = wrk_duration_ns(latency)?,
            _ => {}
        }
    }
    (run.requests > 0 && run.requests_per_second.is_finite() && run.p99_ns.is_finite())
        .then_some(run)
}

/// wrk's durations: `850.00us`, `1.23ms`, `2.00s`.
fn wrk_duration_ns(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(number) = text.strip_suffix("us") {
        (number, 1e3)
    } else if let Some(number) = text.strip_suffix("ms") {
        (number, 1e6)
    } else if let Some(number) = text.strip_suffix('s') {
        (number, 1e9)
    } else {
        return None;
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// The CPU time of a set of threads or processes, from their `schedstat` files.
struct CpuOf {
    paths: Vec<PathBuf>,
}

impl CpuOf {
    /// The calling thread.
    fn this_thread() -> Result<Self, BoxError> {
        Ok(Self {
            paths: vec![schedstat::of_this_thread()?],
        })
    }

    fn nanos(&self) -> Result<u64, BoxError> {
        let mut total = 0;
        for path in &self.paths {
            total += schedstat::nanos(path)?;
        }
        Ok(total)
    }
}

/// Our proxy on a thread of its own, with a current-thread runtime, until dropped.
struct ProxyThread {
    addr: SocketAddr,
    token: ClientToken,
    cpu: CpuOf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProxyThread {
    fn start(emulator: Arc<Emulator>, upstream: SocketAddr) -> Result<Self, BoxError> {
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("proxy-under-test".to_owned())
            .spawn(move || {
                let started = (|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let (addr, token) =
                        runtime.block_on(signing_proxy::start(&emulator, upstream))?;
                    Ok::<_, BoxError>((runtime, addr, token, CpuOf::this_thread()?))
                })();
                match started {
                    Ok((runtime, addr, token, cpu)) => {
                        let _ = started_tx.send(Ok((addr, token, cpu)));
                        // The proxy's tasks run while the runtime is driven, here.
                        let _ = runtime.block_on(stopped);
                    }
                    Err(error) => {
                        let _ = started_tx.send(Err(error.to_string()));
                    }
                }
            })?;
        let (addr, token, cpu) = started_rx.recv()??;
        Ok(Self {
            addr,
            token,
            cpu,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for ProxyThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// nginx in the foreground, from a configuration in a temporary directory.
struct Nginx {
    child: Child,
    addr: SocketAddr,
}

impl Nginx {
    fn start(dir: &Path, upstream: SocketAddr) -> Result<Self, BoxError> {
        let addr = free_port()?;
        let dir_text = dir.to_str().ok_or("temporary directory is not UTF-8")?;
        let config = format!(
            r#"worker_processes 1;
daemon off;
pid {dir_text}/nginx.pid;
error_log {dir_text}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {dir_text}/body;
    proxy_temp_path {dir_text}/proxy;
    fastcgi_temp_path {dir_text}/fastcgi;
    uwsgi_temp_path {dir_text}/uwsgi;
    scgi_temp_path {dir_text}/scgi;
    upstream backend {{
        server {upstream};
        keepalive 64;
    }}
    server {{
        listen {addr};
        location / {{
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Authorization "Bearer static";
        }}
    }}
}}
"#
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, config)?;
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let nginx = Self { child, addr };
        // Up when it accepts a connection and its worker is running; a bench may poll.
        for _ in 0..200 {
            if TcpStream::connect(addr).is_ok() && nginx.cpu().is_ok_and(|cpu| cpu.paths.len() > 1)
            {
                return Ok(nginx);
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        Err(format!(
            "nginx did not start; see {}",
            dir.join("error.log").display()
        )
        .into())
    }

    /// The master and its workers.
    fn cpu(&self) -> Result<CpuOf, BoxError> {
        let master = self.child.id();
        let children = std::fs::read_to_string(format!("/proc/{master}/task/{master}/children"))?;
        let paths = std::iter::once(master.to_string())
            .chain(children.split_whitespace().map(str::to_owned))
            .map(|pid| Path::new("/proc").join(pid).join("schedstat"))
            .collect();
        Ok(CpuOf { paths })
    }
}

impl Drop for Nginx {
    /// SIGTERM, nginx's fast shutdown: the master stops its worker and exits. A SIGKILL would
    /// leave the worker behind, orphaned, still holding its port.
    fn drop(&mut self) {
        let terminated = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        if terminated {
            for _ in 0..200 {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback address with a free port, for nginx to listen on.
fn free_port() -> Result<SocketAddr, BoxError> {
    Ok(StdListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))?.local_addr()?)
}

/// A size from the bench process's `/proc/self/status` (`VmRSS:` now, `VmHWM:` its peak), in KiB.
fn status_kib(field: &str) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("no {field} in /proc/self/status").into())
}

/// The upstream both proxies forward to: a small 200 on every path.
async fn serve_upstream() -> Result<SocketAddr, BoxError> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(
                        TokioIo::new(stream),
                        service_fn(|_request: Request<Incoming>| async {
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                                b"{\"ok\":true}",
                            ))))
                        }),
                    )
                    .await;
            });
        }
    });
    Ok(addr)
}
