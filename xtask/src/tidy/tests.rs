//! Each tidy rule on small inputs: what it catches, and the look-alikes it lets through.

use super::*;

fn messages(path: &str, in_crate: &str, text: &str) -> Vec<String> {
    check_source(path, in_crate, text)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_file_without_an_opener_is_reported_at_its_first_line() {
    let found = messages(
        "crates/a/src/lib.rs",
        "src/lib.rs",
        "\n// a plain comment\nfn f() {}\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(
            "crates/a/src/lib.rs:2: the file does not open with a `//!` comment (fix: "
        ),
        "{found:?}"
    );
    assert!(messages("a.rs", "src/a.rs", "//! What this is.\nfn f() {}\n").is_empty());
    assert_eq!(messages("a.rs", "src/a.rs", "").len(), 1);
}

#[test]
fn issue_numbers_in_comments_are_found_with_their_line() {
    let hash = ["//! Opener.", "fn f() {}", "// fixed in #16 at last"].join("\n");
    let found = check_source("a.rs", "src/a.rs", &hash);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, 3);
    assert!(found[0].message.contains("`#16`"), "{found:?}");

    for comment in [
        "// see issue 17",
        "// See Issue #17.",
        "// two issues 16 and 17",
        "/// hardening finding N7",
        "/* the I10 targets */",
        "// (I4)",
    ] {
        let text = format!("//! Opener.\n{comment}\n");
        assert_eq!(
            check_source("a.rs", "src/a.rs", &text).len(),
            1,
            "not caught: {comment}"
        );
    }
}

#[test]
fn look_alikes_of_issue_numbers_pass() {
    for line in [
        "#[derive(Debug)]",
        "// a u8 and an i64, through I/O",
        "// the issuer is checked; issues are filed upstream",
        "// see tokio-rs/tokio#1234 and https://github.com/a/b/issues/12",
        "// N-API, IPv4, I2C, NaN, x#1",
        "// the issue: tokens expire",
        "let s = \"issue 16 #16 N7\"; // a string, not a comment",
        "// RFC 8037 §2, section 3",
    ] {
        let text = format!("//! Opener.\n{line}\n");
        let found = messages("a.rs", "src/a.rs", &text);
        assert!(found.is_empty(), "{line}: {found:?}");
    }
}

#[test]
fn a_comment_inside_a_block_comment_is_reported_on_its_own_line() {
    let text = "//! Opener.\n/* first\n   second, after #21\n*/\nfn f() {}\n";
    let found = check_source("a.rs", "src/a.rs", text);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, 3);
}

#[test]
fn test_names_with_issue_numbers_are_found() {
    let text = "//! Opener.\n\n#[test]\nfn issue_16_regression() {}\n\n\
                #[tokio::test(start_paused = true)]\n// why\nasync fn n7_cache_is_safe() {}\n\n\
                #[test]\nfn checks_i10_fuzzing() {}\n\n#[test]\nfn issue16() {}\n";
    let found = check_source("a.rs", "src/tests.rs", text);
    let lines: Vec<usize> = found.iter().map(|violation| violation.line).collect();
    assert_eq!(lines, vec![4, 8, 11, 14], "{found:?}");
}

#[test]
fn behaviour_test_names_and_non_tests_pass() {
    let text = "//! Opener.\n\n#[test]\nfn an_i64_timestamp_round_trips() {}\n\n\
                #[test]\nfn the_issue_date_is_checked() {}\n\nfn n7_helper() {}\n";
    let found = messages("a.rs", "src/tests.rs", text);
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn an_env_name_literal_outside_an_env_module_is_reported() {
    let text =
        "//! Opener.\nconst HOME: &str = \"AGENT_IDENTITY_HOME\";\nfn f() { g(\"CODEX_HOME\"); }\n";
    let found = check_source("crates/a/src/home.rs", "src/home.rs", text);
    let lines: Vec<usize> = found.iter().map(|violation| violation.line).collect();
    assert_eq!(lines, vec![2, 3], "{found:?}");
    assert!(found[0].to_string().contains("src/env.rs"), "{found:?}");
}

#[test]
fn env_name_literals_pass_in_env_modules_tests_and_prose() {
    let text = "//! Opener.\nconst HOME: &str = \"AGENT_IDENTITY_HOME\";\n";
    for (path, in_crate) in [
        ("crates/a/src/env.rs", "src/env.rs"),
        ("crates/a/src/store/env.rs", "src/store/env.rs"),
        ("crates/a/src/env/names.rs", "src/env/names.rs"),
        ("crates/a/tests/it/main.rs", "tests/it/main.rs"),
        ("crates/a/src/store/tests.rs", "src/store/tests.rs"),
        (
            "crates/a/src/store/tests/file.rs",
            "src/store/tests/file.rs",
        ),
        ("crates/a/benches/b.rs", "benches/b.rs"),
    ] {
        assert!(messages(path, in_crate, text).is_empty(), "{path}");
    }
    let prose = "//! Opener.\nconst USAGE: &str = \"set AGENT_IDENTITY_HOME=dir\";\n\
                 const LOWER: &str = \"AGENT_IDENTITY_home\";\nconst BARE: &str = \"AGENT_IDENTITY_\";\n";
    assert!(messages("a.rs", "src/a.rs", prose).is_empty());
}

#[test]
fn the_lexer_tells_strings_chars_and_lifetimes_from_comments() {
    let text = "//! Opener.\nfn f<'a>(x: &'a str) -> char {\n    let url = \"https://example.com\";\n    \
                let raw = r#\"a \"quoted\" // not a comment\"#;\n    let c = '\"'; let q = '\\''; let b = b'/';\n    \
                // a real comment\n    'x'\n}\n";
    let tokens = lex(text);
    let comments: Vec<(usize, &str)> = tokens
        .iter()
        .filter(|token| token.kind == Kind::Comment)
        .map(|token| (token.line, token.text))
        .collect();
    assert_eq!(comments, vec![(1, "//! Opener."), (6, "// a real comment")]);
    let strings: Vec<&str> = tokens
        .iter()
        .filter(|token| token.kind == Kind::Str)
        .map(|token| token.text)
        .collect();
    assert_eq!(
        strings,
        vec!["https://example.com", "a \"quoted\" // not a comment"]
    );
}

#[test]
fn a_long_src_file_needs_the_one_piece_marker() {
    let body = "fn f() {}\n".repeat(MAX_SRC_LINES);
    let plain = format!("//! Opener.\n{body}");
    let found = check_source("crates/a/src/big.rs", "src/big.rs", &plain);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].line, MAX_SRC_LINES + 1);
    assert!(found[0].message.contains("501 lines"), "{found:?}");

    let marked =
        format!("//! Opener.\n//!\n//! One piece: the state machine reads best whole.\n{body}");
    assert!(check_source("crates/a/src/big.rs", "src/big.rs", &marked).is_empty());
    // Only the opener counts: the marker later in the file is not a reason given up front.
    let late = format!("//! Opener.\n{body}//! One piece: too late.\n");
    assert_eq!(
        check_source("crates/a/src/big.rs", "src/big.rs", &late).len(),
        1
    );
    // Tests and other files outside src/ have no limit.
    assert!(check_source("crates/a/tests/it/big.rs", "tests/it/big.rs", &plain).is_empty());
    let exact = format!("//! Opener.\n{}", "fn f() {}\n".repeat(MAX_SRC_LINES - 1));
    assert!(check_source("crates/a/src/big.rs", "src/big.rs", &exact).is_empty());
}

#[test]
fn architecture_must_name_every_member_as_a_word() {
    let names = vec![
        "agent-identity-jwt".to_owned(),
        "agent-identity-test".to_owned(),
        "xtask".to_owned(),
    ];
    let map = "# Map\n`agent-identity-jwt` verifies. `agent-identity-test-support` helps. xtask runs CI.\n";
    let found = check_architecture(map, &names);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].message.contains("`agent-identity-test`"),
        "{found:?}"
    );
    assert_eq!(found[0].path, "ARCHITECTURE.md");
}

#[test]
fn members_and_package_names_are_read_from_manifests() {
    let root = "[workspace]\nresolver = \"3\"\nmembers = [\n    \"crates/a\", # the first\n    \"xtask\",\n]\nexclude = [\"fuzz\"]\n";
    assert_eq!(workspace_members(root), vec!["crates/a", "xtask"]);
    let member = "[package]\nname = \"agent-identity-a\"\nversion = \"0.1.0\"\n\n[dependencies]\nname = \"no\"\n";
    assert_eq!(package_name(member).as_deref(), Some("agent-identity-a"));
}

#[test]
fn violations_print_as_file_line_message_and_hint() {
    let violation = Violation {
        path: "crates/a/src/x.rs".to_owned(),
        line: 7,
        message: "broken".to_owned(),
        hint: "mend it",
    };
    assert_eq!(
        violation.to_string(),
        "crates/a/src/x.rs:7: broken (fix: mend it)"
    );
}
