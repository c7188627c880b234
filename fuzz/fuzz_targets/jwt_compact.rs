//! Fuzz target `jwt_compact`: see `agent_identity_tests::fuzz_targets::jwt_compact`, which the corpus replay
//! test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_identity_tests::fuzz_targets::jwt_compact(data);
});
