//! The proxy in-process against the emulator.

mod limits;
mod support;
