//! The `agent-identity` binary driven as a process, against the emulator running in-process.
//!
//! Every child runs with `AGENT_IDENTITY_HOME` set to a temporary directory and every other
//! `AGENT_IDENTITY_*` and `CODEX_*` variable removed, so the developer's own configuration can
//! never leak into a test (or a test into their home).

mod demo;
mod doctor;
mod doctor_limits;
mod doctor_rows;
mod emulator;
mod exec;
mod explain;
mod header;
mod help;
// A session bus address that leads nowhere means "no Secret Service" only on Linux.
mod codex_settings;
#[cfg(target_os = "linux")]
mod keyring;
mod login;
mod logs;
mod precedence;
mod proxy;
mod proxy_limits;
mod proxy_wait;
mod readme_example;
mod records;
mod register;
mod sanitize;
mod secrets;
mod status;
mod support;
mod token_file_errors;
mod usage;
mod verify;
mod warm;
