//! The `agent-identity` binary driven as a process, against the emulator running in-process.
