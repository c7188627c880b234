//! Fuzz target `cli_output`: see `agent_identity_tests::fuzz_targets::cli_output`, which the corpus replay
//! test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_identity_tests::fuzz_targets::cli_output(data);
});
