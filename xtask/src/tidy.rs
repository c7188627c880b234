//! `cargo xtask tidy`: the house rules a reviewer should not have to check by hand, each printed
//! as `file:line: what is wrong (fix: what to do)`.
//!
//! The rules, over every `.rs` file under `crates/`, `xtask/`, `tests/` and `fuzz/` (build output
//! in `target/` directories is skipped):
//! - **Opener.** The first non-blank line is a `//!` comment saying what the file is.
//! - **No issue numbers** in comments or test names. In a comment: `#` then digits as a word of
//!   its own, `issue` or `issues` (any case) then spaces, an optional `#` and digits, and a
//!   finding id: an upper-case `N` or `I` then digits, as a word. A link to another project's
//!   issue (`tokio-rs/tokio#1234`, `…/issues/1234`) is not a word of its own and passes. In the
//!   name of a function marked as a test: a segment `issue` followed by a number segment, a
//!   segment `issue` with digits, or a segment that is `n` or `i` then digits, except the integer
//!   widths `i8` to `i128`.
//! - **Every crate named in ARCHITECTURE.md**: each workspace member's package name, as a word.
//! - **Environment variable names live in an `env` module.** A string literal that is exactly
//!   such a name (`AGENT_IDENTITY_…` or `CODEX_…`, upper case, digits and `_`) may only be written
//!   in a file `env.rs` or under a folder `env/`. Test code is exempt: a test that spells a
//!   variable's name pins the name users type, which the constant alone cannot. Test code is a file
//!   under a crate's `tests/` or `benches/`, and any file named `tests.rs` or under a `tests/`
//!   folder of `src/`. A name inside prose (a usage text, a message) is not a literal of its own.
//! - **Size.** A file under a crate's `src/` has at most [`MAX_SRC_LINES`] lines, unless a line of
//!   its `//!` opener starts with `One piece:` and says why it is one.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::workspace_root;

/// About 500 lines: past that a file has usually grown a second idea (STYLE.md, "A file is one idea").
pub(crate) const MAX_SRC_LINES: usize = 500;

/// The line in a long file's opener that says why it is one piece.
const ONE_PIECE_MARKER: &str = "//! One piece:";

/// The folders whose `.rs` files are checked, from the workspace root.
const SOURCE_ROOTS: [&str; 4] = ["crates", "xtask", "tests", "fuzz"];

/// The prefixes of an environment variable name that must live in an `env` module.
const ENV_PREFIXES: [&str; 2] = ["AGENT_IDENTITY_", "CODEX_"];

/// One broken rule, where it is, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// The file, relative to the workspace root, with `/` separators.
    pub(crate) path: String,
    /// 1-based.
    pub(crate) line: usize,
    pub(crate) message: String,
    pub(crate) hint: &'static str,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {} (fix: {})",
            self.path, self.line, self.message, self.hint
        )
    }
}

/// `cargo xtask tidy`.
pub(crate) fn run() -> ExitCode {
    match check() {
        Ok(()) => ExitCode::SUCCESS,
        Err(()) => ExitCode::FAILURE,
    }
}

/// Runs every rule over the workspace and prints each violation; `Err` when there is one.
pub(crate) fn check() -> Result<(), ()> {
    match check_workspace(&workspace_root()) {
        Ok(violations) if violations.is_empty() => {
            println!("xtask tidy: ok");
            Ok(())
        }
        Ok(violations) => {
            for violation in &violations {
                println!("{violation}");
            }
            println!("xtask tidy: {} violations", violations.len());
            Err(())
        }
        Err(message) => {
            println!("xtask tidy: {message}");
            Err(())
        }
    }
}

/// Every violation in the workspace at `root`, sorted by file and line.
fn check_workspace(root: &Path) -> Result<Vec<Violation>, String> {
    let mut files = Vec::new();
    for dir in SOURCE_ROOTS {
        collect_rust_files(&root.join(dir), &mut files)?;
    }
    files.sort();
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file)
            .map_err(|error| format!("reading {}: {error}", file.display()))?;
        let relative = relative_path(root, file);
        let in_crate = path_in_crate(root, file);
        violations.extend(check_source(&relative, &in_crate, &text));
    }
    let architecture = root.join("ARCHITECTURE.md");
    let map = std::fs::read_to_string(&architecture)
        .map_err(|error| format!("reading {}: {error}", architecture.display()))?;
    violations.extend(check_architecture(&map, &member_names(root)?));
    Ok(violations)
}

/// The `.rs` files under `dir`, skipping `target` folders and hidden ones.
fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries =
        std::fs::read_dir(dir).map_err(|error| format!("reading {}: {error}", dir.display()))?;
    for entry in entries {
        let entry = entry.map_err(|error| format!("reading {}: {error}", dir.display()))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let kind = entry
            .file_type()
            .map_err(|error| format!("reading {}: {error}", entry.path().display()))?;
        if kind.is_dir() {
            if name != "target" && !name.starts_with('.') {
                collect_rust_files(&entry.path(), files)?;
            }
        } else if kind.is_file() && name.ends_with(".rs") {
            files.push(entry.path());
        }
    }
    Ok(())
}

fn relative_path(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap_or(file);
    relative
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// The file's path relative to its package: the nearest folder above it with a `Cargo.toml`.
fn path_in_crate(root: &Path, file: &Path) -> String {
    let mut dir = file.parent();
    while let Some(candidate) = dir {
        if candidate.join("Cargo.toml").is_file() {
            return relative_path(candidate, file);
        }
        if candidate == root {
            break;
        }
        dir = candidate.parent();
    }
    relative_path(root, file)
}

/// The package names of the workspace's members, read from the root manifest's `members` list.
fn member_names(root: &Path) -> Result<Vec<String>, String> {
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|error| format!("reading {}: {error}", path.display()))
    };
    let manifest = read(&root.join("Cargo.toml"))?;
    let mut names = Vec::new();
    for member in workspace_members(&manifest) {
        let member_manifest = read(&root.join(&member).join("Cargo.toml"))?;
        let name = package_name(&member_manifest)
            .ok_or_else(|| format!("{member}/Cargo.toml has no package name"))?;
        names.push(name);
    }
    Ok(names)
}

/// The quoted entries of the `members = [ … ]` list of a `[workspace]` table.
pub(crate) fn workspace_members(manifest: &str) -> Vec<String> {
    let Some(start) = manifest.find("members") else {
        return Vec::new();
    };
    let rest = &manifest[start..];
    let (Some(open), Some(close)) = (rest.find('['), rest.find(']')) else {
        return Vec::new();
    };
    if close < open {
        return Vec::new();
    }
    rest[open + 1..close]
        .lines()
        .map(|line| line.split_once('#').map_or(line, |(code, _)| code))
        .flat_map(|line| line.split(','))
        .map(|entry| entry.trim().trim_matches('"'))
        .filter(|entry| !entry.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The `name` of the `[package]` table.
pub(crate) fn package_name(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "name"
        {
            return Some(value.trim().trim_matches('"').to_owned());
        }
    }
    None
}

/// ARCHITECTURE.md names every crate in `names`.
pub(crate) fn check_architecture(map: &str, names: &[String]) -> Vec<Violation> {
    names
        .iter()
        .filter(|name| !contains_word(map, name))
        .map(|name| Violation {
            path: "ARCHITECTURE.md".to_owned(),
            line: 1,
            message: format!("the crate `{name}` is not named"),
            hint: "give the crate a section in the code map, under its package name",
        })
        .collect()
}

/// Whether `needle` occurs in `text` with no name character (`A-Za-z0-9_-`) either side.
fn contains_word(text: &str, needle: &str) -> bool {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(needle).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + needle.len()..].chars().next();
        !before.is_some_and(is_name) && !after.is_some_and(is_name)
    })
}

/// The per-file rules. `path` is relative to the workspace root (for messages), `in_crate` to the
/// file's package (for the rules that depend on where in a crate the file is).
pub(crate) fn check_source(path: &str, in_crate: &str, text: &str) -> Vec<Violation> {
    let violation = |line: usize, message: String, hint: &'static str| Violation {
        path: path.to_owned(),
        line,
        message,
        hint,
    };
    let mut violations = Vec::new();
    let first = text
        .lines()
        .enumerate()
        .find(|(_, line)| !line.trim().is_empty());
    if !first.is_some_and(|(_, line)| line.trim_start().starts_with("//!")) {
        violations.push(violation(
            first.map_or(1, |(index, _)| index + 1),
            "the file does not open with a `//!` comment".to_owned(),
            "start it with a `//!` line saying what lives in this file",
        ));
    }
    for token in lex(text) {
        match token.kind {
            Kind::Comment => {
                if let Some((at, found)) = issue_reference(token.text) {
                    violations.push(violation(
                        token.line + line_offset(token.text, at),
                        format!("a comment names an issue: `{found}`"),
                        "say what the rule is, not which issue asked for it",
                    ));
                }
            }
            Kind::Str => {
                if is_env_name(token.text) && !env_module(path) && !test_code(in_crate) {
                    violations.push(violation(
                        token.line,
                        format!(
                            "the variable name \"{}\" is written outside an env module",
                            token.text
                        ),
                        "declare it as a constant in the crate's src/env.rs and use the constant",
                    ));
                }
            }
        }
    }
    for (line, name) in test_names(text) {
        if let Some(segment) = issue_segment(&name) {
            violations.push(violation(
                line,
                format!("the test `{name}` names an issue (`{segment}`)"),
                "name the test after the behaviour it checks",
            ));
        }
    }
    let lines = text.lines().count();
    let marked = text
        .lines()
        .take_while(|line| line.trim_start().starts_with("//!") || line.trim().is_empty())
        .any(|line| line.trim_start().starts_with(ONE_PIECE_MARKER));
    if in_crate.starts_with("src/") && lines > MAX_SRC_LINES && !marked {
        violations.push(violation(
            MAX_SRC_LINES + 1,
            format!("{lines} lines, over the {MAX_SRC_LINES}-line limit"),
            "split the file along its seams, or add a `//! One piece: <why>` line to its opener",
        ));
    }
    violations
}

fn line_offset(text: &str, at: usize) -> usize {
    text[..at].bytes().filter(|&byte| byte == b'\n').count()
}

/// A string literal that is exactly an environment variable name of ours or Codex's.
pub(crate) fn is_env_name(literal: &str) -> bool {
    ENV_PREFIXES.iter().any(|prefix| {
        literal.strip_prefix(prefix).is_some_and(|rest| {
            !rest.is_empty()
                && rest
                    .bytes()
                    .all(|byte| byte.is_ascii_uppercase() || byte.is_ascii_digit() || byte == b'_')
        })
    })
}

/// A file of an `env` module: `…/env.rs` or `…/env/…`.
pub(crate) fn env_module(path: &str) -> bool {
    path == "env.rs"
        || path.ends_with("/env.rs")
        || path.starts_with("env/")
        || path.contains("/env/")
}

/// Test code, by its path within its package.
pub(crate) fn test_code(in_crate: &str) -> bool {
    in_crate.starts_with("tests/")
        || in_crate.starts_with("benches/")
        || in_crate == "tests.rs"
        || in_crate.ends_with("/tests.rs")
        || in_crate.contains("/tests/")
}

/// The first issue reference in comment text: its byte offset and the text that matched.
pub(crate) fn issue_reference(text: &str) -> Option<(usize, &str)> {
    let bytes = text.as_bytes();
    let word = |at: usize| {
        bytes
            .get(at)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
    };
    let digits_from = |at: usize| {
        bytes[at..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count()
    };
    for at in 0..bytes.len() {
        let starts_word = at == 0 || !word(at - 1);
        match bytes[at] {
            b'#' if starts_word => {
                let count = digits_from(at + 1);
                if count > 0 && !word(at + 1 + count) {
                    return Some((at, &text[at..at + 1 + count]));
                }
            }
            b'N' | b'I' if starts_word => {
                let count = digits_from(at + 1);
                if count > 0 && !word(at + 1 + count) {
                    return Some((at, &text[at..at + 1 + count]));
                }
            }
            b'i' | b'I' if starts_word => {
                let Some(word_text) = text.get(at..at + 5) else {
                    continue;
                };
                if !word_text.eq_ignore_ascii_case("issue") {
                    continue;
                }
                let mut end = at + 5;
                if bytes
                    .get(end)
                    .is_some_and(|b| b.eq_ignore_ascii_case(&b's'))
                {
                    end += 1;
                }
                let spaces = bytes[end..].iter().take_while(|&&b| b == b' ').count();
                if spaces == 0 {
                    continue;
                }
                end += spaces;
                if bytes.get(end) == Some(&b'#') {
                    end += 1;
                }
                let count = digits_from(end);
                if count > 0 && !word(end + count) {
                    return Some((at, &text[at..end + count]));
                }
            }
            _ => {}
        }
    }
    None
}

/// The segment of a test's name that names an issue, if one does.
pub(crate) fn issue_segment(name: &str) -> Option<String> {
    let segments: Vec<&str> = name.split('_').collect();
    let number = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    for (index, segment) in segments.iter().enumerate() {
        if segment.eq_ignore_ascii_case("issue")
            && segments.get(index + 1).is_some_and(|next| number(next))
        {
            return Some(format!("{segment}_{}", segments[index + 1]));
        }
        if let Some(rest) = segment.strip_prefix("issue")
            && number(rest)
        {
            return Some((*segment).to_owned());
        }
        let widths = ["i8", "i16", "i32", "i64", "i128"];
        if let Some(rest) = segment.strip_prefix(['n', 'i'])
            && number(rest)
            && !widths.contains(segment)
        {
            return Some((*segment).to_owned());
        }
    }
    None
}

/// The functions marked as tests (`#[test]`, `#[tokio::test(…)]` and the like): the line of each
/// `fn` and its name.
pub(crate) fn test_names(text: &str) -> Vec<(usize, String)> {
    let mut names = Vec::new();
    let mut pending = false;
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.starts_with("#[") {
            let attribute = line.trim_start_matches("#[");
            let path = attribute.split([']', '(']).next().unwrap_or_default();
            if path == "test" || path.ends_with("::test") {
                pending = true;
            }
            continue;
        }
        if !pending || line.is_empty() || line.starts_with("//") {
            continue;
        }
        pending = false;
        if let Some((_, after)) = line.split_once("fn ") {
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            names.push((index + 1, name));
        }
    }
    names
}

mod lex;

use lex::{Kind, lex};

#[cfg(test)]
mod tests;
