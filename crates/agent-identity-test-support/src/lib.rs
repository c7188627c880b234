//! Test helpers shared by the agent-identity suites, so that no suite keeps its own copy.
//!
//! - [`mod@vectors`]: the one vectors file, `test-data/agent-identity-vectors.json`, loaded once and typed.
//! - [`mint`]: identity tokens signed with the vectors' test-only RSA key (RS256, kid
//!   [`mint::KID`]), which the vectors' JWK Set trusts.
//! - [`clock`]: [`TestClock`], moved by hand, and [`FixedClock`], stopped.
//! - [`trace`]: [`capture_traces`], everything a test binary traces at TRACE, for secrets tests.
//! - [`net`]: [`refusing_port`], a loopback port nothing will ever answer on, and raw-TCP steps
//!   ([`net::exchange`], [`net::read_until_closed`], [`net::step`], …).
//! - [`fake`]: [`FakeService`], a JWKS and registration endpoint whose answers each test scripts,
//!   running on the test's own runtime (paused-clock tests rely on that).
//!
//! Never published, and only ever a dev-dependency of integration tests (`tests/it`) and of the
//! `tests` package. It depends on agent-identity-jwt (for `Clock` and `IdentityJwt`), so a unit
//! test inside that crate's `src` cannot use it: it would see a second copy of the crate's types.
//! agent-identity-jwt's own integration tests can, as cargo builds one copy of the library for
//! them and for this crate.

pub mod clock;
pub mod fake;
pub mod mint;
pub mod net;
pub mod trace;
pub mod vectors;

pub use clock::{FixedClock, TestClock};
pub use fake::{Answer, FakeService};
pub use net::refusing_port;
pub use trace::{Capture, capture_traces};
pub use vectors::vectors;

#[cfg(test)]
mod tests;
