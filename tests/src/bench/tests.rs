//! Tests for the measurement arithmetic and the result line.

use std::time::Duration;

use super::{Measurement, is_quick, iterations_for, median, result_line};

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
