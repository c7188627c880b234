//! Checks on what a client's request names: dot segments in its path, the `Host` its local
//! endpoints answer, and the size of its head as it came over the wire.

use std::net::{IpAddr, SocketAddr};

use hyper::http::header::{self, HeaderMap};
use hyper::http::{Request, Version};

/// Whether `path` has a `.` or `..` segment in any spelling an upstream may normalise: plain,
/// percent-encoded (`%2e`, `%2E`), with path parameters (`..;x`), or behind an encoded or
/// backslash separator (`%2f`, `%5c`, `\`).
pub(crate) fn unsafe_path(path: &str) -> bool {
    // Only a path with an escape is decoded (a copy): most have none.
    let decoded = if path.contains('%') {
        std::borrow::Cow::Owned(percent_decode(path.as_bytes()))
    } else {
        std::borrow::Cow::Borrowed(path.as_bytes())
    };
    decoded
        .split(|&byte| byte == b'/' || byte == b'\\')
        .map(|segment| {
            segment
                .split(|&byte| byte == b';')
                .next()
                .unwrap_or(segment)
        })
        .any(|segment| segment == b"." || segment == b"..")
}

/// Decodes `%XX` escapes; anything else, a malformed escape included, is kept as it is.
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%'
            && let [high, low, after @ ..] = tail
            && let (Some(high), Some(low)) = (hex(*high), hex(*low))
        {
            decoded.push(high << 4 | low);
            rest = after;
            continue;
        }
        decoded.push(byte);
        rest = tail;
    }
    decoded
}

fn hex(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// Whether the `Host` names this machine's loopback (`localhost`, `127.0.0.0/8`, `[::1]`) or the
/// address the connection arrived on, any port. A missing `Host` (HTTP/1.0) passes: a page in a
/// browser always sends one, and DNS rebinding is what this check stops.
pub(crate) fn host_is_local(headers: &HeaderMap, local: Option<SocketAddr>) -> bool {
    let Some(host) = headers.get(header::HOST) else {
        return true;
    };
    let Ok(host) = host.to_str() else {
        return false;
    };
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match name.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback() || local.is_some_and(|local| local.ip() == ip),
        Err(_) => false,
    }
}

/// The size of the request line and headers as they were sent (`name: value` and CRLF per
/// field), to hold a request to `--max-header-bytes` exactly.
pub(crate) fn request_head_bytes<B>(request: &Request<B>) -> usize {
    let version = match request.version() {
        Version::HTTP_10 => "HTTP/1.0".len(),
        _ => "HTTP/1.1".len(),
    };
    let target = request
        .uri()
        .path_and_query()
        .map_or(1, |target| target.as_str().len())
        + request
            .uri()
            .authority()
            .map_or(0, |authority| authority.as_str().len() + "http://".len());
    let line = request.method().as_str().len() + 1 + target + 1 + version + 2;
    let fields: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + 2 + value.len() + 2)
        .sum();
    line + fields + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_are_found_in_every_spelling() {
        for path in [
            "/..",
            "/../etc/passwd",
            "/a/./b",
            "/a/%2e%2e/b",
            "/a/%2E%2e/b",
            "/a/.%2e",
            "/a/..;/b",
            "/a/..;jsessionid=1/b",
            "/a/..%2fb",
            "/a/..%5cb",
            "/a\\..\\b",
            "/%2e",
        ] {
            assert!(unsafe_path(path), "{path}");
        }
        for path in [
            "/",
            "/a/b",
            "/a/...",
            "/a/.b",
            "/v1/models",
            "/a/%2e%2e%2e",
            "/a/b.",
        ] {
            assert!(!unsafe_path(path), "{path}");
        }
    }

    #[test]
    fn a_local_host_is_loopback_or_the_connections_own_address() {
        let local = Some(SocketAddr::from(([192, 0, 2, 7], 8080)));
        let host = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, value.parse().expect("value"));
            headers
        };
        for ok in [
            "localhost",
            "LOCALHOST:1",
            "127.0.0.1:9",
            "127.1.2.3",
            "[::1]:80",
            "192.0.2.7:8080",
        ] {
            assert!(host_is_local(&host(ok), local), "{ok}");
        }
        for refused in [
            "evil.example",
            "evil.example:80",
            "localhost.evil.example",
            "192.0.2.8",
            "[::2]",
        ] {
            assert!(!host_is_local(&host(refused), local), "{refused}");
        }
        assert!(host_is_local(&HeaderMap::new(), None));
    }

    #[test]
    fn the_head_size_counts_the_request_line_and_every_field() {
        let request = Request::get("/abc?d")
            .header("host", "h")
            .header("x", "yz")
            .body(())
            .expect("request");
        let wire = "GET /abc?d HTTP/1.1\r\nhost: h\r\nx: yz\r\n\r\n";
        assert_eq!(request_head_bytes(&request), wire.len());
    }
}
