//! End-to-end suites across the agent-identity crates, through the facade, against the emulator,
//! built with the whole workspace's features.

mod backend;
mod faults;
mod flow;
mod fuzz_corpus;
mod support;
