//! The fuzz target over the CLI's output filters. The CLI is a binary without a library, so its
//! filter file is compiled into this crate as it is: the code fuzzed is the code the CLI runs.

#[path = "../../../crates/agent-identity-cli/src/output/filter.rs"]
mod filter;

use super::{valid_vector_token, vector_private_key};

/// Any text through the CLI's `sanitize`, `redact` and `shell_quote`.
///
/// Checks: sanitized text holds no control or bidirectional control character, and sanitizing
/// again changes nothing; the vectors' token and private key, written as words of their own
/// amid the text, never survive `redact`; a shell-quoted word reads back as the text under POSIX
/// quoting rules.
pub fn cli_output(data: &[u8]) {
    let text = String::from_utf8_lossy(data);

    let clean = filter::sanitize(&text);
    assert!(
        !clean
            .chars()
            .any(|c| c.is_control() || filter::is_bidi_control(c)),
        "sanitized text keeps a control character"
    );
    assert_eq!(filter::sanitize(&clean), clean, "sanitizing twice differs");

    let _ = filter::redact(&text);
    for secret in [valid_vector_token(), vector_private_key()] {
        let shown = filter::redact(&format!("{text} {secret} {text}"));
        assert!(!shown.contains(secret), "a secret survives redaction");
    }

    let quoted = filter::shell_quote(&text);
    assert_eq!(
        posix_word(&quoted).as_deref(),
        Some(clean.as_str()),
        "a shell-quoted word does not read back as its sanitized text"
    );
}

/// The value of one POSIX shell word made only of single-quoted strings and `\'`, or `None` if
/// the word holds anything else (an unquoted character the shell would interpret, or an
/// unterminated quote).
fn posix_word(word: &str) -> Option<String> {
    let mut value = String::new();
    let mut rest = word;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("\\'") {
            value.push('\'');
            rest = after;
        } else if let Some(after) = rest.strip_prefix('\'') {
            let end = after.find('\'')?;
            value.push_str(&after[..end]);
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(value)
}
