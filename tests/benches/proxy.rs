//! Proxy benchmarks: one request through `agent-identity-proxy` (signing with a fresh assertion)
//! against the same request through a pass-through proxy built here on the same HTTP stack
//! (hyper server, hyper-util pooled client) without signing; and 64 concurrent requests over
//! keep-alive connections through each, reported as the time for the 64 (the ratio is that of
//! the time per request).
//!
//! Both are measured in paired rounds ([`measure_paired`]): the ratio is the median of each
//! round's ours-over-baseline, so load that comes and goes (other builds on a 2-core machine)
//! weighs on both sides of a round alike. The throughput line adds the CPU time the proxy's
//! thread spent per request on each side, and its ratio: the proxy's own cost, which the
//! scheduler barely moves.
//!
//! The pass-through proxy is configured as ours is — the same server header-read timeout and
//! header-size limit, the same pooled client with its idle timer, the same response-header
//! timeout — so that the ratio is the cost of being the agent (the client token, stripping and
//! adding identity headers, the assertion), not of the limits any production proxy keeps.

use std::convert::Infallible;
use std::error::Error;
use std::net::SocketAddr;
use std::time::Duration;

use agent_identity_emulator::Emulator;
use agent_identity_proxy::{
    ClientToken, DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_HEADER_BYTES,
    DEFAULT_RESPONSE_HEADER_TIMEOUT,
};
use agent_identity_tests::bench::{measure_paired, report_paired};

#[path = "support/schedstat.rs"]
mod schedstat;
#[path = "support/signing_proxy.rs"]
mod signing_proxy;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};

/// 1.15: the target for one request against the pass-through proxy.
const REQUEST_TARGET: f64 = 1.15;
/// 1.11: the throughput target (≥ 0.9 of the pass-through), as time per request.
const THROUGHPUT_TARGET: f64 = 1.0 / 0.9;
/// Concurrent keep-alive connections in the throughput bench: the number the target was set for.
const CONNECTIONS: usize = 64;
/// An iteration of the throughput bench is 64 requests (about 2 ms here): batches five times
/// the usual length hold about 25 of them, enough to average the scheduling of each.
const THROUGHPUT_BATCH_SCALE: u32 = 5;

type BenchClient = Client<HttpConnector, Empty<Bytes>>;
type Forwarder = Client<HttpConnector, Incoming>;

fn main() -> Result<(), Box<dyn Error>> {
    // Who runs where, the same for both sides: the proxy being measured (ours or the baseline,
    // one at a time) alone on one worker thread; the load generator and the upstream on the
    // main thread (a current-thread runtime: the upstream's tasks run while the measuring loop
    // drives a request); the emulator on a thread of its own, idle after the manager's start.
    // Two busy threads for two cores, so neither proxy competes with the load for a core, and
    // the proxy's thread does nothing but the proxy's work.
    let proxies = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("proxy-under-test")
        .enable_all()
        .build()?;
    let emulator_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("emulator")
        .enable_all()
        .build()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let upstream = rt.block_on(serve(
        |_request: Request<Incoming>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
                b"{\"ok\":true}",
            ))))
        },
        false,
    ))?;
    let emulator = emulator_rt.block_on(Emulator::start())?;
    let (ours, baseline, token) = proxies.block_on(start_proxies(&emulator, upstream))?;
    let cpu = ThreadCpu::of_worker(&proxies)?;
    let client: BenchClient = Client::builder(TokioExecutor::new()).build_http();
    let authorization = format!("Bearer {}", token.expose_secret());
    let ours_url = format!("http://{ours}/v1/ping?x=1");
    let baseline_url = format!("http://{baseline}/v1/ping?x=1");
    // Warm both paths (connections, the manager's first signature).
    rt.block_on(get(&client, &ours_url, &authorization))?;
    rt.block_on(get(&client, &baseline_url, &authorization))?;

    // No CPU tally here: reading it twice costs a few microseconds of the measuring thread,
    // too much beside one request (it would pull the ratio towards 1), and one request's CPU
    // time is mostly the proxy thread waking up.
    let paired = measure_paired(
        "proxy_request",
        1,
        || rt.block_on(get(&client, &ours_url, &authorization)),
        || rt.block_on(get(&client, &baseline_url, &authorization)),
    );
    report_paired(
        "proxy_request",
        &paired,
        "pass-through hyper proxy, no signing",
        REQUEST_TARGET,
        &[],
    );

    let many: BenchClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(CONNECTIONS)
        .build_http();
    // Reading the proxy thread's CPU time twice per iteration costs a few microseconds, under
    // 0.5% of an iteration of 64 requests.
    let (mut ours_cpu, mut baseline_cpu) = (CpuTally::default(), CpuTally::default());
    let paired = measure_paired(
        "proxy_throughput",
        THROUGHPUT_BATCH_SCALE,
        || {
            ours_cpu.run(&cpu, || {
                rt.block_on(concurrent(&many, &ours_url, &authorization))
            })
        },
        || {
            baseline_cpu.run(&cpu, || {
                rt.block_on(concurrent(&many, &baseline_url, &authorization))
            })
        },
    );
    report_paired(
        "proxy_throughput",
        &paired,
        "pass-through hyper proxy, 64 concurrent requests on keep-alive connections per iteration",
        THROUGHPUT_TARGET,
        &cpu_fields(&ours_cpu, &baseline_cpu, CONNECTIONS),
    );
    drop(proxies);
    drop(emulator);
    Ok(())
}

/// The CPU time of one thread, from its `schedstat` file.
struct ThreadCpu {
    path: std::path::PathBuf,
}

impl ThreadCpu {
    /// The worker thread of a one-worker runtime: a task spawned there finds its own thread.
    fn of_worker(runtime: &tokio::runtime::Runtime) -> Result<Self, Box<dyn Error>> {
        let path = runtime.block_on(runtime.spawn(async { schedstat::of_this_thread() }))??;
        let cpu = Self { path };
        cpu.nanos()?;
        Ok(cpu)
    }

    fn nanos(&self) -> std::io::Result<u64> {
        schedstat::nanos(&self.path)
    }
}

/// The proxy thread's CPU time spent during one side's iterations, and how many there were.
#[derive(Default)]
struct CpuTally {
    nanos: u64,
    iterations: u64,
}

impl CpuTally {
    /// Runs one iteration, adding the proxy thread's CPU time during it.
    fn run<R>(&mut self, cpu: &ThreadCpu, iteration: impl FnOnce() -> R) -> R {
        let before = cpu.nanos().unwrap_or(0);
        let result = iteration();
        let after = cpu.nanos().unwrap_or(before);
        self.nanos += after.saturating_sub(before);
        self.iterations += 1;
        result
    }

    fn per_request(&self, requests_per_iteration: usize) -> f64 {
        self.nanos as f64 / (self.iterations as f64 * requests_per_iteration as f64)
    }
}

/// The proxies' CPU time per request, over every iteration (warm-up included): what each proxy
/// costs, whatever the scheduler did to the wall-clock time.
fn cpu_fields(
    ours: &CpuTally,
    baseline: &CpuTally,
    requests_per_iteration: usize,
) -> [(&'static str, f64); 3] {
    let ours = ours.per_request(requests_per_iteration);
    let baseline = baseline.per_request(requests_per_iteration);
    eprintln!(
        "proxy cpu per request: ours {ours:.0} ns, baseline {baseline:.0} ns, ratio {:.4}",
        ours / baseline
    );
    [
        ("ours_cpu_ns_per_request", ours),
        ("baseline_cpu_ns_per_request", baseline),
        ("cpu_ratio", ours / baseline),
    ]
}

/// Both proxies, on the runtime this runs in, in front of `upstream`: ours signing with an
/// identity from the emulator, and the baseline.
async fn start_proxies(
    emulator: &Emulator,
    upstream: SocketAddr,
) -> Result<(SocketAddr, SocketAddr, ClientToken), Box<dyn Error>> {
    let (ours, token) = signing_proxy::start(emulator, upstream).await?;

    // As ours: TCP_NODELAY on upstream connections, the same pool and timers.
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let forwarder: Forwarder = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(90))
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .build(connector);
    let baseline = serve(
        move |request: Request<Incoming>| {
            let forwarder = forwarder.clone();
            async move { Ok::<_, Infallible>(pass_through(&forwarder, upstream, request).await) }
        },
        true,
    )
    .await?;
    Ok((ours, baseline, token))
}

/// The baseline: what any reverse proxy on this stack does, without signing.
async fn pass_through(
    forwarder: &Forwarder,
    upstream: SocketAddr,
    request: Request<Incoming>,
) -> Response<http_body_util::combinators::UnsyncBoxBody<Bytes, hyper::Error>> {
    let (mut parts, body) = request.into_parts();
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |path| path.as_str())
        .to_owned();
    parts.uri = format!("http://{upstream}{path}").parse().expect("uri");
    for name in [
        "connection",
        "keep-alive",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        parts.headers.remove(name);
    }
    parts.headers.remove("authorization");
    let forwarded = tokio::time::timeout(
        DEFAULT_RESPONSE_HEADER_TIMEOUT,
        forwarder.request(Request::from_parts(parts, body)),
    )
    .await;
    match forwarded {
        Ok(Ok(response)) => response.map(|body| body.boxed_unsync()),
        _ => {
            let mut response =
                Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
            *response.status_mut() = hyper::StatusCode::BAD_GATEWAY;
            response
        }
    }
}

/// Serves `handler` on a loopback port; with `limits`, with the server limits our proxy keeps (a
/// header-read timeout and a header-size limit).
async fn serve<S, F, B>(handler: S, limits: bool) -> Result<SocketAddr, Box<dyn Error>>
where
    S: Fn(Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: std::future::Future<Output = Result<Response<B>, Infallible>> + Send + 'static,
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let handler = handler.clone();
            tokio::spawn(async move {
                let mut builder = hyper::server::conn::http1::Builder::new();
                if limits {
                    builder
                        .timer(TokioTimer::new())
                        .header_read_timeout(DEFAULT_HEADER_READ_TIMEOUT)
                        .max_buf_size(DEFAULT_MAX_HEADER_BYTES);
                }
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service_fn(handler))
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn get(
    client: &BenchClient,
    url: &str,
    authorization: &str,
) -> Result<Bytes, Box<dyn Error>> {
    let request = Request::get(url)
        .header("authorization", authorization)
        .body(Empty::new())?;
    let response = client.request(request).await?;
    assert_eq!(response.status(), 200);
    Ok(response.into_body().collect().await?.to_bytes())
}

async fn concurrent(client: &BenchClient, url: &str, authorization: &str) {
    let requests = (0..CONNECTIONS).map(|_| get(client, url, authorization));
    for result in futures_util::future::join_all(requests).await {
        result.expect("request");
    }
}
