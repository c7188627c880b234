//! The headers on their way through: hop-by-hop fields dropped both ways, the client's identity
//! headers dropped (fresh ones are set by [`sign`] on hyper's path, or written into a held
//! request's head by the upstream client), and the framing rule of RFC 9112 §6.3.

use agent_identity_manager::{AgentIdentityAuth, AuthError};
use hyper::http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// The hop-by-hop fields of RFC 9110 §7.6.1 (and the pre-standard `Keep-Alive` and
/// `Proxy-Connection`), plus the proxy's own credentials: never forwarded either way. Names, not
/// strings: removing by a string parses it on every call, on every request's path.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHORIZATION,
    header::PROXY_AUTHENTICATE,
];

/// The identity headers, as the task crate declares them (re-exported by the manager).
pub(crate) const ACCOUNT_ID: HeaderName = agent_identity_manager::ACCOUNT_ID_HEADER_NAME;
pub(crate) const FEDRAMP: HeaderName = agent_identity_manager::FEDRAMP_HEADER_NAME;

/// Whether the client asks to switch protocols (a WebSocket, say).
pub(crate) fn wants_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE) && lists_token(headers, &header::CONNECTION, "upgrade")
}

/// Whether a comma-separated field lists `token`, in any case.
pub(crate) fn lists_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// RFC 9112 §6.3: when `Transfer-Encoding` is present it decides the framing, and a
/// `Content-Length` beside it must be dropped. Left in place (the `Transfer-Encoding` itself is
/// hop-by-hop and goes), it would cut the body off at the stated length.
pub(crate) fn drop_length_beside_transfer_encoding(headers: &mut HeaderMap) {
    if headers.contains_key(header::TRANSFER_ENCODING) {
        headers.remove(header::CONTENT_LENGTH);
    }
}

/// Removes the hop-by-hop fields, and those the `Connection` header names.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none of them: one pass over the names present costs less than a
    // lookup for each name that might be.
    if !headers.keys().any(|name| HOP_BY_HOP.contains(name)) {
        return;
    }
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The client's headers as the upstream gets them (before signing): hop-by-hop fields, `Host`
/// and the three identity headers removed, the upstream's `Host` set. An upgrade keeps
/// `Connection: upgrade` and `Upgrade`.
pub(crate) fn upstream_headers(client: HeaderMap, host: &HeaderValue, upgrade: bool) -> HeaderMap {
    let mut headers = client;
    let upgrade_value = headers.get(header::UPGRADE).cloned();
    drop_length_beside_transfer_encoding(&mut headers);
    strip_hop_by_hop(&mut headers);
    headers.remove(header::AUTHORIZATION);
    headers.remove(ACCOUNT_ID);
    headers.remove(FEDRAMP);
    headers.insert(header::HOST, host.clone());
    if upgrade && let Some(value) = upgrade_value {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, value);
    }
    headers
}

/// Adds a fresh assertion and its companion headers, as the task crate maps them
/// (`RequestHeaders::insert_into`: lowercase names, the assertion marked sensitive), replacing
/// any of the same name. The values are the memoised ones, shared rather than copied.
pub(crate) fn sign(headers: &mut HeaderMap, auth: &AgentIdentityAuth) -> Result<(), AuthError> {
    auth.headers()?.insert_into(headers)?;
    Ok(())
}
