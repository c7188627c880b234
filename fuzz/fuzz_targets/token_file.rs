//! Fuzz target `token_file`: see `agent_identity_tests::fuzz_targets::token_file`, which the corpus replay
//! test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_identity_tests::fuzz_targets::token_file(data);
});
