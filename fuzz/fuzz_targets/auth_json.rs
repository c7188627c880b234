//! Fuzz target `auth_json`: see `agent_identity_tests::fuzz_targets::auth_json`, which the corpus replay
//! test runs too.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    agent_identity_tests::fuzz_targets::auth_json(data);
});
