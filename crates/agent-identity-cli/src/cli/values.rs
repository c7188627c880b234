//! The parsers of flag values clap has none for: a listen address that may name a host, and a
//! duration as a person writes it.

use std::net::SocketAddr;

/// `IP:PORT`, or `HOST:PORT` resolved (for `localhost`, the first address, IPv4 first).
pub(super) fn socket_address(text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs as _;
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    let mut addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .map_err(|_| format!("expected IP:PORT or HOST:PORT, found {text:?}"))?
        .collect();
    addrs.sort_by_key(|addr| !addr.is_ipv4());
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| format!("{text:?} resolves to no address"))
}

/// A duration as `--wait-for-credentials` takes it: numbers with a unit each (`ms`, `s`, `m`,
/// `h`), summed (`1m30s`), or a bare number of seconds.
pub(super) fn duration(text: &str) -> Result<std::time::Duration, String> {
    use std::time::Duration;
    let invalid = || format!("expected a duration such as 30s, 2m or 1h, found {text:?}");
    let text = text.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(invalid)?;
        let number: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let part = match &rest[..unit] {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            _ => return Err(invalid()),
        };
        total = total.saturating_add(part);
        rest = &rest[unit..];
    }
    if text.is_empty() {
        return Err(invalid());
    }
    Ok(total)
}
