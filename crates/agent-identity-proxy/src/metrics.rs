//! The proxy's own metrics, through the `metrics` facade (the application installs the
//! recorder; without one these cost nothing): requests by status class, upstream errors,
//! recoveries after an upstream 401, and the request-duration histogram.

use std::time::Duration;

/// Requests answered, by `class` (`2xx`, `4xx`, …).
pub const REQUESTS: &str = "agent_identity_proxy_requests_total";
/// Requests the upstream could not answer, by `kind` (`connect`, `failed`, `timeout`).
pub const UPSTREAM_ERRORS: &str = "agent_identity_proxy_upstream_errors_total";
/// Recoveries after an upstream 401, by `outcome` (`replayed`, `no_new_task`, `streamed`,
/// `failed`).
pub const RECOVERIES: &str = "agent_identity_proxy_recoveries_total";
/// From a request's headers being read to its response's headers being sent, in seconds.
pub const REQUEST_DURATION: &str = "agent_identity_proxy_request_duration_seconds";

pub(crate) fn request(status: u16, duration: Duration) {
    // A literal label makes a static key; a label chosen at run time would build its key (a
    // `Vec`) on every request.
    let requests = match status {
        100..=199 => metrics::counter!(REQUESTS, "class" => "1xx"),
        200..=299 => metrics::counter!(REQUESTS, "class" => "2xx"),
        300..=399 => metrics::counter!(REQUESTS, "class" => "3xx"),
        400..=499 => metrics::counter!(REQUESTS, "class" => "4xx"),
        _ => metrics::counter!(REQUESTS, "class" => "5xx"),
    };
    requests.increment(1);
    metrics::histogram!(REQUEST_DURATION).record(duration.as_secs_f64());
}

pub(crate) fn upstream_error(kind: &'static str) {
    metrics::counter!(UPSTREAM_ERRORS, "kind" => kind).increment(1);
}

pub(crate) fn recovery(outcome: &'static str) {
    metrics::counter!(RECOVERIES, "outcome" => outcome).increment(1);
}
