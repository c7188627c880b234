//! Setting a manager up the way a user would: the builder, or an injected environment.

use std::collections::HashMap;
use std::sync::Arc;

use agent_identity_sdk::emulator::Emulator;
use agent_identity_sdk::{
    AgentIdentityMiddleware, AuthManager, AuthManagerBuilder, CredentialStore, MemoryStore,
};

/// A builder pointed at `emulator` through its settings alone.
pub(crate) fn builder(emulator: &Emulator) -> AuthManagerBuilder {
    AuthManager::builder()
        .jwks_url(emulator.jwks_url())
        .authapi_base_url(emulator.authapi_base_url())
        .issuer(emulator.issuer())
        .audience(emulator.audience())
        // Whatever the emulator signs with (RS256 by default, as ChatGPT and the default here).
        .algorithms([emulator.algorithm()])
}

/// A builder pointed at `emulator` through the variables `AuthManager::from_env` reads, from an
/// injected map: the process environment is never touched.
pub(crate) fn from_env(emulator: &Emulator, token: &str) -> AuthManagerBuilder {
    let env: HashMap<&str, String> = HashMap::from([
        ("AGENT_IDENTITY_JWKS_URL", emulator.jwks_url().to_string()),
        (
            "CODEX_AUTHAPI_BASE_URL",
            emulator.authapi_base_url().to_string(),
        ),
        ("AGENT_IDENTITY_ISSUER", emulator.issuer().to_owned()),
        ("AGENT_IDENTITY_AUDIENCE", emulator.audience().to_owned()),
        ("AGENT_IDENTITY_JWT", token.to_owned()),
    ]);
    AuthManagerBuilder::from_env_lookup(move |name| env.get(name).cloned())
        .algorithms([emulator.algorithm()])
        // The token comes from the "environment"; the store below it stays empty.
        .store(Arc::new(MemoryStore::new()) as Arc<dyn CredentialStore>)
}

/// A logged-in manager for a freshly minted identity.
pub(crate) async fn logged_in(emulator: &Emulator) -> AuthManager {
    let token = emulator.mint().issue().expect("mint").token;
    builder(emulator)
        .store(Arc::new(MemoryStore::with_token(token)))
        .build()
        .await
        .expect("loads")
}

/// A reqwest client that signs every request with `manager`'s identity.
pub(crate) fn client(manager: &AuthManager) -> reqwest_middleware::ClientWithMiddleware {
    reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(AgentIdentityMiddleware::new(manager.clone()))
        .build()
}
