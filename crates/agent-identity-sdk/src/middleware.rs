//! `AgentIdentityMiddleware`: signs every request of a `reqwest_middleware` client with the
//! manager's current identity, and recovers once from a resource server's 401.

use agent_identity_manager::{AgentIdentityAuth, AuthError, AuthManager};
use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

/// A [`reqwest_middleware::Middleware`] that adds the agent identity's headers (a fresh
/// `AgentAssertion`, `ChatGPT-Account-ID`, and `X-OpenAI-Fedramp` for FedRAMP accounts) to every
/// request.
///
/// - **Every attempt is signed afresh**, so it composes with a retry middleware placed before it
///   (reqwest-retry): a retried request never carries a stale assertion.
/// - **On a 401**, when the request can be cloned (its body is not a stream), it calls
///   [`AuthManager::recover_unauthorized`] once and retries once with the new task. A request
///   that cannot be cloned gets the 401 as it came.
/// - **A manager that is not `Ready`** (not logged in, a rejected or expired identity, the
///   AuthAPI unreachable at startup) fails the request with
///   [`reqwest_middleware::Error::Middleware`] holding the [`AuthError`], and **nothing is sent**.
///   A failed recovery fails the same way. Get the cause with
///   `error.downcast_ref::<AuthError>()` on the `anyhow::Error` inside, or
///   [`auth_error`].
///
/// It calls the same [`AuthManager`] a hand-written program would, and holds nothing else:
/// clones of the manager share one identity.
#[derive(Debug, Clone)]
pub struct AgentIdentityMiddleware {
    manager: AuthManager,
}

impl AgentIdentityMiddleware {
    /// Signs requests with `manager`'s identity.
    pub fn new(manager: AuthManager) -> Self {
        Self { manager }
    }
}

/// The [`AuthError`] inside a middleware error, when the agent identity was the cause.
pub fn auth_error(error: &reqwest_middleware::Error) -> Option<&AuthError> {
    match error {
        reqwest_middleware::Error::Middleware(error) => error.downcast_ref::<AuthError>(),
        _ => None,
    }
}

#[async_trait::async_trait]
impl Middleware for AgentIdentityMiddleware {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let auth = self
            .manager
            .auth()
            .map_err(reqwest_middleware::Error::middleware)?;
        // Cloned before signing, so a retry carries a fresh assertion, not this one.
        let retry = request.try_clone();
        let response = next
            .clone()
            .run(signed(request, &auth)?, extensions)
            .await?;
        let Some(retry) = retry.filter(|_| response.status() == StatusCode::UNAUTHORIZED) else {
            return Ok(response);
        };
        drop(response);
        let recovered = self
            .manager
            .recover_unauthorized()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        next.run(signed(retry, &recovered)?, extensions).await
    }
}

/// `request` with the identity's headers, replacing any of the same names.
fn signed(mut request: Request, auth: &AgentIdentityAuth) -> reqwest_middleware::Result<Request> {
    let headers = auth
        .headers()
        .and_then(|headers| headers.to_header_map().map_err(AuthError::from))
        .map_err(reqwest_middleware::Error::middleware)?;
    for (name, value) in &headers {
        request.headers_mut().insert(name.clone(), value.clone());
    }
    Ok(request)
}
