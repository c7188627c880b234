//! Support code shared by the workspace's end-to-end suites and benchmarks.
//!
//! This package is never published. Its end-to-end suites live under `tests/`, its benchmarks
//! under `benches/` (run them with `cargo xtask bench`), and what they share lives here:
//! - [`bench`](mod@bench) measures closures and futures robustly and prints the result lines
//!   `cargo xtask bench` collects.
//! - [`fuzz_targets`] holds the bodies of the cargo-fuzz targets in `fuzz/`, which the corpus
//!   replay test (`tests/e2e/fuzz_corpus.rs`) runs over every committed corpus file.

pub mod bench;
pub mod env;
pub mod fuzz_targets;
