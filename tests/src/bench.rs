//! Measuring code against a baseline, robustly enough for a shared 2-core CI machine.
//!
//! The main entry point is [`measure_pair`] (or [`measure_pair_async`]): it measures our code and
//! its baseline in interleaved batches, so machine noise (another build, frequency scaling) hits
//! both alike, and keeps the median of the per-iteration batch times, which one slow batch
//! cannot move. [`report`] then prints the result line `cargo xtask bench` collects:
//!
//! ```text
//! {"bench":"…","ours_ns":…,"baseline":"…","baseline_ns":…,"ratio":…,"target":…}
//! ```
//!
//! Each measurement is a warm-up, which also calibrates a batch size so one batch takes about
//! 10 ms, then [`FULL_BATCHES`] batches. With `AGENT_IDENTITY_BENCH_QUICK=1` (`cargo xtask bench
//! --quick`) batches take about 2 ms and there are fewer of them.
//!
//! End-to-end benches, whose noise (the scheduler, other processes) drifts over seconds, use
//! [`measure_paired`] (or [`measure_paired_async`]) instead: rounds of one batch of each side,
//! back to back with the same iteration count, alternating which goes first, so that load that
//! comes and goes hits both batches of a round alike. The ratio reported (by [`report_paired`],
//! with its quartiles) is the median of the rounds' ratios, not the ratio of two medians.
//! `benches/proxy_vs_nginx.rs` runs rounds of its own (under wrk) and summarises them the same
//! way, with [`Paired::from_rounds`].
//!
//! The proxy benches of `benches/proxy.rs` (`proxy_request`, `proxy_throughput`) measure against
//! a pass-through proxy built in the bench on the same HTTP stack and limits, so the ratio is the
//! cost of being the agent: the client token, the identity headers, the assertion. Both sides are
//! placed alike: the proxy being measured alone on a one-worker runtime, the load generator and
//! the upstream on the main thread, the emulator idle on a thread of its own. The throughput line
//! also carries each side's CPU time per request on the proxy's thread (from
//! `/proc/self/task/TID/schedstat`) and their ratio, which the scheduler barely moves.
//!
//! # Examples
//! ```no_run
//! use agent_identity_tests::bench::{measure_pair, report};
//!
//! let data: Vec<u64> = (0..1_000).collect();
//! let (ours, baseline) = measure_pair(
//!     "sum",
//!     || data.iter().sum::<u64>(),
//!     || data.iter().fold(0, |total, x| total + x),
//! );
//! report("sum", &ours, "fold", &baseline, 1.10);
//! ```

use std::fmt;
use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

/// Set to `1` (by `cargo xtask bench --quick`) for shorter measurements.
pub use crate::env::BENCH_QUICK as QUICK_ENV;

/// Timed batches per measurement. Odd, so the median is one batch's time.
pub const FULL_BATCHES: usize = 41;

/// Timed batches per measurement in quick mode.
pub const QUICK_BATCHES: usize = 15;

/// How long one batch should take: long enough that timer resolution and the cost of reading
/// the clock vanish, short enough that a burst of noise spoils only a few batches.
const FULL_BATCH_TIME: Duration = Duration::from_millis(10);
const QUICK_BATCH_TIME: Duration = Duration::from_millis(2);

/// How long to run a closure before timing it: caches, branch predictors, lazily built state
/// and the CPU clock settle in that time.
const FULL_WARM_UP: Duration = Duration::from_millis(300);
const QUICK_WARM_UP: Duration = Duration::from_millis(50);

/// The result of measuring one closure: per-iteration times across its batches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    median_ns: f64,
    min_ns: f64,
    max_ns: f64,
    batches: usize,
    iterations_per_batch: u64,
}

impl Measurement {
    /// The median over batches of the time per iteration, in nanoseconds: the number to report.
    pub fn median_ns(&self) -> f64 {
        self.median_ns
    }

    /// The fastest batch's time per iteration, in nanoseconds.
    pub fn min_ns(&self) -> f64 {
        self.min_ns
    }

    /// The slowest batch's time per iteration, in nanoseconds.
    pub fn max_ns(&self) -> f64 {
        self.max_ns
    }

    /// How many batches were timed.
    pub fn batches(&self) -> usize {
        self.batches
    }

    /// How many iterations each batch ran.
    pub fn iterations_per_batch(&self) -> u64 {
        self.iterations_per_batch
    }

    /// Summarises per-iteration batch times (nanoseconds).
    fn from_batches(mut per_iteration_ns: Vec<f64>, iterations_per_batch: u64) -> Self {
        per_iteration_ns.sort_by(f64::total_cmp);
        Self {
            median_ns: median(&per_iteration_ns),
            min_ns: per_iteration_ns.first().copied().unwrap_or(f64::NAN),
            max_ns: per_iteration_ns.last().copied().unwrap_or(f64::NAN),
            batches: per_iteration_ns.len(),
            iterations_per_batch,
        }
    }
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "median {:.1} ns (min {:.1}, max {:.1}) over {} batches of {}",
            self.median_ns, self.min_ns, self.max_ns, self.batches, self.iterations_per_batch
        )
    }
}

/// Whether quick mode is on: [`QUICK_ENV`] is set to anything but empty or `0`.
pub fn quick_mode() -> bool {
    is_quick(std::env::var(QUICK_ENV).ok().as_deref())
}

fn is_quick(value: Option<&str>) -> bool {
    value.is_some_and(|value| !value.is_empty() && value != "0")
}

/// How long to warm up, how long a batch takes, and how many batches to time.
#[derive(Debug, Clone, Copy)]
struct Plan {
    warm_up: Duration,
    batch_time: Duration,
    batches: usize,
}

impl Plan {
    fn from_env() -> Self {
        if quick_mode() {
            Self {
                warm_up: QUICK_WARM_UP,
                batch_time: QUICK_BATCH_TIME,
                batches: QUICK_BATCHES,
            }
        } else {
            Self {
                warm_up: FULL_WARM_UP,
                batch_time: FULL_BATCH_TIME,
                batches: FULL_BATCHES,
            }
        }
    }
}

/// Measures one closure: a warm-up that calibrates the batch size, then the timed batches.
///
/// The closure's result goes through [`black_box`], so the work that computes it is not
/// optimised away. Progress goes to stderr under `name`.
pub fn measure<R, F: FnMut() -> R>(name: &str, mut f: F) -> Measurement {
    let plan = Plan::from_env();
    let iterations = calibrate(&mut f, plan);
    let times = (0..plan.batches)
        .map(|_| time_batch(&mut f, iterations))
        .collect();
    let measurement = Measurement::from_batches(times, iterations);
    eprintln!("{name}: {measurement}");
    measurement
}

/// Measures our code and its baseline in interleaved batches; returns `(ours, baseline)`.
///
/// Each closure is warmed up and calibrated on its own, then their timed batches alternate, in
/// the order AB BA AB BA…, so noise and slow drift during the run weigh on both equally. The
/// ratio of the two medians is what [`report`] prints. Progress goes to stderr under `name`.
pub fn measure_pair<R1, R2>(
    name: &str,
    mut ours: impl FnMut() -> R1,
    mut baseline: impl FnMut() -> R2,
) -> (Measurement, Measurement) {
    let plan = Plan::from_env();
    let ours_iterations = calibrate(&mut ours, plan);
    let baseline_iterations = calibrate(&mut baseline, plan);
    let mut ours_times = Vec::with_capacity(plan.batches);
    let mut baseline_times = Vec::with_capacity(plan.batches);
    for round in 0..plan.batches {
        if round % 2 == 0 {
            ours_times.push(time_batch(&mut ours, ours_iterations));
            baseline_times.push(time_batch(&mut baseline, baseline_iterations));
        } else {
            baseline_times.push(time_batch(&mut baseline, baseline_iterations));
            ours_times.push(time_batch(&mut ours, ours_iterations));
        }
    }
    let ours = Measurement::from_batches(ours_times, ours_iterations);
    let baseline = Measurement::from_batches(baseline_times, baseline_iterations);
    eprintln!("{name}/ours: {ours}");
    eprintln!("{name}/baseline: {baseline}");
    (ours, baseline)
}

/// [`measure`] for a future: each iteration builds one future and drives it with
/// [`Runtime::block_on`] on `rt`.
///
/// The `block_on` itself is part of every iteration; use a current-thread runtime to keep it
/// cheap, and measure baselines the same way so both pay it.
pub fn measure_async<F, Fut>(rt: &Runtime, name: &str, mut f: F) -> Measurement
where
    F: FnMut() -> Fut,
    Fut: Future,
{
    measure(name, || rt.block_on(f()))
}

/// [`measure_pair`] for futures: each iteration of either side builds one future and drives it
/// with [`Runtime::block_on`] on `rt`, so both sides pay the same `block_on` cost.
pub fn measure_pair_async<F1, Fut1, F2, Fut2>(
    rt: &Runtime,
    name: &str,
    mut ours: F1,
    mut baseline: F2,
) -> (Measurement, Measurement)
where
    F1: FnMut() -> Fut1,
    Fut1: Future,
    F2: FnMut() -> Fut2,
    Fut2: Future,
{
    measure_pair(name, || rt.block_on(ours()), || rt.block_on(baseline()))
}

/// The result of [`measure_paired`]: each side's times, and the ratio of each round's pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Paired {
    /// Our side's per-iteration times over the rounds.
    pub ours: Measurement,
    /// The baseline's per-iteration times over the rounds.
    pub baseline: Measurement,
    /// Per round, ours over the baseline: its median is the ratio to report.
    pub ratios: Measurement,
    /// The first and third quartiles of the per-round ratios: how much the rounds disagree.
    pub ratio_quartiles: (f64, f64),
}

impl Paired {
    /// The median over rounds of ours over the baseline.
    pub fn ratio(&self) -> f64 {
        self.ratios.median_ns
    }

    /// Summarises the rounds: `(ours, baseline)` per-iteration times, one pair per round. For a
    /// bench that runs its own rounds (an external load generator, say) rather than
    /// [`measure_paired`]'s batches.
    pub fn from_rounds(rounds: &[(f64, f64)], iterations_per_batch: u64) -> Self {
        let mut ratios: Vec<f64> = rounds.iter().map(|(ours, base)| ours / base).collect();
        ratios.sort_by(f64::total_cmp);
        let quartiles = (quantile(&ratios, 0.25), quantile(&ratios, 0.75));
        Self {
            ours: Measurement::from_batches(
                rounds.iter().map(|(ours, _)| *ours).collect(),
                iterations_per_batch,
            ),
            baseline: Measurement::from_batches(
                rounds.iter().map(|(_, base)| *base).collect(),
                iterations_per_batch,
            ),
            ratios: Measurement::from_batches(ratios, iterations_per_batch),
            ratio_quartiles: quartiles,
        }
    }
}

/// Measures our code against its baseline in paired rounds, for end-to-end benches whose
/// noise (the scheduler, other processes) drifts over seconds; returns the pairs' summary.
///
/// Both closures are warmed up and calibrated; then every round times one batch of each, back
/// to back, with the same iteration count, alternating which goes first (AB BA AB…). A round's
/// two batches meet nearly the same machine, so their ratio is steadier than either time: the
/// ratio to report is the median of the rounds' ratios, not the ratio of two medians. Batches
/// last `batch_scale` times the usual batch time (longer batches average the scheduling of
/// many concurrent requests). Progress goes to stderr under `name`.
pub fn measure_paired<R1, R2>(
    name: &str,
    batch_scale: u32,
    mut ours: impl FnMut() -> R1,
    mut baseline: impl FnMut() -> R2,
) -> Paired {
    let mut plan = Plan::from_env();
    plan.batch_time = plan.batch_time.saturating_mul(batch_scale.max(1));
    let ours_iterations = calibrate(&mut ours, plan);
    let baseline_iterations = calibrate(&mut baseline, plan);
    // The same count on both sides, so a round's two batches last about as long; the slower
    // side sets it, so no batch runs longer than planned.
    let iterations = ours_iterations.min(baseline_iterations);
    // One untimed round, so neither side is timed first right after its own calibration.
    time_batch(&mut ours, iterations);
    time_batch(&mut baseline, iterations);
    let rounds: Vec<(f64, f64)> = (0..plan.batches)
        .map(|round| {
            if round % 2 == 0 {
                let ours = time_batch(&mut ours, iterations);
                (ours, time_batch(&mut baseline, iterations))
            } else {
                let baseline = time_batch(&mut baseline, iterations);
                (time_batch(&mut ours, iterations), baseline)
            }
        })
        .collect();
    let paired = Paired::from_rounds(&rounds, iterations);
    eprintln!("{name}/ours: {}", paired.ours);
    eprintln!("{name}/baseline: {}", paired.baseline);
    eprintln!(
        "{name}/ratio per round: median {:.4} (quartiles {:.4}–{:.4}, min {:.4}, max {:.4})",
        paired.ratio(),
        paired.ratio_quartiles.0,
        paired.ratio_quartiles.1,
        paired.ratios.min_ns,
        paired.ratios.max_ns
    );
    paired
}

/// [`measure_paired`] for futures, each iteration driven with [`Runtime::block_on`] on `rt`.
pub fn measure_paired_async<F1, Fut1, F2, Fut2>(
    rt: &Runtime,
    name: &str,
    batch_scale: u32,
    mut ours: F1,
    mut baseline: F2,
) -> Paired
where
    F1: FnMut() -> Fut1,
    Fut1: Future,
    F2: FnMut() -> Fut2,
    Fut2: Future,
{
    measure_paired(
        name,
        batch_scale,
        || rt.block_on(ours()),
        || rt.block_on(baseline()),
    )
}

mod report;

#[cfg(test)]
use report::{paired_line, result_line};
pub use report::{report, report_paired};

/// Runs the warm-up and returns how many iterations make a batch of about the planned time.
///
/// The warm-up doubles its batch size until one batch takes at least the planned batch time and
/// the whole warm-up has run for its planned duration; the last batch's rate sets the size.
fn calibrate<R>(f: &mut impl FnMut() -> R, plan: Plan) -> u64 {
    let started = Instant::now();
    let mut iterations: u64 = 1;
    loop {
        let per_iteration_ns = time_batch(f, iterations);
        let batch_ns = per_iteration_ns * iterations as f64;
        if batch_ns >= plan.batch_time.as_nanos() as f64 && started.elapsed() >= plan.warm_up {
            return iterations_for(plan.batch_time, per_iteration_ns);
        }
        if batch_ns < plan.batch_time.as_nanos() as f64 {
            iterations = iterations.saturating_mul(2);
        }
    }
}

/// How many iterations of `per_iteration_ns` fill `batch_time`; at least one.
fn iterations_for(batch_time: Duration, per_iteration_ns: f64) -> u64 {
    let iterations = (batch_time.as_nanos() as f64 / per_iteration_ns).round();
    if iterations.is_finite() && iterations >= 1.0 {
        // Saturates for absurdly cheap closures; the float is finite and positive here.
        iterations as u64
    } else {
        1
    }
}

/// Runs `iterations` calls of `f` and returns the time per call, in nanoseconds.
fn time_batch<R>(f: &mut impl FnMut() -> R, iterations: u64) -> f64 {
    let started = Instant::now();
    for _ in 0..iterations {
        black_box(f());
    }
    started.elapsed().as_nanos() as f64 / iterations as f64
}

/// The median of sorted values: the middle one, or the mean of the middle two. NaN when empty.
fn median(sorted: &[f64]) -> f64 {
    let middle = sorted.len() / 2;
    match sorted.len() {
        0 => f64::NAN,
        len if len % 2 == 1 => sorted[middle],
        _ => (sorted[middle - 1] + sorted[middle]) / 2.0,
    }
}

/// The `q` quantile of sorted values, interpolating between neighbours. NaN when empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return f64::NAN;
    };
    let position = q.clamp(0.0, 1.0) * last as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let weight = position - below as f64;
    sorted[below] * (1.0 - weight) + sorted[above] * weight
}

/// Rounds to a number of decimals, so result lines stay short.
fn round_to(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

#[cfg(test)]
mod tests;
