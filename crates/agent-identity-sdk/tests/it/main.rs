//! Consumer-style tests: only the facade, its documented features, and `from_env`/`builder`, as
//! a program that depends on `agent-identity-sdk` would use them, against the emulator.

mod axum_example;
mod middleware;
mod readme;
mod server;
mod support;
