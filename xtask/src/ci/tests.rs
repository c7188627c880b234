//! The CI driver's own logic: the summary-line tally.

use super::*;

#[test]
fn nextest_and_libtest_summaries_are_added_up() {
    let mut tally = Tally::default();
    for line in [
        "     Summary [   9.277s] 287 tests run: 285 passed, 2 failed, 1 skipped",
        "test result: ok. 3 passed; 0 failed; 4 ignored; 0 measured; 0 filtered out; finished in 0.00s",
        "test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out",
        "running 3 tests",
        "test foo::bar ... ok",
    ] {
        tally.add_line(line);
    }
    assert_eq!(
        tally,
        Tally {
            passed: 289,
            failed: 3,
            skipped: 5
        }
    );
}

#[test]
fn lines_without_a_summary_add_nothing() {
    let mut tally = Tally::default();
    tally.add_line("12 passed, 0 failed");
    tally.add_line("test result");
    assert_eq!(tally, Tally::default());
}

#[test]
fn nextests_singular_summary_is_added_up_too() {
    let mut tally = Tally::default();
    tally.add_line("     Summary [   0.063s] 1 test run: 1 passed, 51 skipped");
    assert_eq!(
        tally,
        Tally {
            passed: 1,
            failed: 0,
            skipped: 51
        }
    );
}
