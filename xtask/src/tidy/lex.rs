//! Just enough of a Rust lexer for tidy: the comments and string literals of a source file, each
//! with the line it starts on.

/// What a lexed token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A line or block comment, markers included.
    Comment,
    /// The content of a string literal, raw or not, without its quotes.
    Str,
}

/// A comment or a string literal, and the line it starts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub(super) kind: Kind,
    pub(super) line: usize,
    pub(super) text: &'a str,
}

/// The comments and string literals of Rust source, enough of a lexer to tell a `//` inside a
/// string from a comment, and a lifetime from a character literal.
pub(super) fn lex(source: &str) -> Vec<Token<'_>> {
    let bytes = source.as_bytes();
    let ident = |at: usize| bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_';
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut at = 0;
    // The bytes skipped from `from` to `to` are counted for their newlines.
    let newlines = |from: usize, to: usize| {
        source[from..to.min(bytes.len())]
            .bytes()
            .filter(|&byte| byte == b'\n')
            .count()
    };
    while at < bytes.len() {
        match bytes[at] {
            b'\n' => {
                line += 1;
                at += 1;
            }
            b'/' if bytes.get(at + 1) == Some(&b'/') => {
                let end = source[at..].find('\n').map_or(bytes.len(), |n| at + n);
                tokens.push(Token {
                    kind: Kind::Comment,
                    line,
                    text: &source[at..end],
                });
                at = end;
            }
            b'/' if bytes.get(at + 1) == Some(&b'*') => {
                let mut depth = 0usize;
                let mut end = at;
                while end < bytes.len() {
                    if bytes[end..].starts_with(b"/*") {
                        depth += 1;
                        end += 2;
                    } else if bytes[end..].starts_with(b"*/") {
                        depth -= 1;
                        end += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        end += 1;
                    }
                }
                let end = end.min(bytes.len());
                tokens.push(Token {
                    kind: Kind::Comment,
                    line,
                    text: &source[at..end],
                });
                line += newlines(at, end);
                at = end;
            }
            b'r' if (at == 0
                || !ident(at - 1)
                || (bytes[at - 1] == b'b' && (at < 2 || !ident(at - 2))))
                && bytes[at + 1..]
                    .iter()
                    .find(|&&b| b != b'#')
                    .is_some_and(|&b| b == b'"') =>
            {
                let hashes = bytes[at + 1..].iter().take_while(|&&b| b == b'#').count();
                let start = at + 1 + hashes + 1;
                let closing: String = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let end = source[start..]
                    .find(&closing)
                    .map_or(bytes.len(), |n| start + n);
                tokens.push(Token {
                    kind: Kind::Str,
                    line,
                    text: &source[start..end],
                });
                line += newlines(at, end);
                at = (end + closing.len()).min(bytes.len());
            }
            b'"' => {
                let start = at + 1;
                let mut end = start;
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let end = end.min(bytes.len());
                tokens.push(Token {
                    kind: Kind::Str,
                    line,
                    text: &source[start..end],
                });
                line += newlines(at, end);
                at = end + 1;
            }
            b'\'' => {
                if bytes.get(at + 1) == Some(&b'\\') {
                    // An escaped character: skip to the closing quote after the escape.
                    let close = source
                        .get(at + 3..)
                        .and_then(|rest| rest.find('\''))
                        .map_or(bytes.len(), |n| at + 3 + n);
                    at = close + 1;
                } else if let Some(c) = source[at + 1..].chars().next()
                    && bytes.get(at + 1 + c.len_utf8()) == Some(&b'\'')
                {
                    at += 2 + c.len_utf8();
                } else {
                    // A lifetime or a label.
                    at += 1;
                }
            }
            _ => at += 1,
        }
    }
    tokens
}
