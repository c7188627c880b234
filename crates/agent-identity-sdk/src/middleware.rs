//! `AgentIdentityMiddleware`: signs the requests of a `reqwest_middleware` client that go to the
//! origins it was given, with the manager's current identity, and recovers once from a 401 that
//! one of those origins answered.

use agent_identity_manager::{AgentIdentityAuth, AuthError, AuthManager};
use http::Extensions;
use reqwest::{Request, Response, StatusCode};
use reqwest_middleware::{Middleware, Next};

use crate::origins::Origins;

/// A [`reqwest_middleware::Middleware`] that adds the agent identity's headers (a fresh
/// `AgentAssertion`, `ChatGPT-Account-ID`, and `X-OpenAI-Fedramp` for FedRAMP accounts) to the
/// requests that go to its [`Origins`].
///
/// - **Only listed origins are signed.** An agent runtime often shares one HTTP client between
///   its backend and a browse or fetch tool; an assertion is a bearer credential for minutes,
///   so a request to any other origin **passes through unsigned** (and its 401 is returned as
///   it came, without a recovery). Call [`strict`](Self::strict) to make such a request an
///   error instead, sent nowhere. The origins are `https`, or plain `http` to loopback only:
///   [`Origins::new`] refuses the rest, so nothing is signed in clear text off this machine.
/// - **Every attempt is signed afresh**, so it composes with a retry middleware placed before it
///   (reqwest-retry): a retried request never carries a stale assertion.
/// - **On a 401 from a listed origin**, when the request can be cloned (its body is not a
///   stream), it calls [`AuthManager::recover_unauthorized`] once and retries once with the new
///   task. A request that cannot be cloned gets the 401 as it came.
/// - **A manager that is not `Ready`** (not logged in, a rejected or expired identity, the
///   AuthAPI unreachable at startup) fails a request to a listed origin with
///   [`reqwest_middleware::Error::Middleware`] holding the [`AuthError`], and **nothing is sent**.
///   A failed recovery fails the same way. Get the cause with
///   `error.downcast_ref::<AuthError>()` on the `anyhow::Error` inside, or [`auth_error`].
///
/// It calls the same [`AuthManager`] a hand-written program would, and holds nothing else:
/// clones of the manager share one identity.
#[derive(Debug, Clone)]
pub struct AgentIdentityMiddleware {
    manager: AuthManager,
    origins: Origins,
    strict: bool,
}

impl AgentIdentityMiddleware {
    /// Signs requests to `origins` with `manager`'s identity; requests elsewhere pass through
    /// unsigned.
    pub fn new(manager: AuthManager, origins: Origins) -> Self {
        Self {
            manager,
            origins,
            strict: false,
        }
    }

    /// Fails a request to an origin outside the scope with
    /// [`AuthError::Config`] (setting `origin`), sending nothing, instead of passing it through
    /// unsigned. For a client that should only ever talk to the agent's own backend.
    pub fn strict(mut self) -> Self {
        self.strict = true;
        self
    }
}

/// The [`AuthError`] inside a middleware error, when the agent identity (or, in strict mode, a
/// request outside the signing scope) was the cause.
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
        if !self.origins.covers(request.url()) {
            if self.strict {
                // The URL is not named: it may carry credentials or a secret query.
                return Err(reqwest_middleware::Error::middleware(AuthError::Config {
                    setting: "origin",
                    reason:
                        "the request's origin is not one the middleware signs for, and it is strict"
                            .to_owned(),
                }));
            }
            return next.run(request, extensions).await;
        }
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
