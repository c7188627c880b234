//! What to do next: a failure's message completed with where the offending setting came from and
//! the step that fixes it, from the settings the command ran with. The library's errors say what
//! was expected and what was found; only the CLI knows its flags and variables.

use std::path::Path;

use agent_identity_jwt::PRODUCTION_JWKS_URL;
use agent_identity_task::{AUTHAPI_BASE_URL_ENV_VARS, AuthApiBaseUrl};

use crate::cli::Settings;
use crate::error::Failure;

/// Where a setting's value came from: its flag, its variable, or `None` for the default.
pub(crate) fn origin(settings: &Settings, id: &str, flag: &str, variable: &str) -> Option<String> {
    settings
        .sources
        .iter()
        .find(|(name, _)| *name == id)
        .and_then(|(_, source)| match *source {
            "flag" => Some(flag.to_owned()),
            "variable" => Some(variable.to_owned()),
            _ => None,
        })
}

/// Where the AuthAPI base URL came from and its text: the flag or its variable, else the first
/// alias variable that is set; `None` for the default.
pub(crate) fn authapi_origin(settings: &Settings) -> Option<(String, String)> {
    if let Some(url) = &settings.authapi_base_url {
        let from = origin(
            settings,
            "authapi_base_url",
            "--authapi-base-url",
            AUTHAPI_BASE_URL_ENV_VARS[0],
        )?;
        return Some((from, url.clone()));
    }
    AUTHAPI_BASE_URL_ENV_VARS[1..].iter().find_map(|name| {
        let value = std::env::var(name).ok()?;
        (!value.trim().is_empty()).then(|| ((*name).to_owned(), value))
    })
}

/// A URL as an error may show it: without credentials, query or fragment, which may be secret.
/// Text that is not a URL with a host is cut the same way by hand: before the first `?` or `#`,
/// and after the last `@`.
pub(crate) fn shown_url(text: &str) -> String {
    let text = text.trim();
    let parsed = url::Url::parse(text)
        .ok()
        .filter(|url| url.host().is_some());
    let Some(mut url) = parsed else {
        let (kept, hidden) = match text.find(['?', '#']) {
            Some(at) => (&text[..at], true),
            None => (text, false),
        };
        let kept = kept.rsplit_once('@').map_or(kept, |(_, after)| after);
        return if hidden {
            format!("{kept}?…")
        } else {
            kept.to_owned()
        };
    };
    let hidden = url.query().is_some() || url.fragment().is_some();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    let mut shown = url.to_string();
    if hidden {
        shown.push_str("?…");
    }
    shown
}

/// What to do about an unacceptable URL, by the reason it was refused.
pub(crate) fn url_advice(reason: &str) -> &'static str {
    if reason.contains("https is required") {
        "use https, or http only to a loopback host (localhost, 127.0.0.1, [::1])"
    } else {
        "give an absolute https url"
    }
}

/// Completes `failure` with where the offending value came from and what to do next.
pub(crate) fn explain(failure: Failure, settings: &Settings) -> Failure {
    match failure.kind() {
        "wrong_issuer" => failure.hint(&expectation(
            settings,
            "issuer",
            "--issuer",
            "AGENT_IDENTITY_ISSUER",
        )),
        "wrong_audience" => failure.hint(&expectation(
            settings,
            "audience",
            "--audience",
            "AGENT_IDENTITY_AUDIENCE",
        )),
        "algorithm_not_allowed" => failure.hint(&expectation(
            settings,
            "algorithms",
            "--algorithms",
            agent_identity_manager::ALGORITHMS_ENV_VAR,
        )),
        "expired" => failure
            .hint("; get a fresh token, and store it with agent-identity login --jwt-file FILE"),
        "malformed" => match jwt_path(settings) {
            Some(path) => failure.hint(&format!(
                "; to read the token from a file, use --jwt-file {path}"
            )),
            None => failure,
        },
        _ if failure.is_network() => {
            if failure.kind() == "key_source_unavailable" {
                match key_set_url(settings) {
                    Some(url) => failure.hint(&format!(": is the key set at {url} reachable?")),
                    None => failure,
                }
            } else {
                let base =
                    AuthApiBaseUrl::resolve_with(settings.authapi_base_url.as_deref(), |name| {
                        std::env::var(name).ok()
                    });
                match base {
                    Ok(base) => failure.hint(&format!(": is the AuthAPI at {base} running?")),
                    Err(_) => failure,
                }
            }
        }
        _ => failure,
    }
}

/// Where the expected issuer or audience came from, and what to change.
fn expectation(settings: &Settings, id: &str, flag: &str, variable: &str) -> String {
    match origin(settings, id, flag, variable) {
        Some(from) => {
            format!(" (the expected value is from {from}: correct it if this token is right)")
        }
        None => format!(
            " (the expected value is the default: set {flag} or {variable} if this token is right)"
        ),
    }
}

/// The `--jwt` value, when it looks like a file's name rather than a token: it names a file
/// that exists, or holds a `/`, or ends like a file name. A token never has a `/` (base64url)
/// nor a short last segment such as `jwt`.
fn jwt_path(settings: &Settings) -> Option<&str> {
    if !settings.jwt_from_command_line {
        return None;
    }
    let value = settings.jwt.as_deref()?.trim();
    let extension = Path::new(value)
        .extension()
        .and_then(|extension| extension.to_str())
        .is_some_and(|extension| matches!(extension, "jwt" | "txt" | "json" | "token" | "jws"));
    let looks_like_path = value.contains('/') || extension || Path::new(value).is_file();
    (looks_like_path && !value.chars().any(char::is_whitespace)).then_some(value)
}

/// The key set URL in use, when it is a URL (not a file).
fn key_set_url(settings: &Settings) -> Option<String> {
    if settings.jwks_file.is_some() {
        return None;
    }
    Some(shown_url(
        settings.jwks_url.as_deref().unwrap_or(PRODUCTION_JWKS_URL),
    ))
}

#[cfg(test)]
mod tests {
    use super::shown_url;

    #[test]
    fn a_shown_url_never_repeats_credentials_query_or_fragment() {
        let cases = [
            (
                "https://user:hunter2@auth.example/api?key=S3CRET",
                "https://auth.example/api?…",
            ),
            ("auth.example/api?key=S3CRET", "auth.example/api?…"),
            ("user:hunter2@auth.example/api", "auth.example/api"),
            ("user:hunter2@auth.example/api#S3CRET", "auth.example/api?…"),
            ("http://127.0.0.1:9/api", "http://127.0.0.1:9/api"),
        ];
        for (given, shown) in cases {
            assert_eq!(shown_url(given), shown, "{given}");
            assert!(!shown_url(given).contains("hunter2"));
            assert!(!shown_url(given).contains("S3CRET"));
        }
    }
}
