//! `agent_identity_sdk.testing.Emulator`: the Rust emulator, run in-process on the extension's
//! runtime, for users' own tests (and ours).

use std::sync::Mutex;
use std::time::Duration;

use agent_identity_flight::lock;
use agent_identity_sdk::SigningAlgorithm;
use agent_identity_sdk::emulator::{Emulator as RustEmulator, MintedIdentity};
use agent_identity_sdk::manager::{
    AUDIENCE_ENV_VAR, HOME_ENV_VAR, ISSUER_ENV_VAR, JWKS_URL_ENV_VAR, JWT_ENV_VAR,
};
use agent_identity_sdk::task::AUTHAPI_BASE_URL_ENV_VARS;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors;
use crate::runtime::{self, Birth};

/// A local AgentIdentity backend: JWKS, task registration and a protected `/echo` endpoint on a
/// free loopback port, with fault knobs and counters. A context manager; `close()` stops it.
#[pyclass(frozen, module = "agent_identity_sdk.testing", name = "Emulator")]
pub(crate) struct Emulator {
    inner: Mutex<Option<RustEmulator>>,
    birth: Birth,
}

impl Emulator {
    fn with<T>(&self, call: impl FnOnce(&RustEmulator) -> T) -> PyResult<T> {
        self.birth.check("Emulator")?;
        let inner = lock(&self.inner);
        match inner.as_ref() {
            Some(emulator) => Ok(call(emulator)),
            None => Err(errors::new_error(
                "emulator_closed",
                false,
                "the emulator was closed",
            )),
        }
    }
}

#[pymethods]
impl Emulator {
    /// Starts an emulator on `127.0.0.1` and a free port. Its tokens are signed with RS256, as
    /// ChatGPT's are, so an identity with default settings accepts them.
    #[new]
    fn new(py: Python<'_>) -> PyResult<Self> {
        let start = RustEmulator::builder()
            .algorithm(SigningAlgorithm::Rs256)
            .start();
        let emulator = runtime::block_on(py, start)?.map_err(|error| {
            errors::new_error(
                "emulator",
                false,
                &format!("cannot start the emulator: {error}"),
            )
        })?;
        Ok(Self {
            inner: Mutex::new(Some(emulator)),
            birth: Birth::here(),
        })
    }

    /// Stops the server, letting requests in flight finish. Closing twice is harmless.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.birth.check("Emulator")?;
        let emulator = lock(&self.inner).take();
        if let Some(emulator) = emulator {
            runtime::block_on(py, emulator.shutdown())?;
        }
        Ok(())
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, py: Python<'_>, _exc: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.close(py)?;
        Ok(false)
    }

    /// `http://127.0.0.1:PORT`.
    #[getter]
    fn base_url(&self) -> PyResult<String> {
        self.with(|emulator| trimmed(emulator.base_url()))
    }

    /// The JWK Set URL.
    #[getter]
    fn jwks_url(&self) -> PyResult<String> {
        self.with(|emulator| emulator.jwks_url().to_string())
    }

    /// The AuthAPI base URL.
    #[getter]
    fn authapi_base_url(&self) -> PyResult<String> {
        self.with(|emulator| trimmed(emulator.authapi_base_url()))
    }

    /// The protected endpoint: 200 for a valid assertion, 401 otherwise.
    #[getter]
    fn echo_url(&self) -> PyResult<String> {
        self.with(|emulator| emulator.echo_url().to_string())
    }

    /// Mints an agent identity token signed by the emulator's key.
    #[pyo3(signature = (*, account_id=None, runtime_id=None, plan_type=None, fedramp=None,
        lifetime=None))]
    fn mint(
        &self,
        account_id: Option<String>,
        runtime_id: Option<String>,
        plan_type: Option<String>,
        fedramp: Option<bool>,
        lifetime: Option<f64>,
    ) -> PyResult<Minted> {
        let lifetime = lifetime
            .map(|seconds| {
                Duration::try_from_secs_f64(seconds).map_err(|_| {
                    pyo3::exceptions::PyValueError::new_err("lifetime is a number of seconds")
                })
            })
            .transpose()?;
        let minted = self.with(|emulator| {
            let mut request = emulator.mint();
            if let Some(account_id) = account_id {
                request = request.account_id(account_id);
            }
            if let Some(runtime_id) = runtime_id {
                request = request.runtime_id(runtime_id);
            }
            if let Some(plan_type) = plan_type {
                request = request.plan_type(plan_type);
            }
            if let Some(fedramp) = fedramp {
                request = request.fedramp(fedramp);
            }
            if let Some(lifetime) = lifetime {
                request = request.lifetime(lifetime);
            }
            request.issue()
        })?;
        let minted = minted.map_err(|error| {
            errors::new_error("emulator", false, &format!("cannot mint: {error}"))
        })?;
        Ok(Minted { minted })
    }

    /// The variables that point `Identity.from_env()` at this emulator, with `home` as its home
    /// and `token` (a freshly minted one by default) as its identity.
    #[pyo3(signature = (home, token=None))]
    fn env<'py>(
        &self,
        py: Python<'py>,
        home: std::path::PathBuf,
        token: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let token = match token {
            Some(token) => token,
            None => self
                .mint(None, None, None, None, None)?
                .minted
                .token
                .expose_secret()
                .to_owned(),
        };
        let (jwks, authapi, issuer, audience) = self.with(|emulator| {
            (
                emulator.jwks_url().to_string(),
                trimmed(emulator.authapi_base_url()),
                emulator.issuer().to_owned(),
                emulator.audience().to_owned(),
            )
        })?;
        let env = PyDict::new(py);
        env.set_item(HOME_ENV_VAR, home.to_string_lossy())?;
        env.set_item(JWKS_URL_ENV_VAR, jwks)?;
        env.set_item(AUTHAPI_BASE_URL_ENV_VARS[0], authapi)?;
        env.set_item(ISSUER_ENV_VAR, issuer)?;
        env.set_item(AUDIENCE_ENV_VAR, audience)?;
        env.set_item(JWT_ENV_VAR, token)?;
        Ok(env)
    }

    /// The next `n` registrations are answered with `status`.
    #[pyo3(signature = (n, status=503))]
    fn fail_next_registrations(&self, n: u32, status: u16) -> PyResult<()> {
        self.with(|emulator| emulator.fail_next_registrations(n, status))
    }

    /// The next `n` key set requests are answered with `status`.
    #[pyo3(signature = (n, status=503))]
    fn fail_next_jwks(&self, n: u32, status: u16) -> PyResult<()> {
        self.with(|emulator| emulator.fail_next_jwks(n, status))
    }

    /// Delays every JWKS, registration and echo response by `seconds` (0 removes it).
    fn set_latency(&self, seconds: f64) -> PyResult<()> {
        let latency = Duration::try_from_secs_f64(seconds).map_err(|_| {
            pyo3::exceptions::PyValueError::new_err("latency is a number of seconds, zero or more")
        })?;
        self.with(|emulator| emulator.set_latency(latency))
    }

    /// The next `n` requests have their connection closed without a response.
    fn drop_next_connections(&self, n: u32) -> PyResult<()> {
        self.with(|emulator| emulator.drop_next_connections(n))
    }

    /// Revokes every task registered so far; returns how many.
    fn revoke_tasks(&self) -> PyResult<usize> {
        self.with(RustEmulator::revoke_tasks)
    }

    /// Publishes a new signing key; new tokens are signed with it. Returns its `kid`.
    fn rotate_signing_key(&self) -> PyResult<String> {
        self.with(RustEmulator::rotate_signing_key)
    }

    /// Key set requests served.
    #[getter]
    fn jwks_fetches(&self) -> PyResult<u64> {
        self.with(RustEmulator::jwks_fetches)
    }

    /// Task registrations accepted.
    #[getter]
    fn registrations(&self) -> PyResult<u64> {
        self.with(RustEmulator::registrations)
    }

    /// Requests to the protected endpoint that were accepted.
    #[getter]
    fn assertions_accepted(&self) -> PyResult<u64> {
        self.with(RustEmulator::assertions_accepted)
    }

    /// Requests to the protected endpoint that were refused.
    #[getter]
    fn assertions_rejected(&self) -> PyResult<u64> {
        self.with(RustEmulator::assertions_rejected)
    }

    fn __repr__(&self) -> String {
        self.with(|emulator| format!("Emulator({})", trimmed(emulator.base_url())))
            .unwrap_or_else(|_| "Emulator(closed)".to_owned())
    }
}

/// A URL without its trailing `/`, as base URLs are written in configuration.
fn trimmed(url: url::Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

/// A token the emulator minted. `repr` redacts the token.
#[pyclass(frozen, module = "agent_identity_sdk.testing")]
pub(crate) struct Minted {
    minted: MintedIdentity,
}

#[pymethods]
impl Minted {
    /// The signed agent identity JWT: a secret, like any identity token.
    #[getter]
    fn token(&self) -> &str {
        self.minted.token.expose_secret()
    }

    /// The runtime id the emulator recorded.
    #[getter]
    fn runtime_id(&self) -> &str {
        self.minted.runtime_id.as_str()
    }

    /// The `kid` in the token's header.
    #[getter]
    fn kid(&self) -> &str {
        &self.minted.kid
    }

    fn __repr__(&self) -> String {
        format!(
            "Minted(runtime_id={:?}, token=<redacted>)",
            self.minted.runtime_id.as_str()
        )
    }
}
