//! `doctor`: every setting with where it came from, then each part of the setup checked in
//! order — the store, the token, the key set, the AuthAPI, the clock — each with a verdict, and
//! one line that says what to do next. It registers no task and prints no secret.
//!
//! The settings come from the setup builder's own answer ([`settings`]); the checks go through
//! the libraries' readers and probes ([`checks`]).

mod checks;
mod settings;

use serde_json::json;

use crate::config::Config;
use crate::error::{Exit, Failure};
use crate::output::{Output, aligned, redact};

/// A check's verdict. Only `Fail` blocks; `Transient` may pass on its own; `Skipped` is a check
/// that could not run because an earlier one failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Verdict {
    Ok,
    Skipped,
    Warn,
    Transient,
    Fail,
}

impl Verdict {
    /// What a failure blocks: only for now when it is transient, else for good.
    fn of_failure(transient: bool) -> Self {
        if transient {
            Self::Transient
        } else {
            Self::Fail
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Skipped => "skipped",
            Self::Warn => "warn",
            Self::Transient => "transient",
            Self::Fail => "fail",
        }
    }
}

/// One line of the report. Its text is redacted when made: a detail may quote a value the user
/// gave, and a token pasted there must not come out.
struct Check {
    name: &'static str,
    verdict: Verdict,
    detail: String,
    /// What to do about it, for a check that is not `Ok`.
    next: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Ok,
            detail: redact(&detail.into()),
            next: None,
        }
    }

    fn skipped(name: &'static str, why: impl Into<String>) -> Self {
        Self {
            name,
            verdict: Verdict::Skipped,
            detail: redact(&why.into()),
            next: None,
        }
    }

    fn not_ok(
        name: &'static str,
        verdict: Verdict,
        detail: impl Into<String>,
        next: impl Into<String>,
    ) -> Self {
        Self {
            name,
            verdict,
            detail: redact(&detail.into()),
            next: Some(redact(&next.into())),
        }
    }
}

pub(crate) async fn run(config: &Config<'_>, out: Output) -> Result<Exit, Failure> {
    let settings = settings::rows(config);
    let checks = checks::run(config).await;

    let worst = checks
        .iter()
        .map(|check| check.verdict)
        .max()
        .unwrap_or(Verdict::Ok);
    // The next step of the worst check, the first of its kind in the order checked.
    let next = checks
        .iter()
        .filter(|check| check.verdict == worst)
        .find_map(|check| check.next.clone())
        .unwrap_or_else(|| "all good: nothing to do".to_owned());
    let exit = match worst {
        Verdict::Fail => Exit::Rejected,
        Verdict::Transient => Exit::TempFail,
        Verdict::Ok | Verdict::Skipped | Verdict::Warn => Exit::Success,
    };
    if out.is_json() {
        out.json_line(&json!({
            "ok": exit == Exit::Success,
            "settings": settings
                .iter()
                .map(|row| json!({"setting": row.name, "value": row.value, "source": row.source}))
                .collect::<Vec<_>>(),
            "checks": checks
                .iter()
                .map(|check| json!({"check": check.name, "status": check.verdict.name(), "detail": check.detail}))
                .collect::<Vec<_>>(),
            "next": next,
        }));
    } else {
        out.line("settings:");
        out.line(aligned(
            &settings
                .iter()
                .map(|row| (row.name, format!("{} ({})", row.value, row.source)))
                .collect::<Vec<_>>(),
        ));
        out.line("checks:");
        out.line(aligned(
            &checks
                .iter()
                .map(|check| {
                    (
                        check.name,
                        format!("{}: {}", check.verdict.name(), check.detail),
                    )
                })
                .collect::<Vec<_>>(),
        ));
        out.line(format!("next: {next}"));
    }
    Ok(exit)
}
