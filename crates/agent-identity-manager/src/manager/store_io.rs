//! Store I/O: calling the credential store, and the runtime cache's file I/O, off the async
//! threads when they may block.

use std::sync::Arc;

use crate::credential::Credential;
use crate::store::{CredentialStore, StoreError};

/// Runs blocking file I/O (the runtime cache) off the async threads; `None` if the runtime shut
/// down under it.
pub(super) async fn blocking<T: Send + 'static>(
    call: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(call).await.ok()
}

/// Reads the store's credential, in either form: in place when its reads never wait ([`CredentialStore::load_may_block`]),
/// else as [`store_call`].
pub(super) async fn load_stored(
    store: &Arc<dyn CredentialStore>,
) -> Result<Option<Credential>, StoreError> {
    if store.load_may_block() {
        store_call(store, |store| store.load_credential()).await
    } else {
        store.load_credential()
    }
}

/// Runs a store call, off the async threads when the store may block (file I/O, or waiting on
/// another process's lock); a memory store is called in place.
pub(super) async fn store_call<T: Send + 'static>(
    store: &Arc<dyn CredentialStore>,
    call: impl FnOnce(&dyn CredentialStore) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    if !store.may_block() {
        return call(&**store);
    }
    let store = Arc::clone(store);
    match tokio::task::spawn_blocking(move || call(&*store)).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        Err(_) => Err(StoreError::Interrupted),
    }
}
