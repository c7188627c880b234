//! Fuzz target `assertion_header`: see `agent_identity_tests::fuzz_targets::assertion_header`, which the corpus replay
//! test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_identity_tests::fuzz_targets::assertion_header(data);
});
