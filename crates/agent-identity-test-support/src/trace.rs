//! Capturing everything a test binary traces, to prove no secret reaches a log line.

use std::sync::{Arc, Mutex, OnceLock};

/// Everything traced by this test binary, at TRACE, from the moment this is first called.
///
/// The subscriber is global rather than scoped to one test: a scoped subscriber races with other
/// tests' threads over `tracing`'s per-callsite interest cache and can miss events.
///
/// # Panics
///
/// If something else in the test binary installed a global subscriber first.
pub fn capture_traces() -> &'static Capture {
    static CAPTURE: OnceLock<Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .unwrap_or_else(|e| panic!("the only global subscriber: {e}"));
        capture
    })
}

/// The formatted trace lines written so far; clones share one buffer.
#[derive(Debug, Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    /// Everything captured so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| panic!("capture: {e}")))
            .into_owned()
    }
}

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| panic!("capture: {e}"))
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
