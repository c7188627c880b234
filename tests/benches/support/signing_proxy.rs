//! The proxy being measured, set up once for every proxy bench: signing with an identity the
//! emulator minted, on the runtime the caller runs in, in front of `upstream`.

use std::error::Error;
use std::net::SocketAddr;
use std::sync::Arc;

use agent_identity_emulator::Emulator;
use agent_identity_manager::{AuthManager, CredentialStore, MemoryStore, TaskReuse};
use agent_identity_proxy::{ClientToken, Listener, Proxy};

/// Starts our proxy on an ephemeral loopback port; its address and the client token it wants.
pub(crate) async fn start(
    emulator: &Emulator,
    upstream: SocketAddr,
) -> Result<(SocketAddr, ClientToken), Box<dyn Error>> {
    let minted = emulator.mint().issue()?;
    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::with_token(minted.token));
    let manager = AuthManager::with_task_reuse(
        emulator.verifier(),
        emulator.task_client(),
        store,
        TaskReuse::PerProcess,
    )
    .await?;
    let token = ClientToken::generate();
    let proxy = Proxy::builder(manager, format!("http://{upstream}"))
        .client_token(token.clone())
        .build()?;
    let listener = Listener::bind_tcp(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let ours = listener.local_addr().ok_or("no address")?;
    tokio::spawn(async move { proxy.serve(listener, std::future::pending()).await });
    Ok((ours, token))
}
