//! Integration tests of agent-identity-manager.

mod durability;
mod fake;
mod flight;
mod lifecycle;
mod metrics;
mod states;
mod support;
mod warm;
