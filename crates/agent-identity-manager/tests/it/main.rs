//! Integration tests of agent-identity-manager.

mod fake;
mod flight;
mod lifecycle;
mod states;
mod support;
