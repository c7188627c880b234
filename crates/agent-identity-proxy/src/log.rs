//! The access-log record: what may be said about a request, which is never a header value, a
//! token or a body.

use std::time::Duration;

use serde_json::{Value, json};

/// One forwarded (or refused) request, reported when its response headers are sent.
#[derive(Debug, Clone)]
pub struct AccessRecord {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) status: u16,
    pub(crate) duration: Duration,
    pub(crate) recovered: bool,
}

impl AccessRecord {
    /// The request method.
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The request path, without its query (which may carry secrets of the client's own).
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The status sent to the client.
    #[must_use]
    pub fn status(&self) -> u16 {
        self.status
    }

    /// From the request's headers being read to the response's headers being sent.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Whether the upstream answered 401 and the request was replayed after a recovery.
    #[must_use]
    pub fn recovered(&self) -> bool {
        self.recovered
    }

    /// `{"method","path","status","duration_ms","recovered"}`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "duration_ms": self.duration.as_secs_f64() * 1000.0,
            "recovered": self.recovered,
        })
    }
}
