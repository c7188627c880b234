//! Unit tests for the state module.
