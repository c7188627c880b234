//! Unit tests for the signing module.
