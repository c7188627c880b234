//! `cargo xtask bench`: runs the benchmarks, forwards their JSON result lines to stdout and prints
//! a summary table to stderr.
//!
//! A ratio over its target is reported as `MISS`, not as a failure: targets are goals, not gates.
//! Only a bench binary that fails (or does not build) makes the command fail.

use std::io::{self, BufRead, BufReader, Write as _};
use std::process::{ExitCode, Stdio};
use std::time::Instant;

// The environment variable that asks the bench binaries for shorter measurements.
use crate::env::BENCH_QUICK as QUICK_ENV;
use crate::{cargo, failure_code, seconds};

/// How a result line starts; every other line of the benches' stdout is commentary.
const RESULT_PREFIX: &[u8] = b"{\"bench\"";

/// `--no-fail-fast`: one broken bench binary should not hide the results of the others. The
/// targets to run follow: `--benches`, or one `--bench NAME` per selected target.
const BENCH_ARGS: &[&str] = &[
    "bench",
    "--locked",
    "-p",
    "agent-identity-tests",
    "--no-fail-fast",
];

/// What `cargo xtask bench` was asked for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Options {
    /// Shorter measurements (`--quick`).
    quick: bool,
    /// The bench targets to run (`tests/benches/NAME.rs`); all of them when empty.
    targets: Vec<String>,
}

impl Options {
    /// Reads `[--quick] [BENCH]...` in any order.
    ///
    /// # Errors
    /// A message naming an unknown flag or a target name that is not a plain name.
    pub(crate) fn parse(args: &[&str]) -> Result<Self, String> {
        let mut options = Self {
            quick: false,
            targets: Vec::new(),
        };
        for &arg in args {
            if arg == "--quick" {
                options.quick = true;
            } else if arg.starts_with('-') {
                return Err(format!("unknown option {arg:?}"));
            } else if arg.is_empty()
                || !arg
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
            {
                return Err(format!("{arg:?} is not a bench target name"));
            } else if !options.targets.iter().any(|target| target == arg) {
                options.targets.push(arg.to_owned());
            }
        }
        Ok(options)
    }

    /// cargo's target selection: `--benches`, or `--bench NAME` for each chosen target.
    fn target_args(&self) -> Vec<String> {
        if self.targets.is_empty() {
            return vec!["--benches".to_owned()];
        }
        self.targets
            .iter()
            .filter(|target| *target != PYTHON_BENCH)
            .flat_map(|target| ["--bench".to_owned(), target.clone()])
            .collect()
    }
}

/// One parsed result line.
struct BenchResult {
    bench: String,
    ours_ns: Option<f64>,
    baseline: String,
    baseline_ns: Option<f64>,
    ratio: Option<f64>,
    target: Option<f64>,
}

impl BenchResult {
    /// `ok` when the ratio meets its target, `MISS` when it does not, `?` when either is unknown.
    fn status(&self) -> &'static str {
        match (self.ratio, self.target) {
            (Some(ratio), Some(target)) if ratio <= target => "ok",
            (Some(_), Some(_)) => "MISS",
            _ => "?",
        }
    }
}

/// Runs the chosen benches, in quick mode when asked, and returns cargo's failure code if any
/// failed.
pub(crate) fn run(options: &Options) -> ExitCode {
    let started = Instant::now();
    let python = options.targets.is_empty() || options.targets.iter().any(|t| t == PYTHON_BENCH);
    let mut results = Vec::new();
    if python && let Err(code) = python_bench(options.quick, &mut results) {
        return code;
    }
    let target_args = options.target_args();
    if target_args.is_empty() {
        print_summary(&results);
        return ExitCode::SUCCESS;
    }
    let mut command = cargo();
    command
        .args(BENCH_ARGS)
        .args(&target_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    if options.quick {
        command.env(QUICK_ENV, "1");
    } else {
        command.env_remove(QUICK_ENV);
    }
    eprintln!(
        "==> {}cargo {} {}",
        if options.quick {
            "AGENT_IDENTITY_BENCH_QUICK=1 "
        } else {
            ""
        },
        BENCH_ARGS.join(" "),
        target_args.join(" ")
    );
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(error) => {
            eprintln!("xtask bench: could not start cargo: {error}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(stdout) = child.stdout.take()
        && let Err(error) = forward(BufReader::new(stdout), &mut results)
    {
        eprintln!("xtask bench: reading the benches' output failed: {error}");
    }
    let status = match child.wait() {
        Ok(status) => status,
        Err(error) => {
            eprintln!("xtask bench: waiting for cargo failed: {error}");
            return ExitCode::FAILURE;
        }
    };
    print_summary(&results);
    if status.success() {
        eprintln!(
            "xtask bench: {} results in {}",
            results.len(),
            seconds(started.elapsed())
        );
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "xtask bench: a bench binary failed ({status}) after {}",
            seconds(started.elapsed())
        );
        failure_code(status)
    }
}

/// The bench run by `crate::python` (a script measuring the Python package), not by cargo.
const PYTHON_BENCH: &str = "python_headers";

/// Runs the Python benchmark and collects its result line.
fn python_bench(quick: bool, results: &mut Vec<BenchResult>) -> Result<(), ExitCode> {
    let Some(mut child) = crate::python::bench(quick)? else {
        return Ok(());
    };
    if let Some(stdout) = child.stdout.take()
        && let Err(error) = forward(BufReader::new(stdout), results)
    {
        eprintln!("xtask bench: reading the Python benchmark's output failed: {error}");
    }
    match child.wait() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => {
            eprintln!("xtask bench: the Python benchmark failed ({status})");
            Err(failure_code(status))
        }
        Err(error) => {
            eprintln!("xtask bench: waiting for the Python benchmark failed: {error}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Copies result lines to stdout and everything else to stderr, byte for byte, collecting the
/// results as they pass.
fn forward(mut reader: impl BufRead, results: &mut Vec<BenchResult>) -> io::Result<()> {
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if line.starts_with(RESULT_PREFIX) {
            let mut stdout = io::stdout().lock();
            stdout.write_all(&line)?;
            stdout.flush()?;
            if let Ok(text) = std::str::from_utf8(&line) {
                results.push(parse(text.trim_end()));
            }
        } else {
            io::stderr().lock().write_all(&line)?;
        }
    }
}

/// Reads a result line. The lines are flat JSON objects written by our own bench support, so a
/// field lookup is enough; a missing or odd field shows up as `?` in the table.
fn parse(line: &str) -> BenchResult {
    let number = |key| field(line, key).and_then(|value| value.parse().ok());
    let text = |key| field(line, key).unwrap_or("?").trim_matches('"').to_owned();
    BenchResult {
        bench: text("bench"),
        ours_ns: number("ours_ns"),
        baseline: text("baseline"),
        baseline_ns: number("baseline_ns"),
        ratio: number("ratio"),
        target: number("target"),
    }
}

/// The raw text of `key`'s value in a flat JSON object: a quoted string or a bare scalar.
fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("\"{key}\":");
    let start = line.find(&pattern)? + pattern.len();
    let rest = line[start..].trim_start();
    let end = if let Some(body) = rest.strip_prefix('"') {
        // The closing quote: the first one not escaped by a backslash.
        let mut escaped = false;
        let close = body.char_indices().find_map(|(index, c)| {
            let found = c == '"' && !escaped;
            escaped = c == '\\' && !escaped;
            found.then_some(index)
        })?;
        close + 2
    } else {
        rest.find([',', '}']).unwrap_or(rest.len())
    };
    Some(rest[..end].trim_end())
}

/// Prints the summary table to stderr.
fn print_summary(results: &[BenchResult]) {
    if results.is_empty() {
        eprintln!("xtask bench: no results");
        return;
    }
    let bench_width = column_width(results.iter().map(|r| r.bench.len()), "bench");
    let baseline_width = column_width(results.iter().map(|r| r.baseline.len()), "baseline");
    eprintln!();
    eprintln!(
        "{:bench_width$}  {:>10}  {:baseline_width$}  {:>10}  {:>6}  {:>6}  status",
        "bench", "ours", "baseline", "", "ratio", "target"
    );
    for result in results {
        let status = result.status();
        eprintln!(
            "{:bench_width$}  {:>10}  {:baseline_width$}  {:>10}  {:>6}  {:>6}  {status}",
            result.bench,
            duration(result.ours_ns),
            result.baseline,
            duration(result.baseline_ns),
            decimal(result.ratio, 3),
            decimal(result.target, 2),
        );
    }
    eprintln!();
}

/// The width of a column: its widest cell or its heading.
fn column_width(widths: impl Iterator<Item = usize>, heading: &str) -> usize {
    widths.max().unwrap_or(0).max(heading.len())
}

/// A nanosecond count in the largest unit that keeps it at or above 1.
fn duration(ns: Option<f64>) -> String {
    match ns {
        Some(ns) if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        Some(ns) if ns >= 1e3 => format!("{:.2} µs", ns / 1e3),
        Some(ns) => format!("{ns:.1} ns"),
        None => "?".to_owned(),
    }
}

/// A number with a fixed count of decimals, or `?`.
fn decimal(value: Option<f64>, decimals: usize) -> String {
    value.map_or_else(|| "?".to_owned(), |value| format!("{value:.decimals$}"))
}

#[cfg(test)]
mod tests;
