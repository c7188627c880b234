//! Our `tracing` events, forwarded to Python's `logging` under the logger `agent_identity_sdk`.
//!
//! A minimal global subscriber: events from our crates (targets starting `agent_identity`) become
//! log records at the matching level (`TRACE` and `DEBUG` both go to `DEBUG`). Spans are not
//! recorded. The SDK never puts a token, key or assertion in an event, so nothing is filtered
//! here. Records are only built when the Python logger is enabled for their level.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// The Python logger's name: the package's import name.
const LOGGER: &str = "agent_identity_sdk";

/// Our crates' targets all start with this.
const TARGET_PREFIX: &str = "agent_identity";

static PY_LOGGER: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// Installs the forwarding subscriber as the global default, unless the host process already
/// installed one (an application embedding Python with its own tracing setup keeps it).
pub(crate) fn install() {
    let _ = tracing::subscriber::set_global_default(ToPythonLogging {
        next_span: AtomicU64::new(1),
    });
}

struct ToPythonLogging {
    next_span: AtomicU64,
}

/// Python's numeric level for a tracing level.
fn python_level(level: Level) -> u8 {
    match level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG | Level::TRACE => 10,
    }
}

impl Subscriber for ToPythonLogging {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.target().starts_with(TARGET_PREFIX)
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed).max(1))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        let level = python_level(*metadata.level());
        // During interpreter shutdown there is no logging to forward to.
        let _ = Python::try_attach(|py| -> PyResult<()> {
            let logger = PY_LOGGER.get_or_try_init(py, || {
                py.import("logging")?
                    .call_method1("getLogger", (LOGGER,))
                    .map(Bound::unbind)
            })?;
            let logger = logger.bind(py);
            if !logger.call_method1("isEnabledFor", (level,))?.is_truthy()? {
                return Ok(());
            }
            let mut message = Message::default();
            event.record(&mut message);
            let extra = pyo3::types::PyDict::new(py);
            extra.set_item("target", metadata.target())?;
            let kwargs = pyo3::types::PyDict::new(py);
            kwargs.set_item("extra", extra)?;
            logger.call_method("log", (level, message.finish()), Some(&kwargs))?;
            Ok(())
        });
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// An event's message, then its other fields as `name=value`.
#[derive(Default)]
struct Message {
    text: String,
    fields: String,
}

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.text, "{value:?}");
        } else {
            let _ = write!(self.fields, " {}={value:?}", field.name());
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.text.push_str(value);
        } else {
            let _ = write!(self.fields, " {}={value}", field.name());
        }
    }
}

impl Message {
    fn finish(mut self) -> String {
        self.text.push_str(&self.fields);
        self.text
    }
}
