//! Fuzz target `pkcs8`: see `agent_identity_tests::fuzz_targets::pkcs8`, which the corpus replay
//! test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_identity_tests::fuzz_targets::pkcs8(data);
});
