//! The result lines `cargo xtask bench` collects: one JSON object per bench on stdout, starting
//! with `{"bench"`.

use super::{Measurement, Paired, round_to};

/// Prints the result line of a [`measure_paired`](super::measure_paired) bench: as [`report`],
/// with the median of the rounds' ratios as `ratio`, their quartiles as `ratio_q1` and
/// `ratio_q3`, and `extra` numbers of the bench's own after them (informational: `cargo xtask
/// bench` shows only the common fields).
#[expect(
    clippy::print_stdout,
    reason = "the result line on stdout is the protocol cargo xtask bench reads"
)]
pub fn report_paired(
    bench: &str,
    paired: &Paired,
    baseline_name: &str,
    target: f64,
    extra: &[(&str, f64)],
) {
    println!(
        "{}",
        paired_line(bench, paired, baseline_name, target, extra)
    );
}

/// The JSON result line [`report_paired`] prints.
pub(super) fn paired_line(
    bench: &str,
    paired: &Paired,
    baseline_name: &str,
    target: f64,
    extra: &[(&str, f64)],
) -> String {
    use serde_json::Value;

    let extra: String = extra
        .iter()
        .map(|(key, value)| {
            format!(
                ",{}:{}",
                Value::from(*key),
                Value::from(round_to(*value, 4))
            )
        })
        .collect();
    format!(
        r#"{{"bench":{},"ours_ns":{},"baseline":{},"baseline_ns":{},"ratio":{},"target":{},"ratio_q1":{},"ratio_q3":{},"rounds":{}{extra}}}"#,
        Value::from(bench),
        Value::from(round_to(paired.ours.median_ns, 1)),
        Value::from(baseline_name),
        Value::from(round_to(paired.baseline.median_ns, 1)),
        Value::from(round_to(paired.ratio(), 4)),
        Value::from(target),
        Value::from(round_to(paired.ratio_quartiles.0, 4)),
        Value::from(round_to(paired.ratio_quartiles.1, 4)),
        Value::from(paired.ratios.batches),
    )
}

/// Prints the result line for one bench to stdout, where `cargo xtask bench` collects it.
///
/// `ratio` is ours over the baseline, from the two medians; `target` is the ratio we aim to stay
/// under. Missing the target is reported, not failed: targets are goals, not gates.
#[expect(
    clippy::print_stdout,
    reason = "the result line on stdout is the protocol cargo xtask bench reads"
)]
pub fn report(
    bench: &str,
    ours: &Measurement,
    baseline_name: &str,
    baseline: &Measurement,
    target: f64,
) {
    println!(
        "{}",
        result_line(bench, ours, baseline_name, baseline, target)
    );
}

/// The JSON result line [`report`] prints.
pub(super) fn result_line(
    bench: &str,
    ours: &Measurement,
    baseline_name: &str,
    baseline: &Measurement,
    target: f64,
) -> String {
    use serde_json::Value;

    // By hand rather than with `json!`, whose map sorts its keys: the line must start with
    // `{"bench"`, which is how `cargo xtask bench` tells result lines from commentary.
    // `Value::from` escapes the strings and writes a non-finite number as `null`.
    let ratio = ours.median_ns / baseline.median_ns;
    format!(
        r#"{{"bench":{},"ours_ns":{},"baseline":{},"baseline_ns":{},"ratio":{},"target":{}}}"#,
        Value::from(bench),
        Value::from(round_to(ours.median_ns, 1)),
        Value::from(baseline_name),
        Value::from(round_to(baseline.median_ns, 1)),
        Value::from(round_to(ratio, 4)),
        Value::from(target),
    )
}
