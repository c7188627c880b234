//! The environment variables the Python step reads or sets.

/// Set to `true` by CI: a missing virtual environment is then a failure, not a skip.
pub(super) const CI: &str = "CI";

/// Tells maturin which virtual environment to install the package into.
pub(super) const VIRTUAL_ENV: &str = "VIRTUAL_ENV";

/// Asks the Python benchmark for shorter measurements (as the Rust benches).
pub(super) const BENCH_QUICK: &str = "AGENT_IDENTITY_BENCH_QUICK";
