//! The environment variables the bench and fuzz support code reads, by name, in one place.

/// Set to `1` (by `cargo xtask bench --quick`) for shorter measurements.
pub const BENCH_QUICK: &str = "AGENT_IDENTITY_BENCH_QUICK";
