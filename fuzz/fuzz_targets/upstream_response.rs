//! Fuzz target `upstream_response`: see `agent_identity_tests::fuzz_targets::upstream_response`,
//! which the corpus replay test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_identity_tests::fuzz_targets::upstream_response(data);
});
