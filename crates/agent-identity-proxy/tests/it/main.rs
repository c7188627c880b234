//! The proxy in-process against the emulator.

mod forwarding;
mod hardening;
mod limits;
mod support;
