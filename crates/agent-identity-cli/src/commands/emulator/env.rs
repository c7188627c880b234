//! The variable `emulator --env` exports beside the configuration variables, for scripts.

/// The emulator's base URL (`http://127.0.0.1:PORT`), under which `/echo` and the admin
/// endpoints (`/_emulator/mint`, …) are.
pub(crate) const EMULATOR_URL_ENV_VAR: &str = "AGENT_IDENTITY_EMULATOR_URL";
