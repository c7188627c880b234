//! The proxy in-process against the emulator.

mod hardening;
mod limits;
mod support;
