//! Unit tests of the output filters: redaction of token- and key-shaped text, the control
//! character sanitiser, and the JSON escaping of what serde_json leaves raw.

use super::{REDACTED, escape_json_controls, redact, sanitize, sanitize_lines};

/// A compact JWS as the emulator makes them (header `{"alg":"EdDSA","kid":"k"}`).
const TOKEN: &str = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.eyJzdWIiOiJ4IiwiYWdlbnRfcHJpdmF0ZV9rZXkiOiJNQzRDIn0.c2lnbmF0dXJlLWJ5dGVzLXNpZ25hdHVyZQ";
/// An Ed25519 PKCS#8 key in standard base64, with a `/` and a `+` in it.
const KEY: &str = "MC4CAQAwBQYDK2VwBCIEIH/8xQz9aB1c2d3e4f5g+6h7i8j9k0l1m2n3o4p5q6r7s8t";

#[test]
fn a_token_is_redacted_wherever_it_sits_in_a_message() {
    for (text, expected) in [
        (
            format!("cannot read {TOKEN}: No such file or directory (os error 2)"),
            format!("cannot read {REDACTED}: No such file or directory (os error 2)"),
        ),
        (
            format!("unexpected argument '{TOKEN}' found; tip: use '-- {TOKEN}'"),
            format!("unexpected argument '{REDACTED}' found; tip: use '-- {REDACTED}'"),
        ),
        (
            format!("cannot write {TOKEN}/auth.json: File name too long"),
            format!("cannot write {REDACTED}/auth.json: File name too long"),
        ),
        // A base64 run takes the path before it along: a key may hold a `/` anywhere.
        (
            format!("cannot read /tmp/x/{TOKEN}.tmp"),
            format!("cannot read {REDACTED}"),
        ),
        // A token without its signature, and a token with its first segment cut short.
        (
            "bad eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.".to_owned(),
            format!("bad {REDACTED}"),
        ),
        (
            "x abcdefghijklmnopq.rstu.vwxyz y".to_owned(),
            format!("x {REDACTED} y"),
        ),
    ] {
        let redacted = redact(&text);
        assert_eq!(redacted, expected);
        assert!(!redacted.contains("eyJ"), "{redacted}");
    }
}

#[test]
fn a_key_is_redacted_in_either_base64_alphabet() {
    let url_safe = KEY.replace('/', "_").replace('+', "-");
    for key in [KEY, url_safe.as_str(), &format!("{KEY}==")] {
        let text = format!("unexpected argument '{key}' found");
        assert_eq!(
            redact(&text),
            format!("unexpected argument '{REDACTED}' found"),
            "{key}"
        );
        let as_home = format!("cannot read {key}/auth.json: File name too long");
        assert!(!redact(&as_home).contains(&key[..30]), "{as_home}");
    }
}

#[test]
fn a_variable_name_before_a_secret_is_kept() {
    assert_eq!(
        redact(&format!(
            "[env: AGENT_IDENTITY_HOME={TOKEN}] [env: KEY={KEY}==]"
        )),
        format!("[env: AGENT_IDENTITY_HOME={REDACTED}] [env: KEY={REDACTED}]")
    );
}

#[test]
fn ordinary_text_is_left_alone() {
    for text in [
        "invalid value 'abc' for '--leeway <SECONDS>': 127.0.0.1 example.com a.b.c",
        "error sending request for url (https://chatgpt.com/backend-api/wham/agent-identities/jwks)",
        "https://auth.openai.com/api/accounts/v1/agent/agent-0123456789abcdef/task/register",
        "cannot read /tmp/.tmpAbCdEf/home/auth.json: permission denied",
        "task id task-0123456789abcdef0123456789abcdef",
        "/home/someone/projects/agent-identity/target/debug/agent-identity",
        "token kid \"emulator-eddsa-1\" is not in the key set",
        REDACTED,
    ] {
        assert_eq!(redact(text), text);
    }
}

#[test]
fn the_help_text_is_not_redacted() {
    let mut definition = crate::cli::definition();
    let help = definition.render_long_help().to_string();
    assert_eq!(redact(&help), help);
    for command in definition.get_subcommands_mut() {
        let help = command.render_long_help().to_string();
        assert_eq!(redact(&help), help, "{}", command.get_name());
    }
}

#[test]
fn redacting_keeps_other_unicode_intact() {
    let text = format!("é {TOKEN} ✓ {KEY} ü");
    assert_eq!(redact(&text), format!("é {REDACTED} ✓ {REDACTED} ü"));
}

#[test]
fn escape_sequences_and_control_characters_are_stripped() {
    for (text, expected) in [
        ("\u{1b}[31mred\u{1b}[0m", "red"),
        ("\u{1b}[1;38;5;196mbold\u{1b}[m", "bold"),
        ("\u{1b}]0;pwned title\u{7}task", "task"),
        (
            "\u{1b}]8;;http://evil\u{1b}\\link\u{1b}]8;;\u{1b}\\",
            "link",
        ),
        ("\u{1b}P1$r\u{1b}\\x", "x"),
        ("\u{1b}(Bplain", "plain"),
        ("\u{1b}cclear", "clear"),
        ("\u{9b}31mc1", "c1"),
        ("\u{9d}0;title\u{9c}after", "after"),
        (
            "line\nbreak\r\tand\u{0}nul\u{7f}del\u{85}nel",
            "linebreakandnuldelnel",
        ),
        ("\u{202e}reversed\u{2066}isolate\u{2069}", "reversedisolate"),
        // An introducer without a terminator takes only itself, not the rest of the text.
        ("\u{1b}]no terminator", "no terminator"),
        ("trailing escape \u{1b}", "trailing escape "),
        ("ünïcödé ✓ stays", "ünïcödé ✓ stays"),
    ] {
        assert_eq!(sanitize(text), expected, "{text:?}");
    }
}

#[test]
fn sanitized_lines_keep_their_own_line_breaks_only() {
    assert_eq!(sanitize_lines("a\u{1b}[2J\nb\r"), "a\nb");
}

#[test]
fn aligned_values_cannot_start_a_line_of_their_own() {
    let text = super::aligned(&[
        ("task id", "task-1\nstate: ready".to_owned()),
        ("account", "\u{1b}[31macct".to_owned()),
    ]);
    assert_eq!(text, "task id: task-1state: ready\naccount: acct");
}

#[test]
fn json_escapes_what_serde_json_leaves_raw_and_means_the_same() {
    let value = serde_json::json!({ "task_id": "a\u{1b}[31m\u{7f}\u{9b}\u{202e}b" });
    let text = escape_json_controls(&value.to_string());
    assert!(
        text.chars().all(|c| !c.is_control() && c != '\u{202e}'),
        "{text:?}"
    );
    let parsed: serde_json::Value = serde_json::from_str(&text).expect("still JSON");
    assert_eq!(parsed, value);
}
