//! Raw TCP for tests: addresses that refuse connections, and the few steps (connect, write,
//! read until closed) that tests of a server's edges take by hand.

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

/// 60 s: far more than any step of a test takes; a hang fails the test instead of the suite.
pub const STEP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Awaits `future` for at most [`STEP_TIMEOUT`].
///
/// # Panics
///
/// When it is not done by then, naming `what`.
pub async fn step<F: Future>(what: &'static str, future: F) -> F::Output {
    tokio::time::timeout(STEP_TIMEOUT, future)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done in time"))
}

/// Reads what the peer sends until it closes the connection (or resets it: what arrived before
/// is kept).
pub async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    use tokio::io::AsyncReadExt as _;
    step("the peer closes the connection", async {
        let mut received = Vec::new();
        let mut buffer = [0_u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return received,
                Ok(read) => received.extend_from_slice(&buffer[..read]),
            }
        }
    })
    .await
}

/// Writes all of `bytes`, ignoring an error: the peer may close before reading everything.
pub async fn write_ignoring_close(stream: &mut tokio::net::TcpStream, bytes: &[u8]) {
    use tokio::io::AsyncWriteExt as _;
    let _ = step("write", stream.write_all(bytes)).await;
}

/// Sends `request` on a new connection to `addr` and returns what comes back until the peer
/// closes the connection, as text (lossily).
///
/// # Panics
///
/// When the connection cannot be made.
pub async fn exchange(addr: impl tokio::net::ToSocketAddrs, request: &[u8]) -> String {
    let mut stream = step("connect", tokio::net::TcpStream::connect(addr))
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    write_ignoring_close(&mut stream, request).await;
    String::from_utf8_lossy(&read_until_closed(&mut stream).await).into_owned()
}

/// Whether nothing at all has arrived on `stream` so far, without waiting.
pub fn nothing_received_yet(stream: &tokio::net::TcpStream) -> bool {
    let mut buffer = [0_u8; 1];
    matches!(stream.try_read(&mut buffer), Err(error) if error.kind() == std::io::ErrorKind::WouldBlock)
}
