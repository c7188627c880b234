//! The task crate's metrics, through the `metrics` facade (no exporter is bundled: the
//! application installs a recorder). Names and labels are part of the API.

use std::time::Duration;

/// Counter: task registrations, labelled `outcome` = `registered`, `transient_error` (the
/// AuthAPI was unreachable or overloaded after every retry) or `permanent_error`.
pub const REGISTRATIONS: &str = "agent_identity_registrations_total";
/// Histogram, in seconds: building one `AgentAssertion` header (mostly its Ed25519 signature).
pub const ASSERTION_SIGNING_SECONDS: &str = "agent_identity_assertion_signing_seconds";

pub(crate) fn registration(outcome: &'static str) {
    metrics::counter!(REGISTRATIONS, "outcome" => outcome).increment(1);
}

pub(crate) fn assertion_signed(took: Duration) {
    metrics::histogram!(ASSERTION_SIGNING_SECONDS).record(took.as_secs_f64());
}
