//! The proxy in-process against the emulator.
