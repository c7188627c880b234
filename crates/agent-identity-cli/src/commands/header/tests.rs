//! Unit tests of the shell forms `header` prints.

use proptest::prelude::*;

use super::curl_arguments;
use crate::output::{sanitize, shell_quote};

/// What `Output::line` does to a line before printing it.
fn printed(line: &str) -> String {
    sanitize(line)
}

#[test]
fn a_control_character_at_the_end_of_a_value_cannot_eat_the_closing_quote() {
    let line = printed(&curl_arguments([(
        "Authorization",
        "AgentAssertion abc\u{1b}",
    )]));
    assert_eq!(line, "-H 'Authorization: AgentAssertion abc'");
    assert_eq!(printed(&shell_quote("x\u{1b}")), "'x'");
}

/// Any text, and often text made of what a shell or a terminal acts on: quotes, backslashes,
/// dollars, spaces, C0 and C1 controls, `ESC [`, bidirectional overrides.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-z '\"\\\\$`;|&*?~#\\[\\]\\x00-\\x1f\\x7f\\u{80}-\\u{9f}\\u{202a}-\\u{202e}]{0,24}",
    ]
}

proptest! {
    #[test]
    fn curl_arguments_split_back_word_for_word(
        values in proptest::collection::vec(value(), 1..4),
    ) {
        let headers: Vec<(String, String)> = values
            .iter()
            .enumerate()
            .map(|(at, value)| (format!("x-header-{at}"), value.clone()))
            .collect();
        let line = printed(&curl_arguments(
            headers.iter().map(|(name, value)| (name.as_str(), value.as_str())),
        ));
        let words = shlex::split(&line).expect("the line splits");
        let expected: Vec<String> = headers
            .iter()
            .flat_map(|(name, value)| ["-H".to_owned(), format!("{name}: {}", sanitize(value))])
            .collect();
        prop_assert_eq!(words, expected);
    }
}
