//! Tests for the measurement arithmetic and the result line.

use std::time::Duration;

use super::{
    Measurement, Paired, is_quick, iterations_for, median, paired_line, quantile, result_line,
};

#[test]
fn median_of_odd_count_is_the_middle_value() {
    assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
}

#[test]
fn median_of_even_count_is_the_mean_of_the_middle_pair() {
    assert_eq!(median(&[1.0, 2.0, 4.0, 100.0]), 3.0);
}

#[test]
fn one_slow_batch_does_not_move_the_median() {
    let measurement = Measurement::from_batches(vec![10.0, 11.0, 10_000.0, 9.0, 10.0], 7);
    assert_eq!(measurement.median_ns(), 10.0);
    assert_eq!(measurement.min_ns(), 9.0);
    assert_eq!(measurement.max_ns(), 10_000.0);
    assert_eq!(measurement.batches(), 5);
    assert_eq!(measurement.iterations_per_batch(), 7);
}

#[test]
fn batch_size_fills_the_batch_time() {
    assert_eq!(iterations_for(Duration::from_millis(10), 1_000.0), 10_000);
    assert_eq!(iterations_for(Duration::from_millis(2), 3.0), 666_667);
}

#[test]
fn batch_size_is_at_least_one() {
    assert_eq!(iterations_for(Duration::from_millis(10), 50e6), 1);
    assert_eq!(iterations_for(Duration::from_millis(10), f64::NAN), 1);
}

#[test]
fn quick_mode_is_on_for_any_value_but_empty_or_zero() {
    assert!(is_quick(Some("1")));
    assert!(is_quick(Some("yes")));
    assert!(!is_quick(Some("0")));
    assert!(!is_quick(Some("")));
    assert!(!is_quick(None));
}

#[test]
fn result_line_has_the_protocol_fields() {
    let ours = Measurement::from_batches(vec![1_100.04], 1);
    let baseline = Measurement::from_batches(vec![1_000.0], 1);
    let line = result_line(
        "jwt_verify_warm",
        &ours,
        "jsonwebtoken::decode",
        &baseline,
        1.1,
    );
    assert_eq!(
        line,
        r#"{"bench":"jwt_verify_warm","ours_ns":1100.0,"baseline":"jsonwebtoken::decode","baseline_ns":1000.0,"ratio":1.1,"target":1.1}"#
    );
}

#[test]
fn quantiles_interpolate_between_neighbours() {
    let sorted = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(quantile(&sorted, 0.5), 3.0);
    assert_eq!(quantile(&sorted, 0.25), 2.0);
    assert_eq!(quantile(&[1.0, 2.0], 0.5), 1.5);
    assert!(quantile(&[], 0.5).is_nan());
}

#[test]
fn the_paired_ratio_is_the_median_of_each_rounds_ratio() {
    // The machine slows down tenfold in the last rounds: both sides of those rounds pay it, so
    // every round still says 1.1, while the ratio of the two medians would not.
    let rounds = [
        (110.0, 100.0),
        (1_100.0, 1_000.0),
        (11_000.0, 10_000.0),
        (1_100.0, 1_000.0),
        (11_000.0, 9_000.0),
    ];
    let paired = Paired::from_rounds(&rounds, 3);
    assert!((paired.ratio() - 1.1).abs() < 1e-12, "{}", paired.ratio());
    assert_eq!(paired.ours.median_ns(), 1_100.0);
    assert_eq!(paired.baseline.median_ns(), 1_000.0);
    assert_eq!(paired.ratios.batches(), 5);
    let line = paired_line("b", &paired, "a", 1.11, &[("cpu_ratio", 1.05)]);
    assert!(
        line.starts_with(r#"{"bench":"b","ours_ns":1100.0,"baseline":"a","baseline_ns":1000.0,"ratio":1.1,"target":1.11,"#),
        "{line}"
    );
    assert!(line.ends_with(r#","rounds":5,"cpu_ratio":1.05}"#), "{line}");
}
