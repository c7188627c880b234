//! Human and JSON printing, and the two filters untrusted text passes on its way out: [`redact`]
//! hides anything shaped like a token or a key, [`sanitize`] strips what a terminal would obey
//! (both in [`filter`], with [`shell_quote`]).
//!
//! Everything goes through a locked `std::io::Write`, and a failed write (a closed pipe, say) is
//! ignored rather than panicking, as `println!` would.

use std::io::Write as _;

use serde_json::{Value, json};

use crate::error::Failure;

mod filter;

#[cfg(test)]
use filter::REDACTED;
pub(crate) use filter::{is_bidi_control, redact, sanitize, shell_quote};

/// Where a command's results go: human lines, or one JSON object per line with `--json`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether results are JSON.
    pub(crate) fn is_json(self) -> bool {
        self.json
    }

    /// Prints `text` and a newline on stdout, and flushes, so a parent process reading a pipe
    /// sees each line as soon as it is written. Each line is [`sanitize`]d: the line breaks in
    /// `text` are kept, every other control character is dropped.
    pub(crate) fn line(self, text: impl AsRef<str>) {
        let text = sanitize_lines(text.as_ref());
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// Prints `value` as one line of compact JSON on stdout, and flushes. serde_json escapes the
    /// C0 controls; DEL, the C1 controls and the bidirectional overrides are escaped here, so
    /// the line is safe on a terminal and parses to the same value.
    pub(crate) fn json_line(self, value: &Value) {
        let text = escape_json_controls(&value.to_string());
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{text}");
        let _ = stdout.flush();
    }

    /// Reports a failure: `error: <message>` on stderr, and with `--json` also
    /// `{"ok":false,"error":"<kind>","message":"…"}` on stdout. The message is [`sanitize`]d and
    /// [`redact`]ed, whatever it was built from: it may quote a path or an argument the user gave.
    pub(crate) fn failure(self, failure: &Failure) {
        let message = redact(&sanitize(failure.message()));
        if self.json {
            self.json_line(&json!({
                "ok": false,
                "error": failure.kind(),
                "message": message,
            }));
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "error: {message}");
        let _ = stderr.flush();
    }

    /// A warning on stderr, `warning: <text>`, sanitized and redacted; stdout stays as the
    /// command's result, one JSON object with `--json`.
    pub(crate) fn warning(self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "warning: {}", redact(&sanitize(text)));
        let _ = stderr.flush();
    }
}

/// `label: value` lines with the values aligned, for human output. Each value is [`sanitize`]d
/// on its own, so a line break inside a value (a claim, a task id) cannot start a line of its own.
pub(crate) fn aligned(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(label, value)| format!("{:<width$} {}", format!("{label}:"), sanitize(value)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `unix` seconds as RFC 3339 UTC (`2026-04-27T18:03:11Z`); `None` outside years 0000–9999.
pub(crate) fn rfc3339(unix: i64) -> Option<String> {
    agent_identity_task::Timestamp::from_unix_seconds(unix).map(|at| at.to_string())
}

/// [`sanitize`]s each line of `text`, keeping the line breaks between them.
fn sanitize_lines(text: &str) -> String {
    text.split('\n')
        .map(sanitize)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Escapes DEL, the C1 controls and the bidirectional controls as `\uXXXX` in compact JSON text.
/// They can only occur inside strings (everything else in JSON is printable ASCII), where the
/// escape denotes the same character.
fn escape_json_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\u{7f}'..='\u{9f}') || is_bidi_control(c) {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// The logger's writer (`-v` and up): each event is buffered whole, then sanitized line by line
/// and redacted before it reaches stderr, so a log line can neither quote a token or key (a path
/// the user gave, say) nor drive the terminal.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LogWriter;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogEvent;

    fn make_writer(&'a self) -> Self::Writer {
        LogEvent(Vec::new())
    }
}

/// One log event on its way to stderr; written out, cleaned, when dropped.
pub(crate) struct LogEvent(Vec<u8>);

impl std::io::Write for LogEvent {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogEvent {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.0);
        let cleaned = redact(&sanitize_lines(&text));
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(cleaned.as_bytes());
        let _ = stderr.flush();
    }
}

#[cfg(test)]
mod tests;
