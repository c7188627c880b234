//! Addresses that refuse connections.

use std::net::SocketAddr;

/// A loopback address that refuses connections for the rest of this test process: bound but never
/// listening, so no other test (in this process or another) can take it over, as it could a port
/// that was bound and then released. The socket is leaked on purpose.
///
/// # Panics
///
/// If no loopback socket can be bound.
pub fn refusing_port() -> SocketAddr {
    let socket = tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("socket: {e}"));
    socket
        .bind(([127, 0, 0, 1], 0).into())
        .unwrap_or_else(|e| panic!("bind loopback: {e}"));
    let address = socket
        .local_addr()
        .unwrap_or_else(|e| panic!("address: {e}"));
    std::mem::forget(socket);
    address
}
