//! Integration tests for agent-identity-emulator, in one binary: every endpoint, every fault
//! knob, the server's lifecycle, and 1000 concurrent registrations, all over real HTTP on
//! 127.0.0.1.

mod admin;
mod agent_register;
mod concurrency;
mod echo;
mod faults;
mod jwks;
mod lifecycle;
mod mint;
mod registration;
mod support;
