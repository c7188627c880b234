//! Tests for the result-line parsing and the summary's verdicts.

use super::{Options, field, parse};

const LINE: &str = r#"{"bench":"jwt_verify_warm","ours_ns":31234.5,"baseline":"jsonwebtoken::decode","baseline_ns":29876.1,"ratio":1.045,"target":1.1}"#;

#[test]
fn result_line_fields_are_read() {
    let result = parse(LINE);
    assert_eq!(result.bench, "jwt_verify_warm");
    assert_eq!(result.ours_ns, Some(31234.5));
    assert_eq!(result.baseline, "jsonwebtoken::decode");
    assert_eq!(result.baseline_ns, Some(29876.1));
    assert_eq!(result.ratio, Some(1.045));
    assert_eq!(result.target, Some(1.1));
    assert_eq!(result.status(), "ok");
}

#[test]
fn ratio_over_target_is_a_miss_not_an_error() {
    let result = parse(
        r#"{"bench":"b","ours_ns":2,"baseline":"a","baseline_ns":1,"ratio":2.0,"target":1.1}"#,
    );
    assert_eq!(result.status(), "MISS");
}

#[test]
fn missing_fields_are_unknown() {
    let result = parse(r#"{"bench":"b"}"#);
    assert_eq!(result.baseline, "?");
    assert_eq!(result.ratio, None);
    assert_eq!(result.status(), "?");
}

#[test]
fn string_with_escaped_quote_is_read_whole() {
    assert_eq!(
        field(r#"{"bench":"say \"hi\"","ratio":1}"#, "bench"),
        Some(r#""say \"hi\"""#)
    );
    assert_eq!(
        field(r#"{"bench":"x","ratio": 1.5 }"#, "ratio"),
        Some("1.5")
    );
}

#[test]
fn options_select_targets_in_any_order_once_each() {
    let options = Options::parse(&["proxy", "--quick", "jwt", "proxy"]).expect("valid");
    assert!(options.quick);
    assert_eq!(options.targets, ["proxy", "jwt"]);
    assert_eq!(
        options.target_args(),
        ["--bench", "proxy", "--bench", "jwt"]
    );
}

#[test]
fn no_target_means_every_bench() {
    let options = Options::parse(&[]).expect("valid");
    assert!(!options.quick);
    assert_eq!(options.target_args(), ["--benches"]);
}

#[test]
fn unknown_flags_and_odd_names_are_refused() {
    assert!(Options::parse(&["--fast"]).is_err());
    assert!(Options::parse(&["proxy/../x"]).is_err());
    assert!(Options::parse(&[""]).is_err());
}
