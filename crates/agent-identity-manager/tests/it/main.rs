//! Integration tests of agent-identity-manager.

mod durability;
mod flight;
mod lifecycle;
mod metrics;
mod rotation;
mod states;
mod support;
mod warm;
