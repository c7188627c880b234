//! Integration tests of agent-identity-manager.

mod durability;
mod flight;
#[cfg(target_os = "linux")]
mod keyring;
mod lifecycle;
mod metrics;
mod records;
mod rotation;
mod states;
mod support;
mod warm;
