//! The native half of the Python package `agent-identity-sdk` (import name
//! `agent_identity_sdk`): a thin pyo3 binding over the Rust SDK.
//!
//! Architecture invariant: no rule is written here or in the Python half that the SDK already
//! has (the origin rule, error classification, the environment's names and precedence), and no
//! secret is ever held in a Python object beyond the header `dict` a caller asked for. Every call
//! that may wait runs on the one runtime (the `runtime` module) with the GIL released.

mod aio;
mod errors;
mod identity;
mod logging;
mod reports;
mod runtime;
mod testing;

use pyo3::prelude::*;

/// The extension module, imported as `agent_identity_sdk._native`.
#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    logging::install();
    module.add_class::<identity::Identity>()?;
    module.add_class::<reports::IdentityStatus>()?;
    module.add_class::<reports::IdentityReload>()?;
    module.add_class::<reports::IdentityDegraded>()?;
    module.add_class::<identity::OriginSigner>()?;
    module.add_class::<testing::Emulator>()?;
    module.add_class::<testing::Minted>()?;
    Ok(())
}
