//! Integration tests for agent-identity-task, in one binary: the shared vectors, registration
//! against a mock AuthAPI on 127.0.0.1, the retry policy, headers from records, and redaction.

mod headers;
mod redaction;
mod registration;
mod retries;
mod support;
mod vectors;
