//! Unit tests for the mint module.
