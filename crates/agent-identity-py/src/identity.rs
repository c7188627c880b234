//! `Identity`: an `AuthManager` seen from Python, and the typed objects its methods return.
//!
//! It holds the manager and nothing else: no token, key or assertion is ever kept in a Python
//! object. `headers()` builds a fresh header set per call and hands it over as a `dict`.

use std::time::Duration;

use agent_identity_sdk::manager::{JWT_ENV_VAR, JWT_ENV_VAR_COMPAT};
use agent_identity_sdk::{AuthError, AuthManager, AuthManagerBuilder};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::aio;
use crate::errors;
use crate::reports::{IdentityDegraded, IdentityReload, IdentityStatus};
use crate::runtime::{self, Birth};

/// The builder settings `from_env` takes as keyword overrides; each wins over its variable.
#[derive(Default)]
pub(crate) struct Overrides {
    pub(crate) home: Option<String>,
    pub(crate) jwks_url: Option<String>,
    pub(crate) jwks_file: Option<String>,
    pub(crate) authapi_base_url: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) audience: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) token_file: Option<String>,
    pub(crate) leeway: Option<f64>,
    pub(crate) max_registration_attempts: Option<u32>,
}

impl Overrides {
    /// `AuthManager::from_env`'s builder with these settings on top.
    fn builder(self) -> PyResult<AuthManagerBuilder> {
        // An argument beats the environment: with a token file given here and no token, the
        // environment's token variables are not read, or they would override the file.
        let hide_env_token = self.token_file.is_some() && self.token.is_none();
        let mut builder = AuthManagerBuilder::from_env_lookup(move |name| {
            if hide_env_token && (name == JWT_ENV_VAR || name == JWT_ENV_VAR_COMPAT) {
                return None;
            }
            std::env::var(name).ok()
        });
        if let Some(home) = self.home {
            builder = builder.home(home);
        }
        if let Some(url) = self.jwks_url {
            builder = builder.jwks_url(url);
        }
        if let Some(file) = self.jwks_file {
            builder = builder.jwks_file(file);
        }
        if let Some(url) = self.authapi_base_url {
            builder = builder.authapi_base_url(url);
        }
        if let Some(issuer) = self.issuer {
            builder = builder.issuer(issuer);
        }
        if let Some(audience) = self.audience {
            builder = builder.audience(audience);
        }
        if let Some(token) = self.token {
            builder = builder.token(token);
        }
        if let Some(file) = self.token_file {
            builder = builder.token_file(file);
        }
        if let Some(leeway) = self.leeway {
            let leeway = Duration::try_from_secs_f64(leeway).map_err(|_| {
                errors::to_py(&AuthError::Config {
                    setting: "leeway",
                    reason: "a number of seconds, zero or more".to_owned(),
                })
            })?;
            builder = builder.leeway(leeway);
        }
        if let Some(attempts) = self.max_registration_attempts {
            builder = builder.max_registration_attempts(attempts);
        }
        Ok(builder)
    }
}

/// The agent identity of this process: verified, with a registered task, signing requests.
#[pyclass(frozen, module = "agent_identity_sdk")]
pub(crate) struct Identity {
    manager: AuthManager,
    birth: Birth,
}

impl Identity {
    fn manager(&self) -> PyResult<&AuthManager> {
        self.birth.check("Identity")?;
        Ok(&self.manager)
    }
}

/// A constructed identity has a task: a manager that did not get to `Ready` (nothing stored,
/// a rejected token, the AuthAPI unreachable) is refused with the reason.
fn loaded(manager: &AuthManager) -> PyResult<()> {
    manager.auth().map(drop).map_err(|e| errors::to_py(&e))
}

fn new_identity(py: Python<'_>, manager: AuthManager) -> PyResult<Py<PyAny>> {
    Ok(Py::new(
        py,
        Identity {
            manager,
            birth: Birth::here(),
        },
    )?
    .into_any())
}

#[allow(clippy::too_many_arguments)]
fn overrides(
    home: Option<String>,
    jwks_url: Option<String>,
    jwks_file: Option<String>,
    authapi_base_url: Option<String>,
    issuer: Option<String>,
    audience: Option<String>,
    token: Option<String>,
    token_file: Option<String>,
    leeway: Option<f64>,
    max_registration_attempts: Option<u32>,
) -> Overrides {
    Overrides {
        home,
        jwks_url,
        jwks_file,
        authapi_base_url,
        issuer,
        audience,
        token,
        token_file,
        leeway,
        max_registration_attempts,
    }
}

#[pymethods]
impl Identity {
    /// Sets up the identity as the CLI would, from the environment, and loads it eagerly.
    #[classmethod]
    #[pyo3(signature = (*, home=None, jwks_url=None, jwks_file=None, authapi_base_url=None,
        issuer=None, audience=None, token=None, token_file=None, leeway=None,
        max_registration_attempts=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_env(
        _cls: &Bound<'_, pyo3::types::PyType>,
        py: Python<'_>,
        home: Option<String>,
        jwks_url: Option<String>,
        jwks_file: Option<String>,
        authapi_base_url: Option<String>,
        issuer: Option<String>,
        audience: Option<String>,
        token: Option<String>,
        token_file: Option<String>,
        leeway: Option<f64>,
        max_registration_attempts: Option<u32>,
    ) -> PyResult<Py<PyAny>> {
        let builder = overrides(
            home,
            jwks_url,
            jwks_file,
            authapi_base_url,
            issuer,
            audience,
            token,
            token_file,
            leeway,
            max_registration_attempts,
        )
        .builder()?;
        let manager = runtime::block_on(py, builder.build())?.map_err(|e| errors::to_py(&e))?;
        loaded(&manager)?;
        new_identity(py, manager)
    }

    /// `from_env` for asyncio code.
    #[classmethod]
    #[pyo3(signature = (*, home=None, jwks_url=None, jwks_file=None, authapi_base_url=None,
        issuer=None, audience=None, token=None, token_file=None, leeway=None,
        max_registration_attempts=None))]
    #[allow(clippy::too_many_arguments)]
    fn from_env_async<'py>(
        _cls: &Bound<'py, pyo3::types::PyType>,
        py: Python<'py>,
        home: Option<String>,
        jwks_url: Option<String>,
        jwks_file: Option<String>,
        authapi_base_url: Option<String>,
        issuer: Option<String>,
        audience: Option<String>,
        token: Option<String>,
        token_file: Option<String>,
        leeway: Option<f64>,
        max_registration_attempts: Option<u32>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let builder = overrides(
            home,
            jwks_url,
            jwks_file,
            authapi_base_url,
            issuer,
            audience,
            token,
            token_file,
            leeway,
            max_registration_attempts,
        )
        .builder()?;
        aio::awaitable(
            py,
            async move {
                let manager = builder.build().await?;
                manager.auth()?;
                Ok(manager)
            },
            new_identity,
        )
    }

    /// Fresh request headers: a new `AgentAssertion` for the current task.
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let manager = self.manager()?;
        headers_dict(py, manager)
    }

    /// What is loaded, read offline: no request is made.
    fn status(&self, py: Python<'_>) -> PyResult<IdentityStatus> {
        // Detached, as every call into the SDK: a worker thread logging (which takes the GIL)
        // while holding a lock this call needs must not wait on us.
        let manager = self.manager()?;
        let status = py.detach(|| manager.status());
        Ok(IdentityStatus::of(py, &status))
    }

    /// Re-reads the store and re-registers if the token changed; returns what it did.
    fn reload(&self, py: Python<'_>) -> PyResult<IdentityReload> {
        let manager = self.manager()?.clone();
        let outcome = runtime::block_on(py, async move { manager.reload().await })?;
        IdentityReload::of(py, outcome)
    }

    /// `reload` for asyncio code.
    fn reload_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let manager = self.manager()?.clone();
        aio::awaitable(
            py,
            async move { Ok(manager.reload().await) },
            |py, outcome| Ok(Py::new(py, IdentityReload::of(py, outcome)?)?.into_any()),
        )
    }

    /// After a 401 from a protected endpoint: registers a new task (once, however many callers
    /// ask together).
    fn recover_unauthorized(&self, py: Python<'_>) -> PyResult<()> {
        recover(py, self.manager()?)
    }

    /// `recover_unauthorized` for asyncio code.
    fn recover_unauthorized_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        recover_async(py, self.manager()?)
    }

    /// Why the identity is running on cached state, if it is.
    fn degraded(&self, py: Python<'_>) -> PyResult<Option<IdentityDegraded>> {
        let manager = self.manager()?;
        py.detach(|| manager.degraded())
            .map(|degraded| IdentityDegraded::of(py, degraded.since(), degraded.error()))
            .transpose()
    }

    /// A signer for `origins`, for the httpx and requests integrations: they ask it whether to
    /// sign a URL, so the origin rule lives in Rust only.
    fn _signer(&self, origins: Vec<String>) -> PyResult<OriginSigner> {
        let origins = agent_identity_sdk::Origins::new(origins).map_err(|e| errors::to_py(&e))?;
        Ok(OriginSigner {
            manager: self.manager()?.clone(),
            origins,
            birth: self.birth,
        })
    }

    /// An `httpx.Auth` (for `Client` and `AsyncClient`) signing requests to `origins` only.
    fn httpx_auth<'py>(
        &self,
        py: Python<'py>,
        origins: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        integration(py, "HttpxAuth", self._signer(origins)?)
    }

    /// A `requests` auth signing requests to `origins` only.
    fn requests_auth<'py>(
        &self,
        py: Python<'py>,
        origins: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        integration(py, "RequestsAuth", self._signer(origins)?)
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let status = py.detach(|| self.manager.status());
        format!("Identity(state={:?})", status.state().name())
    }
}

/// The Python integration class `name`, around `signer`.
fn integration<'py>(
    py: Python<'py>,
    name: &str,
    signer: OriginSigner,
) -> PyResult<Bound<'py, PyAny>> {
    py.import("agent_identity_sdk._integrations")?
        .getattr(name)?
        .call1((Py::new(py, signer)?,))
}

fn headers_dict<'py>(py: Python<'py>, manager: &AuthManager) -> PyResult<Bound<'py, PyDict>> {
    // Signing is short, but it is real work: other threads run meanwhile.
    let headers = py
        .detach(|| manager.auth().and_then(|auth| auth.headers()))
        .map_err(|e| errors::to_py(&e))?;
    let dict = PyDict::new(py);
    for (name, value) in headers.iter() {
        dict.set_item(name, value)?;
    }
    Ok(dict)
}

fn recover(py: Python<'_>, manager: &AuthManager) -> PyResult<()> {
    let manager = manager.clone();
    runtime::block_on(py, async move { manager.recover_unauthorized().await })?
        .map(drop)
        .map_err(|e| errors::to_py(&e))
}

fn recover_async<'py>(py: Python<'py>, manager: &AuthManager) -> PyResult<Bound<'py, PyAny>> {
    let manager = manager.clone();
    aio::awaitable(
        py,
        async move { manager.recover_unauthorized().await.map(drop) },
        |py, ()| Ok(py.None()),
    )
}

/// An identity and the origins it signs for: the Rust half of `httpx_auth` and `requests_auth`.
#[pyclass(frozen, module = "agent_identity_sdk")]
pub(crate) struct OriginSigner {
    manager: AuthManager,
    origins: agent_identity_sdk::Origins,
    birth: Birth,
}

impl OriginSigner {
    fn covers(&self, url: &str) -> bool {
        url::Url::parse(url).is_ok_and(|url| self.origins.covers(&url))
    }
}

#[pymethods]
impl OriginSigner {
    /// Fresh headers when `url` is one of the origins, else `None` (the request goes unsigned).
    fn headers_for<'py>(&self, py: Python<'py>, url: &str) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.birth.check("Identity")?;
        if !self.covers(url) {
            return Ok(None);
        }
        headers_dict(py, &self.manager).map(Some)
    }

    /// Whether a 401 from `url` calls for a recovery: only one of the origins can cause it.
    fn recovers_for(&self, url: &str) -> bool {
        self.covers(url)
    }

    fn recover_unauthorized(&self, py: Python<'_>) -> PyResult<()> {
        self.birth.check("Identity")?;
        recover(py, &self.manager)
    }

    fn recover_unauthorized_async<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        self.birth.check("Identity")?;
        recover_async(py, &self.manager)
    }

    fn __repr__(&self) -> String {
        format!("OriginSigner({:?})", self.origins)
    }
}
