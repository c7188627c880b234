//! The environment variables xtask sets or reads, by name, in one place.

/// Set to `1` for shorter benchmark measurements (`cargo xtask bench --quick` sets it); read by
/// the bench support code in the `tests` package.
pub(crate) const BENCH_QUICK: &str = "AGENT_IDENTITY_BENCH_QUICK";

/// Set to `1` (as `.ci/run` does) to make a missing `dbus-run-session` or `gnome-keyring-daemon`
/// a failure instead of a skip.
pub(crate) const REQUIRE_SECRET_SERVICE: &str = "AGENT_IDENTITY_REQUIRE_SECRET_SERVICE";

/// Set to `1` for the keyring test run inside its own Secret Service; the ignored test refuses to
/// touch a keyring without it.
pub(crate) const SECRET_SERVICE_TEST: &str = "AGENT_IDENTITY_SECRET_SERVICE_TEST";

/// Set to `1` to make `cargo xtask msrv` fail, instead of skipping, when the MSRV toolchain is
/// missing and cannot be installed.
pub(crate) const REQUIRE_MSRV: &str = "AGENT_IDENTITY_REQUIRE_MSRV";

/// Cargo's own: where build output goes. Read so that xtask's side builds land beside the user's.
pub(crate) const CARGO_TARGET_DIR: &str = "CARGO_TARGET_DIR";
