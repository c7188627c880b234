//! Fuzz target `jwk_set`: see `agent_identity_tests::fuzz_targets::jwk_set`, which the corpus replay
//! test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_identity_tests::fuzz_targets::jwk_set(data);
});
