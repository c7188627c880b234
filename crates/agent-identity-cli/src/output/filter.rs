//! The filters untrusted text passes on its way out: [`redact`] hides anything shaped like a
//! token or a key, [`sanitize`] strips what a terminal would obey, and [`shell_quote`] makes one
//! POSIX shell word.
//!
//! Plain functions over `&str` with nothing but `std`, so that the fuzz targets (the `tests`
//! package's `fuzz_targets`) compile this very file into their crate: the CLI is a binary with no
//! library to call into.

/// What a redacted span is replaced with.
pub(crate) const REDACTED: &str = "<redacted>";

/// 40 characters: a run of the base64 alphabet at least this long is treated as a key. An Ed25519
/// PKCS#8 key is 64 characters in base64 and an RSA key hundreds, while the ids and words we
/// print are shorter.
const MIN_KEY_RUN: usize = 40;

/// 16 characters: the shortest first segment of a dotted word taken for a JWS header. The
/// smallest real header, `{"alg":"none"}`, is 19 characters in base64url; host names rarely have
/// a first label this long.
const MIN_JWS_HEADER: usize = 16;

/// 10 characters: a word starting with `eyJ` (base64url of `{"`, how every JWS header starts)
/// and at least this long is taken for a token or a piece of one.
const MIN_EYJ_WORD: usize = 10;

/// Removes everything a terminal would act on rather than show: ANSI escape sequences (CSI such
/// as `ESC [ 31 m`, OSC such as a window title or a hyperlink, and the other `ESC` forms), their
/// single-character C1 equivalents, every other C0 and C1 control character including line breaks
/// and DEL, and the bidirectional embedding, override and isolate characters, which can reorder
/// what is shown. Everything else is kept as is.
///
/// Task ids come from the AuthAPI, claims shown by `status` are not verified, and error messages
/// may quote either: none of them may drive the terminal.
pub(crate) fn sanitize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '\u{1b}' => rest = skip_escape(rest),
            '\u{9b}' => rest = skip_csi(rest),
            // DCS, SOS, OSC, PM and APC: a string terminated by BEL or ST.
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => rest = skip_string(rest),
            c if c.is_control() || is_bidi_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// After an `ESC`: skips the rest of its sequence and returns what follows.
fn skip_escape(rest: &str) -> &str {
    match rest.chars().next() {
        Some('[') => skip_csi(&rest[1..]),
        Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&rest[1..]),
        // nF and Fp/Fe/Fs forms: intermediates 0x20–0x2F, then one final 0x30–0x7E.
        Some(' '..='~') => {
            let intermediates = rest
                .bytes()
                .take_while(|b| (0x20..=0x2f).contains(b))
                .count();
            let rest = &rest[intermediates..];
            match rest.bytes().next() {
                Some(0x30..=0x7e) => &rest[1..],
                _ => rest,
            }
        }
        // A lone ESC: dropping it is enough to make what follows plain text.
        _ => rest,
    }
}

/// After a CSI: skips parameters and intermediates (0x20–0x3F) and the final byte (0x40–0x7E).
fn skip_csi(rest: &str) -> &str {
    let params = rest
        .bytes()
        .take_while(|b| (0x20..=0x3f).contains(b))
        .count();
    let rest = &rest[params..];
    match rest.bytes().next() {
        Some(0x40..=0x7e) => &rest[1..],
        _ => rest,
    }
}

/// After the introducer of a control string (OSC, DCS, …): skips to just after its terminator,
/// BEL, `ESC \` or ST. Without a terminator only the introducer goes, so a stray one cannot
/// swallow the rest of the text.
fn skip_string(rest: &str) -> &str {
    for (at, c) in rest.char_indices() {
        match c {
            '\u{7}' | '\u{9c}' => return &rest[at + c.len_utf8()..],
            '\u{1b}' if rest[at + 1..].starts_with('\\') => return &rest[at + 2..],
            _ => {}
        }
    }
    rest
}

/// Replaces every run shaped like a token or a key with `<redacted>`:
///
/// - a JWT: a word of base64url characters and dots that starts with `eyJ`, or that has three
///   dot-separated segments, the first at least 16 characters and the second non-empty;
/// - a key: a run of at least 40 characters of the base64 or base64url alphabet; a run with a
///   `/` in it must also hold an upper-case letter, so that a lower-case URL path or file path
///   is left alone while a standard-base64 key (which has upper-case letters all but surely)
///   is not.
///
/// Used on everything that can quote what a user typed: error messages, usage errors, help text,
/// log lines and the credential store's path.
pub(crate) fn redact(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut hidden = vec![false; bytes.len()];
    for (start, end) in runs(bytes, is_jws_byte) {
        if looks_like_jws(&text[start..end]) {
            hidden[start..end].fill(true);
        }
    }
    for (start, end) in runs(bytes, is_base64_byte) {
        if looks_like_key(&text[start..end]) {
            // `=` is only padding, at the end; outside a run it is `NAME=value`, which stays.
            let padding = bytes[end..]
                .iter()
                .take(2)
                .take_while(|&&b| b == b'=')
                .count();
            hidden[start..end + padding].fill(true);
        }
    }
    // Hidden spans are ASCII, so every span boundary is a character boundary.
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        let hide = hidden[at];
        let end = hidden[at..]
            .iter()
            .position(|&h| h != hide)
            .map_or(bytes.len(), |len| at + len);
        if hide {
            out.push_str(REDACTED);
        } else {
            out.push_str(&text[at..end]);
        }
        at = end;
    }
    out
}

/// The `(start, end)` byte ranges of the maximal runs of bytes matching `belongs`.
fn runs(bytes: &[u8], belongs: fn(u8) -> bool) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut start = None;
    for (at, &byte) in bytes.iter().enumerate() {
        match (belongs(byte), start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                found.push((from, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        found.push((from, bytes.len()));
    }
    found
}

fn is_jws_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.')
}

/// The base64 and base64url alphabets, without the padding `=`.
fn is_base64_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'+' | b'/')
}

fn looks_like_jws(word: &str) -> bool {
    let word = word.trim_matches('.');
    if word.starts_with("eyJ") && word.len() >= MIN_EYJ_WORD {
        return true;
    }
    let segments: Vec<&str> = word.split('.').collect();
    segments.len() == 3 && segments[0].len() >= MIN_JWS_HEADER && !segments[1].is_empty()
}

fn looks_like_key(run: &str) -> bool {
    run.len() >= MIN_KEY_RUN && (!run.contains('/') || run.bytes().any(|b| b.is_ascii_uppercase()))
}

/// `text` as one POSIX shell word: [`sanitize`]d first, then single-quoted, an embedded `'`
/// written `'\''`. In that order, nothing sanitizing would remove (a control character at the
/// end, an escape sequence) can reach the closing quote: the word splits back to what it says.
pub(crate) fn shell_quote(text: &str) -> String {
    format!("'{}'", sanitize(text).replace('\'', "'\\''"))
}
