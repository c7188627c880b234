//! Fuzz target `runtime_cache`: see `agent_identity_tests::fuzz_targets::runtime_cache`, which the corpus replay
//! test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_identity_tests::fuzz_targets::runtime_cache(data);
});
