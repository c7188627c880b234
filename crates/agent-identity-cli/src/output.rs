//! Human and JSON printing. Everything goes through a locked `std::io::Write`, and a failed write
//! (a closed pipe, say) is ignored rather than panicking, as `println!` would.

use std::io::Write as _;

use serde_json::{Value, json};

use crate::error::Failure;

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
    /// sees each line as soon as it is written.
    pub(crate) fn line(self, text: impl AsRef<str>) {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{}", text.as_ref());
        let _ = stdout.flush();
    }

    /// Prints `value` as one line of compact JSON on stdout, and flushes.
    pub(crate) fn json_line(self, value: &Value) {
        self.line(value.to_string());
    }

    /// Reports a failure: `error: <message>` on stderr, and with `--json` also
    /// `{"ok":false,"error":"<kind>","message":"…"}` on stdout.
    pub(crate) fn failure(self, failure: &Failure) {
        if self.json {
            self.json_line(&json!({
                "ok": false,
                "error": failure.kind(),
                "message": failure.message(),
            }));
        }
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "error: {}", failure.message());
        let _ = stderr.flush();
    }
}

/// `label: value` lines with the values aligned, for human output.
pub(crate) fn aligned(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(label, _)| label.len()).max().unwrap_or(0) + 1;
    rows.iter()
        .map(|(label, value)| format!("{:<width$} {value}", format!("{label}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `unix` seconds as RFC 3339 UTC (`2026-04-27T18:03:11Z`); `None` outside years 0000–9999.
pub(crate) fn rfc3339(unix: i64) -> Option<String> {
    agent_identity_task::Timestamp::from_unix_seconds(unix).map(|at| at.to_string())
}
