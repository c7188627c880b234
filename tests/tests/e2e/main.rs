//! End-to-end suites across the agent-identity crates, built with the whole workspace's features.

mod backend;
